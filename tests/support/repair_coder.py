"""A `command` coder that breaks the merged app's tests, then repairs them (or not).

It runs the template coder on each task of the notes example (so the app is the real
one); in mode break-and-fix or break-only, the smoke-tests task (found by its slug,
whatever its id in the plan) also appends a test that fails. A repair task
(PRAZIUM_TASK_JSON's role) first checks that the verification's output reached it in
its instructions (it exits non-zero if not), then removes that test (break-and-fix)
or only leaves a note (break-only: the verification fails again). Mode pass adds no
failing test: the run passes at once. failing_on(slug) fails one task outright.
"""

from __future__ import annotations

import shlex
from typing import Literal

from tests.support.plans import SMOKE_TESTS
from tests.support.sandbox_python import python_line

Mode = Literal["pass", "break-and-fix", "break-only"]
BROKEN_MARKER = "# prazium-test: broken on purpose"
BROKEN_TEST = (
    f"\n\n{BROKEN_MARKER} (a repair round removes it)\n"
    "import unittest as _unittest\n\n\n"
    "class DeliberatelyBroken(_unittest.TestCase):\n"
    "    def test_deliberately_broken(self) -> None:\n"
    '        self.assertEqual("repaired", "broken")\n'
)

_CODE = f"""
import json, os, pathlib, sys
mode = MODE
SMOKE_SLUG = {SMOKE_TESTS!r}
task = json.loads(os.environ['PRAZIUM_TASK_JSON'])
smoke = pathlib.Path('tests/test_smoke.py')
if task.get('role') == 'repair':
    if 'test_deliberately_broken' not in task['instructions']:
        sys.exit('the repair task was not given the verification output')
    if mode == 'break-and-fix':
        smoke.write_text(smoke.read_text().split({BROKEN_MARKER!r})[0])
    else:
        notes = pathlib.Path('repair-notes')
        notes.mkdir(exist_ok=True)
        (notes / (task['slug'] + '.txt')).write_text('looked, fixed nothing')
    sys.exit(0)
from prazium_operator.agents import get_coder
docs = {{p.name: p.read_text() for p in pathlib.Path('docs/spec').glob('*.md')}}
get_coder('template').code(task, docs, pathlib.Path('.'))
if task['slug'] == SMOKE_SLUG and mode != 'pass':
    with smoke.open('a') as out:
        out.write({BROKEN_TEST!r})
"""


def coder(mode: Mode) -> str:
    """The command line (agent.command) for mode."""
    return python_line(_CODE.replace("MODE", repr(mode), 1))


def failing_on(slug: str) -> str:
    """The command line of a coder that fails the task with that slug (exit 3) and codes
    every other task as mode pass does."""
    return f'[ "$PRAZIUM_TASK_SLUG" = {shlex.quote(slug)} ] && exit 3; {coder("pass")}'

"""Keeping the worker's credentials from the commands the loop runs.

Once the provider's SDK client holds the API key, the key leaves the process's
environment (so no command's environment is built from it), and the worker becomes
non-dumpable (prctl PR_SET_DUMPABLE 0): /proc/<worker>/environ, /proc/<worker>/mem and
ptrace are then closed to processes of the same uid, which is what a command in a
worker Pod is (locally it runs under a uid of its own and could not read them anyway).
The flag is the process's own: children start dumpable again at exec, forks keep it
(so the search helper, forked afterwards, is closed too: agents/loop/search.py).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable, MutableMapping

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3
# Every LLM key a worker may hold (the credentials Secret may carry both providers').
PROVIDER_KEY_ENVS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")


def drop_keys(
    names: Iterable[str] = PROVIDER_KEY_ENVS, environ: MutableMapping[str, str] | None = None
) -> list[str]:
    """Remove the named variables from the environment; the names that were there."""
    env = os.environ if environ is None else environ
    dropped = [name for name in names if name in env]
    for name in dropped:
        del env[name]
    return dropped


def _prctl(option: int, value: int) -> int:
    # The process's own symbols (libc's among them): find_library would start ldconfig.
    libc = ctypes.CDLL(None, use_errno=True)
    result = int(libc.prctl(option, value, 0, 0, 0))
    if result < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return result


def make_undumpable() -> None:
    """No same-uid process may read this process's environment or memory from now on."""
    _prctl(PR_SET_DUMPABLE, 0)


def is_dumpable() -> bool:
    return _prctl(PR_GET_DUMPABLE, 0) != 0

"""The shell blocks of the documents a newcomer follows (the README and the getting-started
pages), in order, as tests/integration/test_docs_blocks.py runs them.

A block is a fenced ```bash block. One that cannot run against the test stack (it would
start a second stack, stop one, or needs Docker) is preceded by a comment saying why:

    <!-- not-executed: make up would start a second stack -->
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The documents whose blocks run, in the order a reader follows them; each group runs
# in one shell from a clean state (a later block sees an earlier one's variables).
EXECUTED_DOCUMENTS: dict[str, tuple[str, ...]] = {
    "readme": ("README.md",),
    "getting-started": ("docs/getting-started/index.md", "docs/getting-started/first-build.md"),
}
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "zsh"}
_FENCE = re.compile(r"^```(\S*)\s*$")
_NOT_EXECUTED = re.compile(r"^<!--\s*not-executed:\s*(?P<reason>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    path: str
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    not_executed: str | None  # the reason given, when marked


def blocks(path: str) -> list[Block]:
    """Every fenced block of the file with a shell language, in order."""
    lines = (ROOT / path).read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        start, language = index, fence.group(1)
        end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
        if language in SHELL_LANGUAGES:
            previous = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
            marked = _NOT_EXECUTED.match(previous)
            found.append(
                Block(
                    path=path,
                    line=start + 1,
                    language=language,
                    code="\n".join(lines[start + 1 : end]),
                    not_executed=marked.group("reason") if marked else None,
                )
            )
        index = end + 1
    return found


def script(paths: tuple[str, ...], substitutions: dict[str, str]) -> str:
    """One bash script of the executed blocks of paths, in order, each announced on
    stderr (so a failure names its block), with substitutions applied to their text."""
    parts = ["set -euo pipefail"]
    for path in paths:
        for block in blocks(path):
            if block.not_executed is not None:
                continue
            code = block.code
            for old, new in substitutions.items():
                code = code.replace(old, new)
            parts.append(f"echo '@@ {block.path}:{block.line}' >&2")
            parts.append(code)
    parts.append("echo '@@ done' >&2")
    return "\n".join(parts) + "\n"

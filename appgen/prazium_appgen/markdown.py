"""Minimal markdown table reading and writing shared by DATA.md and ROUTES.md."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def render_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("-" * (len(cell) + 2) for cell in header) + "|",
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines) + "\n"


def split_row(line: str) -> list[str] | None:
    """Cells of a ``| a | b |`` line (code backticks stripped), or None for other lines."""
    stripped = line.strip()
    if not stripped.startswith("|"):
        return None
    body = stripped[1:-1] if stripped.endswith("|") and len(stripped) > 1 else stripped[1:]
    return [cell.strip().strip("`").strip() for cell in body.split("|")]


def is_separator(cells: Sequence[str]) -> bool:
    """True for the ``|---|:---:|`` line under a table header."""
    return bool(cells) and all(cell and set(cell) <= set("-: ") for cell in cells)

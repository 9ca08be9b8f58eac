"""Printing results: rich tables for people, one stable document for programs.

--output json (or yaml) prints exactly one document on stdout: {"data": ...} (with
"pagination" when the API pages) on success, {"error": {code, message, details}}
on failure. Streaming commands (run watch, run logs --follow) print one JSON
object per line instead (yaml: one YAML document per record, each opened by
"---"). Nothing else is written to stdout in those modes. --output wide is text
with more columns.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

import yaml
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from prazium_cli.errors import CliError


class Format(enum.StrEnum):
    text = "text"
    wide = "wide"
    json = "json"
    yaml = "yaml"

    @property
    def is_data(self) -> bool:
        """A document for programs (json, yaml), not text for people."""
        return self in (Format.json, Format.yaml)


def _width() -> int | None:
    """Piped output is not cut to 80 columns (ids and names stay whole for grep);
    a terminal or $COLUMNS decides otherwise."""
    return None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200


console = Console(highlight=False, soft_wrap=False, width=_width())
err_console = Console(stderr=True, highlight=False)

STATUS_STYLE = {
    "succeeded": "green",
    "built": "green",
    "approved": "green",
    "completed": "green",
    "live": "green",
    "healthy": "green",
    "failed": "red",
    "unhealthy": "red",
    "cancelled": "yellow",
    "stopped": "yellow",
    "archived": "dim",
    "running": "cyan",
    "executing": "cyan",
    "merging": "cyan",
    "verifying": "cyan",
    "decomposing": "cyan",
    "building": "cyan",
    "processing": "cyan",
    "deploying": "cyan",
    "queued": "blue",
    "pending": "blue",
    "spec_review": "magenta",
    "clarifying": "magenta",
    "draft": "white",
}


def styled(status: object) -> str:
    text = str(status) if status is not None else "-"
    style = STATUS_STYLE.get(text)
    return f"[{style}]{text}[/]" if style else text


class _YamlDumper(yaml.SafeDumper):
    """Multi-line strings (spec documents, logs) as literal blocks, readable as they are."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_YamlDumper.add_representer(str, _str_representer)


def to_yaml(value: Any, start: bool = False) -> str:
    return yaml.dump(
        value,
        Dumper=_YamlDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        explicit_start=start,
    )


def write_document(fmt: Format, value: Any) -> None:
    """One whole document on stdout: indented JSON or YAML."""
    if fmt is Format.yaml:
        sys.stdout.write(to_yaml(value))
    else:
        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def write_record(fmt: Format, value: Any) -> None:
    """One record of a stream: a JSON line, or a YAML document opened by ---."""
    if fmt is Format.yaml:
        sys.stdout.write(to_yaml(value, start=True))
    else:
        sys.stdout.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def emit(fmt: Format, body: dict[str, Any], text: Any = None) -> None:
    """body: {"data": ..., "pagination"?: ...}; text: what people see (a Listing,
    a rich renderable, a string, or a list of them printed one after the other),
    or None for the data pretty-printed."""
    if fmt.is_data:
        write_document(fmt, {k: v for k, v in body.items() if k in ("data", "pagination")})
        return
    if text is None:
        console.print_json(json.dumps(body.get("data")))
        return
    for part in text if isinstance(text, list) else [text]:
        if isinstance(part, Listing):
            part.print()
        else:
            console.print(part)


def fail(fmt: Format, error: CliError) -> None:
    if fmt.is_data:
        write_document(fmt, error.envelope())
    else:
        err_console.print(f"[red]error[/]: {error.code}: {escape(error.message)}")
        if error.code == "UNAUTHORIZED" and "prazium login" not in error.message:
            err_console.print("  log in again: `prazium login`")
        fields = error.details.get("fields") if isinstance(error.details, dict) else None
        for field in fields or []:
            if isinstance(field, dict):
                err_console.print(f"  {field.get('field')}: {field.get('message')}")


# --- tables ---------------------------------------------------------------------------

GAP = 2  # the space between two columns (padding 1 on each side, none at the edges)


@dataclass(frozen=True)
class Column:
    """header; whole: never wrapped or cut (ids); wide: only with -o wide; drop: when
    the terminal is too narrow, columns with the highest drop go first (0: never);
    least: the narrowest a wrapped column is worth showing at (a description one
    word wide is left out instead)."""

    header: str
    whole: bool = False
    wide: bool = False
    drop: int = 0
    least: int = 0


def allocate(ranges: list[tuple[int, int]], available: int) -> list[int] | None:
    """Widths for columns of (minimum, maximum) widths within `available` cells
    (gaps excluded), or None if the minimums do not fit. Each column gets its
    minimum, then what is left goes to the columns lacking least first, so short
    cells stay on one line and only the longest ones wrap (max-min fairness)."""
    widths = [low for low, _ in ranges]
    spare = available - sum(widths)
    if spare < 0:
        return None
    lacking = sorted(
        (i for i, (low, high) in enumerate(ranges) if high > low),
        key=lambda i: ranges[i][1] - ranges[i][0],
    )
    while lacking and spare > 0:
        share = spare // len(lacking)
        first = lacking[0]
        need = ranges[first][1] - widths[first]
        if need <= share:  # the smallest need is met whole
            widths[first] += need
            spare -= need
            lacking.pop(0)
            continue
        for position, i in enumerate(lacking):  # the rest share what is left evenly
            widths[i] += share + (1 if position < spare - share * len(lacking) else 0)
        break
    return widths


def visible(columns: list[Column], ranges: list[tuple[int, int]], width: int) -> list[int]:
    """The indexes of the columns shown within `width`: the droppable ones dropped,
    highest `drop` first, until the minimums fit (or none is left to drop)."""
    shown = list(range(len(columns)))
    while True:
        needed = sum(ranges[i][0] for i in shown) + GAP * (len(shown) - 1)
        droppable = [i for i in shown if columns[i].drop]
        if needed <= width or not droppable:
            return shown
        shown.remove(max(droppable, key=lambda i: (columns[i].drop, i)))


class Listing:
    """A table that never cuts an id: its columns get widths from their cells
    (ids whole, other cells wrapped at spaces, never below their longest word);
    when the terminal is too narrow, less important columns are left out, and
    when even that is not enough, lines are longer than the terminal rather
    than ids shortened."""

    def __init__(self, fmt: Format, *columns: Column | str) -> None:
        wide = fmt is Format.wide
        every = [c if isinstance(c, Column) else Column(c) for c in columns]
        self.picked = [i for i, c in enumerate(every) if wide or not c.wide]
        self.columns = [every[i] for i in self.picked]
        self.rows: list[list[str]] = []

    def add_row(self, *cells: object) -> None:
        values = ["-" if cell is None else str(cell) for cell in cells]
        self.rows.append([values[i] for i in self.picked])

    def table(self, width: int) -> Table:
        texts = [[console.render_str(cell) for cell in row] for row in self.rows]
        ranges = [
            _range(column, [Text(column.header), *(row[i] for row in texts)])
            for i, column in enumerate(self.columns)
        ]
        shown = visible(self.columns, ranges, width)
        kept = [ranges[i] for i in shown]
        widths = allocate(kept, width - GAP * (len(shown) - 1)) or [low for low, _ in kept]
        result = Table(box=None, pad_edge=False, show_edge=False)
        for i, cell_width in zip(shown, widths, strict=True):
            column = self.columns[i]
            result.add_column(column.header, width=cell_width, no_wrap=column.whole)
        for row in texts:
            result.add_row(*(row[i] for i in shown))
        result.width = sum(widths) + GAP * (len(shown) - 1)
        return result

    def print(self) -> None:
        console.print(self.table(console.width), crop=False)


def _range(column: Column, cells: list[Text]) -> tuple[int, int]:
    longest = max(cell.cell_len for cell in cells)
    if column.whole:
        return longest, longest
    word = max((cell_len(w) for cell in cells for w in cell.plain.split()), default=1)
    return max(word, 1, min(column.least, longest)), longest


def pagination_note(pagination: dict[str, Any] | None) -> str:
    if not pagination:
        return ""
    page, pages = pagination.get("page"), pagination.get("totalPages")
    return f"[dim]page {page} of {pages}, {pagination.get('total')} in all[/]"

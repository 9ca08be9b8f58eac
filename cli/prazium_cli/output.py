"""Printing results: rich tables for people, one stable JSON document for programs.

--output json prints exactly one JSON document on stdout: {"data": ...} (with
"pagination" when the API pages) on success, {"error": {code, message, details}}
on failure. Streaming commands (run watch, run logs --follow) print one JSON
object per line instead. Nothing else is written to stdout in that mode.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from prazium_cli.errors import CliError


class Format(enum.StrEnum):
    text = "text"
    json = "json"


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
    "failed": "red",
    "cancelled": "yellow",
    "archived": "dim",
    "running": "cyan",
    "executing": "cyan",
    "merging": "cyan",
    "verifying": "cyan",
    "decomposing": "cyan",
    "building": "cyan",
    "processing": "cyan",
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


def write_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def write_json_line(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def emit(fmt: Format, body: dict[str, Any], text: Any = None) -> None:
    """body: {"data": ..., "pagination"?: ...}; text: what people see (a rich
    renderable, a string), or None for the data pretty-printed."""
    if fmt is Format.json:
        write_json({k: v for k, v in body.items() if k in ("data", "pagination")})
        return
    if text is None:
        console.print_json(json.dumps(body.get("data")))
    else:
        console.print(text)


def fail(fmt: Format, error: CliError) -> None:
    if fmt is Format.json:
        write_json(error.envelope())
    else:
        err_console.print(f"[red]error[/]: {error.code}: {error.message}", markup=True)
        fields = error.details.get("fields") if isinstance(error.details, dict) else None
        for field in fields or []:
            if isinstance(field, dict):
                err_console.print(f"  {field.get('field')}: {field.get('message')}")


def table(*columns: str, title: str | None = None) -> Table:
    result = Table(*columns, title=title, title_justify="left", box=None, pad_edge=False)
    return result


def pagination_note(pagination: dict[str, Any] | None) -> str:
    if not pagination:
        return ""
    page, pages = pagination.get("page"), pagination.get("totalPages")
    return f"[dim]page {page} of {pages}, {pagination.get('total')} in all[/]"

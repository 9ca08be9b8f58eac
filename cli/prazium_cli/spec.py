"""`prazium spec show`: the project's spec, its Markdown documents rendered in the
terminal (or raw, for a pager or a file)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.markdown import Markdown
from rich.markup import escape
from rich.rule import Rule

from prazium_cli import targets
from prazium_cli.common import ConfigPath, Output, Project, api, handling
from prazium_cli.errors import CliError
from prazium_cli.output import Format, console, emit

app = typer.Typer(help="Read the project's spec.", no_args_is_help=True)
# The order a person reads them in; any other document follows, by name.
READING_ORDER = ("SPEC.md", "DATA.md", "ROUTES.md", "ACCEPTANCE.md")


def ordered(documents: dict[str, str]) -> list[str]:
    known = [name for name in READING_ORDER if name in documents]
    return known + sorted(name for name in documents if name not in READING_ORDER)


def pick(documents: dict[str, str], wanted: str) -> str:
    """The document named `wanted`: exactly, else ignoring case and the .md suffix
    (spec, SPEC, spec.md all name SPEC.md)."""
    if wanted in documents:
        return wanted

    def key(name: str) -> str:
        return name.lower().removesuffix(".md")

    for name in documents:
        if key(name) == key(wanted):
            return name
    raise CliError(
        "NOT_FOUND",
        f"the spec has no document {wanted!r}; its documents: {', '.join(ordered(documents))}",
        {"document": wanted, "documents": ordered(documents)},
    )


@app.command("show")
def show(
    project: Project = None,
    doc: Annotated[
        str | None,
        typer.Option("--doc", "-d", help="only this document (SPEC.md, or spec, data, ...)"),
    ] = None,
    raw: Annotated[bool, typer.Option("--raw", help="the Markdown as it is, not rendered")] = False,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Show the spec's documents, rendered as Markdown (--raw: as they are).

    SPEC.md, DATA.md, ROUTES.md, ACCEPTANCE.md in that order, or one with --doc.
    --raw prints one document exactly as it is, several each after a
    `==> NAME <==` line."""
    with handling(output), api(config) as client:
        project_id = targets.project(client, project)
        found = client.data("GET", f"/projects/{project_id}")
        spec = found.get("spec") or {}
        documents: dict[str, str] = spec.get("documents") or {}
        if not documents:
            raise CliError(
                "NOT_FOUND",
                f"project {project_id} has no spec yet (status {found.get('status')});"
                f" answer its questions first: `prazium answer {project_id}`",
                {"projectId": project_id, "status": found.get("status")},
            )
        names = [pick(documents, doc)] if doc else ordered(documents)
        data: dict[str, Any] = {
            "projectId": project_id,
            "version": spec.get("version"),
            "approvedAt": spec.get("approvedAt"),
            "documents": {name: documents[name] for name in names},
        }
        if output.is_data:
            emit(output, {"data": data})
        elif raw:
            _print_raw(names, documents)
        else:
            _print_rendered(data, names, documents)


def _print_raw(names: list[str], documents: dict[str, str]) -> None:
    for i, name in enumerate(names):
        if len(names) > 1:
            sys.stdout.write(("\n" if i else "") + f"==> {name} <==\n")
        sys.stdout.write(documents[name])
        if len(names) > 1 and not documents[name].endswith("\n"):
            sys.stdout.write("\n")
    sys.stdout.flush()


def _print_rendered(data: dict[str, Any], names: list[str], documents: dict[str, str]) -> None:
    approved = data.get("approvedAt")
    console.print(
        f"[bold]spec v{data.get('version')}[/] of {data['projectId']}"
        + (f" (approved {approved})" if approved else " [magenta](not approved)[/]")
    )
    for name in names:
        console.print(Rule(escape(name), align="left"))
        console.print(Markdown(documents[name]))

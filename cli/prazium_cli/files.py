"""`prazium files list|cat` and `prazium export`: the project's code, read-only."""

import base64
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from prazium_cli import targets
from prazium_cli.common import ConfigPath, Output, Project, api, handling
from prazium_cli.errors import CliError
from prazium_cli.output import (
    Column,
    Format,
    Listing,
    console,
    emit,
    err_console,
    styled,
    write_document,
)

app = typer.Typer(help="Browse the project's repository (read-only).", no_args_is_help=True)
Ref = Annotated[str | None, typer.Option(help="branch or tag (default: main)")]


@app.command("list")
def list_files(
    project: Project = None,
    path: Annotated[
        str | None,
        typer.Argument(metavar="PATH", help="a directory (default: /)", show_default=False),
    ] = None,
    ref: Ref = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """List a directory of the project's repository."""
    with handling(output), api(config) as client:
        given = targets.place([project, path], ("project", "path"))
        project_id = targets.project(client, given["project"])
        params = {"path": given["path"] or "/", **({"ref": ref} if ref else {})}
        body = client.call("GET", f"/projects/{project_id}/files", params=params)
        rows = Listing(output, Column("NAME", whole=True), "TYPE", "SIZE")
        for entry in body["data"].get("entries") or []:
            name = str(entry.get("name")) + ("/" if entry.get("type") == "directory" else "")
            rows.add_row(escape(name), entry.get("type"), entry.get("size", ""))
        emit(output, body, rows)


@app.command("cat")
def cat_file(
    project: Project = None,
    path: Annotated[
        str | None,
        typer.Argument(
            metavar="PATH", help="a file's path, e.g. app/__main__.py", show_default=False
        ),
    ] = None,
    ref: Ref = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Print a file of the project's repository (bytes as they are)."""
    with handling(output), api(config) as client:
        given = targets.place([project, path], ("project", "path"))
        if not given["path"]:
            raise CliError("VALIDATION_ERROR", "which file? give its path, e.g. README.md")
        project_id = targets.project(client, given["project"])
        body = client.call(
            "GET",
            f"/projects/{project_id}/files/{given['path'].lstrip('/')}",
            params={"ref": ref} if ref else {},
        )
        if output.is_data:
            emit(output, body)
            return
        data = body["data"]
        content = str(data.get("content") or "")
        raw = base64.b64decode(content) if data.get("encoding") == "base64" else content.encode()
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()


def _filename(disposition: str | None, fallback: str) -> str:
    match = re.search(r'filename="?([^";]+)"?', disposition or "")
    name = Path(match.group(1)).name if match else ""
    return name or fallback


def export(
    project: Project = None,
    run: Annotated[
        str | None,
        typer.Argument(
            metavar="RUN", help="run id (default: the latest succeeded run)", show_default=False
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="zip or tar.gz")] = "zip",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="file or directory to write (default: the archive's name here)"),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="wait for the archive and download it")
    ] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the archive")] = 300,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Export a run's code as an archive: create it, wait for it, download it."""
    with handling(output), api(config) as client:
        given = targets.place([project, run], ("project", "run"))
        project_id = targets.project(client, given["project"])
        run_id = targets.run(client, project_id, given["run"], "succeeded")
        created = client.data(
            "POST", f"/projects/{project_id}/export", json={"runId": run_id, "format": fmt}
        )
        export_id = str(created["id"])
        status: dict[str, Any] = created
        deadline = time.monotonic() + timeout
        while wait and status.get("status") == "processing":
            if time.monotonic() > deadline:
                raise CliError(
                    "TIMEOUT",
                    f"export {export_id} still processing after {timeout:g} s",
                    {"exportId": export_id},
                    exit_code=1,
                )
            time.sleep(0.5)
            status = client.data("GET", f"/projects/{project_id}/exports/{export_id}")
        if status.get("status") == "failed":
            raise CliError("EXPORT_FAILED", f"export {export_id} failed", {"export": status}, 1)
        if not wait:
            emit(output, {"data": status}, f"export {export_id} {styled(status.get('status'))}")
            return
        target = out or Path.cwd()
        with client.stream(str(status["downloadUrl"])) as response:
            if target.is_dir():
                name = _filename(response.headers.get("content-disposition"), f"{export_id}.{fmt}")
                target = target / name
            with target.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        result = {**status, "file": str(target), "bytes": target.stat().st_size}
        if output.is_data:
            write_document(output, {"data": result})
        else:
            console.print(f"wrote {escape(str(target))} ({result['bytes']} bytes)")
            err_console.print(f"[dim]export {export_id} of {run_id}[/]")

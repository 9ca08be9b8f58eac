"""`prazium version`: the client's version and, when the API can be reached, the
server's (GET /v1/health, which answers without a key)."""

from __future__ import annotations

import platform
from typing import Annotated, Any

import typer
from rich.markup import escape

from prazium_cli import __version__
from prazium_cli.client import Api
from prazium_cli.common import ConfigPath, Output, handling, load_config
from prazium_cli.errors import CliError
from prazium_cli.output import Format, emit, err_console, styled


def server_version(client: Api) -> dict[str, Any]:
    """{apiUrl, version, status} from /v1/health; an unhealthy API (503) still says
    its version."""
    response = client.send("GET", "/health")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "version" not in body:
        raise CliError(
            "INTERNAL_ERROR",
            f"{client.base}/v1/health answered HTTP {response.status_code} without a version",
            {"status": response.status_code},
        )
    return {"apiUrl": client.base, "version": body.get("version"), "status": body.get("status")}


def version(
    client_only: Annotated[
        bool, typer.Option("--client", help="only the client's version (no request)")
    ] = False,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """The client's version, and the server's when it can be reached.

    Exit 0 either way: an unreachable server is said on stderr (null with -o json)."""
    with handling(output):
        data: dict[str, Any] = {
            "client": {"version": __version__, "python": platform.python_version()},
            "server": None,
        }
        lines = [f"client  {__version__} (Python {platform.python_version()})"]
        loaded = None
        if not client_only:
            try:
                loaded = load_config(config)
            except CliError as error:  # the client's version is still worth printing
                if not output.is_data:
                    err_console.print(f"[yellow]server[/]: {escape(error.message)}")
                data["serverError"] = error.envelope()["error"]
        if loaded is not None and loaded.api_url:
            try:
                with Api(loaded, timeout=10, need_key=False) as client:
                    data["server"] = server_version(client)
            except CliError as error:
                if not output.is_data:
                    err_console.print(f"[yellow]server[/]: {error.code}: {escape(error.message)}")
                data["serverError"] = error.envelope()["error"]
        server = data["server"]
        if server:
            lines.append(
                f"server  {server['version']} at {escape(server['apiUrl'])}"
                f" ({styled(server['status'])})"
            )
        elif loaded is not None and not loaded.api_url and not output.is_data:
            err_console.print("[dim]server: no API URL (`prazium login`)[/]")
        emit(output, {"data": data}, "\n".join(lines))

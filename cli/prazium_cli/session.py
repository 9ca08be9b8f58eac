"""`prazium login|logout|whoami`, `prazium clone` and the git credential helper
clones use."""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from prazium_cli import config as configuration
from prazium_cli import targets
from prazium_cli.client import Api
from prazium_cli.common import ConfigPath, Output, Project, api, handling
from prazium_cli.errors import CliError
from prazium_cli.output import Format, emit, err_console


def login(
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", help="e.g. http://127.0.0.1:3001 (default: the saved one)"),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", help="pzm_... (default: $PRAZIUM_API_KEY, else asked for)"),
    ] = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Check a key against the API and keep URL and key in the config file (mode 0600)."""
    with handling(output):
        path = config or configuration.default_path()
        try:
            saved = configuration.read_file(path)
        except ValueError:
            saved = {}
        url = api_url or os.environ.get("PRAZIUM_API_URL") or saved.get("apiUrl")
        if not url:
            url = typer.prompt("API URL", default="http://127.0.0.1:3001", err=True)
        key = api_key or os.environ.get("PRAZIUM_API_KEY")
        if not key and not sys.stdin.isatty():  # piped: echo "$KEY" | prazium login
            key = sys.stdin.readline().strip()
        if not key:
            key = typer.prompt("API key", hide_input=True, err=True)
        assert url and key
        url = configuration.normalize_url(url)
        with Api(configuration.Config(url, key, path)) as client:
            me = client.data("GET", "/auth/me")
        configuration.save(path, url, key)
        data = {**me, "apiUrl": url, "configPath": str(path)}
        emit(
            output,
            {"data": data},
            f"logged in to {escape(url)} as key {me.get('keyId')} (tenant {me.get('tenant')},"
            f" tier {me.get('tier')}{', admin' if me.get('admin') else ''});"
            f" saved to {escape(str(path))}",
        )


def logout(output: Output = Format.text, config: ConfigPath = None) -> None:
    """Forget the saved key and the current project.

    The API URL stays for the next login. The key itself stays valid: an admin
    revokes keys (`prazium keys revoke`)."""
    with handling(output):
        path = config or configuration.default_path()
        try:
            saved = configuration.read_file(path)
        except ValueError:  # unreadable, maybe a key in it: the file goes
            path.unlink()
            saved = {"apiKey": ""}
        else:
            if saved:
                configuration.update(path, apiKey=None, project=None)
        had_key = "apiKey" in saved
        data = {"configPath": str(path), "apiUrl": saved.get("apiUrl"), "forgotKey": had_key}
        emit(
            output,
            {"data": data},
            f"logged out: no key in {escape(str(path))} any more"
            if had_key
            else f"not logged in: no key in {escape(str(path))}",
        )
        if os.environ.get("PRAZIUM_API_KEY") and not output.is_data:
            err_console.print("[yellow]PRAZIUM_API_KEY is still set: unset it too[/]")


def whoami(output: Output = Format.text, config: ConfigPath = None) -> None:
    """Who the key belongs to: key id, tenant, tier, admin (GET /v1/auth/me).

    Also the API's URL, the config file and the current project."""
    with handling(output), api(config) as client:
        me = client.data("GET", "/auth/me")
        data = {
            "keyId": me.get("keyId"),
            "tenant": me.get("tenant"),
            "tier": me.get("tier"),
            "admin": bool(me.get("admin")),
            "apiUrl": client.base,
            "configPath": str(client.config.path),
            "project": client.config.project,
        }
        emit(
            output,
            {"data": data},
            f"key {data['keyId']} of tenant {data['tenant']} (tier {data['tier']}"
            f"{', admin' if data['admin'] else ''})\n"
            f"API {escape(client.base)}\n"
            f"current project: {data['project'] or 'none (`prazium projects use`)'}",
        )


def clone(
    project: Project = None,
    directory: Annotated[
        str | None,
        typer.Argument(
            metavar="DIRECTORY",
            help="where to clone (default: the project's id)",
            show_default=False,
        ),
    ] = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """`git clone` the project's repository over the API (read-only smart HTTP).

    The key reaches git through the environment (never the command line or the
    clone's .git/config); the clone is set up to ask `prazium git-credential` for
    it on later fetches."""
    with handling(output), api(config) as client:
        given = targets.place([project, directory], ("project", "directory"))
        project = targets.project(client, given["project"])
        data = client.data("GET", f"/projects/{project}")
        url = data.get("cloneUrl") or f"{client.base}/v1/projects/{project}/git"
        target = Path(given["directory"] or project)
        git = shutil.which("git")
        if git is None:
            raise CliError("GIT_MISSING", "git is not installed (needed for clone)", exit_code=1)
        key = client.http.headers.get("authorization", "")
        env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: {key}",
        }
        done = subprocess.run(
            [git, "clone", "--quiet", url, str(target)],
            env=env,
            stdout=subprocess.DEVNULL if output.is_data else None,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise CliError(
                "CLONE_FAILED",
                f"git clone {url} failed: {done.stderr.strip()[-500:]}",
                {"cloneUrl": url, "exitCode": done.returncode},
                exit_code=1,
            )
        helper = f"!{sys.executable} -m prazium_cli git-credential"
        if config is not None:
            helper += f" --config {config.resolve()}"
        subprocess.run(
            [git, "-C", str(target), "config", f"credential.{url}.helper", helper],
            check=False,
            capture_output=True,
        )
        result = {"projectId": project, "cloneUrl": url, "directory": str(target.resolve())}
        emit(output, {"data": result}, f"cloned {project} into {escape(str(target))}")


def git_credential(
    operation: Annotated[str, typer.Argument(help="get, store or erase (git's protocol)")],
    config: ConfigPath = None,
) -> None:
    """git's credential helper protocol: answers `get` with the configured key."""
    if operation != "get":
        return
    sys.stdin.read()  # git's description of the request; any Prazium URL gets the key
    try:
        loaded = configuration.load(config)
    except ValueError as exc:
        err_console.print(f"prazium git-credential: {exc}")
        raise typer.Exit(1) from None
    if loaded.api_key:
        sys.stdout.write(f"username=prazium\npassword={loaded.api_key}\n")

"""`prazium deploy` and `prazium previews list|show|stop`: a run's code served as a
preview (POST /projects/{id}/deploy, GET /projects/{id}/deployments, GET and DELETE
/deployments/{id})."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from prazium_cli import targets, timing
from prazium_cli.client import Api
from prazium_cli.common import ConfigPath, Output, Project, api, handling
from prazium_cli.errors import CliError
from prazium_cli.output import (
    Column,
    Format,
    Listing,
    emit,
    err_console,
    pagination_note,
    styled,
)

app = typer.Typer(help="List, show and stop preview deployments.", no_args_is_help=True)
SETTLED = frozenset({"live", "failed", "stopped"})  # statuses a preview does not leave alone
Deployment = Annotated[
    str | None,
    typer.Argument(metavar="DEPLOYMENT", help="deployment id (dep_...)", show_default=False),
]
Wait = Annotated[
    bool, typer.Option("--wait", help="wait until the preview is live (exit 1 if it is not)")
]
Timeout = Annotated[float, typer.Option(help="seconds to wait with --wait")]


def describe(deployment: dict[str, Any]) -> str:
    """One preview as people read it: id, status, run, age and, once live, the URL."""
    created = deployment.get("createdAt")
    text = (
        f"{deployment.get('id')} {styled(deployment.get('status'))}"
        f" (run {deployment.get('runId')}, {deployment.get('provider')},"
        f" created {timing.age(created)} ago)"
    )
    if deployment.get("url"):
        text += f"\n{deployment['url']}"
    return text


def wait_until_settled(
    client: Api, path: str, timeout: float, interval: float = 1.0
) -> dict[str, Any]:
    """The preview's status once it is live, failed or stopped; TIMEOUT after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = client.data("GET", path)
        if found.get("status") in SETTLED:
            return found
        if time.monotonic() > deadline:
            raise CliError(
                "TIMEOUT",
                f"preview {found.get('id')} still {found.get('status')} after {timeout:g} s",
                {"deployment": found},
                exit_code=1,
            )
        time.sleep(interval)


def settled(found: dict[str, Any], output: Format) -> None:
    """Print a waited-for preview; exit 1 unless it is live."""
    if found.get("status") != "live":
        raise CliError(
            "DEPLOY_FAILED",
            f"preview {found.get('id')} is {found.get('status')}, not live",
            {"deployment": found},
            exit_code=1,
        )
    emit(output, {"data": found}, describe(found))


def deploy(
    project: Project = None,
    run: Annotated[
        str | None,
        typer.Option("--run", help="run id (default: the latest succeeded run)"),
    ] = None,
    provider: Annotated[
        str, typer.Option(help="where to deploy (the API lists the configured ones)")
    ] = "kubernetes",
    wait: Wait = False,
    timeout: Timeout = 300,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Deploy a run's code as a preview, then show its status (--wait: until live)."""
    with handling(output), api(config, timeout=120) as client:
        given = targets.place([project, run], ("project", "run"))
        project_id = targets.project(client, given["project"])
        run_id = targets.run(client, project_id, given["run"], "succeeded")
        created = client.data(
            "POST", f"/projects/{project_id}/deploy", json={"runId": run_id, "provider": provider}
        )
        path = f"/projects/{project_id}/deployments/{created['deploymentId']}"
        if wait:
            if not output.is_data:
                err_console.print(f"deploying {created['deploymentId']} of {run_id}")
            settled(wait_until_settled(client, path, timeout), output)
            return
        found = client.data("GET", path)
        emit(
            output,
            {"data": found},
            describe(found)
            + (
                f"\nfollow it with `prazium previews show {project_id} {found['id']} --wait`"
                if found.get("status") not in SETTLED
                else ""
            ),
        )


@app.command("list")
def list_previews(
    project: Project = None,
    run: Annotated[
        str | None,
        typer.Argument(
            metavar="RUN",
            help="only this run's previews (run_...); default: every run's",
            show_default=False,
        ),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(help="only previews in this status (deploying, live, failed, stopped)"),
    ] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=100)] = 20,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """The project's previews, newest first, stopped ones included: status, URL, run,
    age and time left (-o wide: provider, exact times and why one failed or stopped)."""
    with handling(output), api(config) as client:
        given = targets.place([project, run], ("project", "run"))
        project_id = targets.project(client, given["project"])
        params: dict[str, Any] = {"page": page, "pageSize": page_size}
        if given["run"]:
            params["runId"] = given["run"]
        if status:
            params["status"] = status
        body = client.call("GET", f"/projects/{project_id}/deployments", params=params)
        rows = Listing(
            output,
            Column("ID", whole=True),
            Column("STATUS"),
            Column("URL", whole=True, drop=1),
            Column("RUN", whole=True, drop=2),
            Column("AGE", drop=3),
            Column("EXPIRES IN", drop=4),
            Column("PROVIDER", wide=True, drop=9),
            Column("CREATED", wide=True, drop=7),
            Column("EXPIRES AT", wide=True, drop=8),
            Column("STOPPED AT", wide=True, drop=6),
            Column("MESSAGE", wide=True, drop=5, least=12),
        )
        for found in body.get("data") or []:
            stopped = found.get("status") == "stopped"
            rows.add_row(
                found.get("id"),
                styled(found.get("status")),
                found.get("url"),
                found.get("runId"),
                timing.age(found.get("createdAt")),
                "-" if stopped else timing.until(found.get("expiresAt")),
                found.get("provider"),
                found.get("createdAt"),
                found.get("expiresAt"),
                found.get("stoppedAt"),
                found.get("message"),
            )
        if not body.get("data") and not output.is_data:
            whose = f"run {given['run']}" if given["run"] else f"project {project_id}"
            err_console.print(f"no previews of {whose} (`prazium deploy` starts one)")
        emit(output, body, rows)
        if not output.is_data and body.get("pagination"):
            err_console.print(pagination_note(body["pagination"]))


@app.command("show")
def show(
    project: Project = None,
    deployment: Deployment = None,
    wait: Wait = False,
    timeout: Timeout = 300,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """A preview's status, run, age and URL (once live)."""
    with handling(output), api(config) as client:
        path = _deployment_path(client, project, deployment)
        if wait:
            settled(wait_until_settled(client, path, timeout), output)
            return
        found = client.data("GET", path)
        emit(output, {"data": found}, describe(found))


@app.command("stop")
def stop(
    project: Project = None,
    deployment: Deployment = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Stop a preview: its Pods and Service are deleted; its record stays, stopped."""
    with handling(output), api(config, timeout=120) as client:
        path = _deployment_path(client, project, deployment)
        body = client.call("DELETE", path)
        emit(output, body, f"{body['data'].get('id')} {styled(body['data'].get('status'))}")


def _deployment_path(client: Api, project: str | None, deployment: str | None) -> str:
    given = targets.place([project, deployment], ("project", "deployment"))
    if not given["deployment"]:
        raise CliError("VALIDATION_ERROR", "which preview? give its deployment id (dep_...)")
    project_id = targets.project(client, given["project"])
    return f"/projects/{project_id}/deployments/{given['deployment']}"

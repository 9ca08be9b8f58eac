"""`prazium deploy` and `prazium previews show|stop`: a run's code served as a
preview (POST /projects/{id}/deploy, GET and DELETE /deployments/{id}).

Listing a project's previews needs a route the API does not have yet, so there is
no `previews list`."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from prazium_cli import targets, timing
from prazium_cli.client import Api
from prazium_cli.common import ConfigPath, Output, Project, api, handling
from prazium_cli.errors import CliError
from prazium_cli.output import Format, emit, err_console, styled

app = typer.Typer(help="Show and stop preview deployments.", no_args_is_help=True)
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

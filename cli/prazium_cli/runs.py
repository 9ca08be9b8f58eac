"""`prazium run start|list|watch|cancel|retry|logs`."""

import time
from typing import Annotated, Any

import httpx
import typer
from rich.live import Live

from prazium_cli.client import Api, sse_events
from prazium_cli.common import ConfigPath, Output, Project, Run, api, handling
from prazium_cli.errors import CliError
from prazium_cli.graph import RUN_FINAL, RunView
from prazium_cli.output import (
    Format,
    console,
    emit,
    err_console,
    styled,
    table,
    write_json,
    write_json_line,
)

app = typer.Typer(help="Start, follow, cancel and retry builds (runs).", no_args_is_help=True)
FINAL_EVENTS = frozenset({"RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELLED"})
# Events after which the run's shape or statuses change: the run is read again.
_REREAD_PREFIXES = ("RUN_", "TASK_", "PLAN_", "MERGE_", "VERIFICATION_")
OptionalRun = Annotated[
    str | None, typer.Argument(help="run id (run_...); default: the latest run", show_default=False)
]


def latest_run(client: Api, project: str, status: str | None = None) -> str:
    params: dict[str, Any] = {"pageSize": 100}
    if status:
        params["status"] = status
    runs = client.data("GET", f"/projects/{project}/runs", params=params) or []
    if not runs:
        what = f"{status} run" if status else "run"
        raise CliError("NOT_FOUND", f"project {project} has no {what} yet", {"projectId": project})
    return str(max(runs, key=lambda r: r.get("runNumber") or 0)["id"])


@app.command("start")
def start(
    project: Project,
    parallelism: Annotated[
        int | None, typer.Option(min=1, max=32, help="tasks at once (default: the project's)")
    ] = None,
    watch_it: Annotated[bool, typer.Option("--watch", "-w", help="then watch it")] = False,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Start a build of the project's approved spec."""
    with handling(output), api(config, timeout=120) as client:
        request: dict[str, Any] = {"trigger": "manual"}
        if parallelism:
            request["parallelism"] = parallelism
        body = client.call("POST", f"/projects/{project}/runs", json=request)
        run = body["data"]
        if not watch_it:
            emit(
                output,
                body,
                f"started {run['id']} (#{run.get('runNumber')}) {styled(run.get('status'))}",
            )
            return
        if output is Format.json:
            write_json_line({"data": run})
        else:
            err_console.print(f"started {run['id']} (#{run.get('runNumber')})")
        status = watch_run(client, project, str(run["id"]), output)
    raise typer.Exit(0 if status == "succeeded" else 1)


@app.command("list")
def list_runs(
    project: Project,
    status: Annotated[str | None, typer.Option(help="only runs in this status")] = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """The project's runs."""
    with handling(output), api(config) as client:
        params: dict[str, Any] = {"pageSize": 100}
        if status:
            params["status"] = status
        body = client.call("GET", f"/projects/{project}/runs", params=params)
        rows = table("ID", "#", "STATUS", "TRIGGER", "TASKS", "STARTED", "COMPLETED")
        for run in body.get("data") or []:
            summary = run.get("tasksSummary") or {}
            rows.add_row(
                run.get("id"),
                str(run.get("runNumber")),
                styled(run.get("status")),
                run.get("trigger"),
                f"{summary.get('succeeded', 0)}/{summary.get('total', 0)}",
                run.get("startedAt") or "-",
                run.get("completedAt") or "-",
            )
        emit(output, body, rows)


def watch_run(client: Api, project: str, run_id: str, fmt: Format) -> str:
    """Follow the run's SSE stream to its final event (reconnecting after the last
    event seen if the connection drops); return the run's final status."""
    path = f"/projects/{project}/runs/{run_id}"
    view = RunView(run_id)
    view.update_run(client.data("GET", path))
    live = (
        Live(view.render(), console=console, refresh_per_second=4) if fmt is Format.text else None
    )
    last_id: str | None = None
    reread_at = 0.0
    drops = 0
    if live is not None:
        live.start()
    try:
        while True:
            ended = False
            headers = {"Last-Event-ID": last_id} if last_id else {}
            try:
                with client.stream(f"{path}/events/stream", headers=headers) as response:
                    for event in sse_events(response):
                        last_id = event.get("id") or last_id
                        ended = ended or event.get("eventType") in FINAL_EVENTS
                        if live is None:
                            write_json_line({"event": event})
                            continue
                        view.update_event(event)
                        kind = str(event.get("eventType") or "")
                        if kind.startswith(_REREAD_PREFIXES) and time.monotonic() - reread_at > 0.3:
                            view.update_run(client.data("GET", path))
                            reread_at = time.monotonic()
                        live.update(view.render())
            except CliError as exc:
                if exc.code != "UNREACHABLE" or drops >= 5:
                    raise
                drops += 1
                time.sleep(min(2**drops, 10))
                continue
            run = client.data("GET", path)
            view.update_run(run)
            if ended or view.status in RUN_FINAL:
                if live is None:
                    write_json_line({"data": run})
                break
    finally:
        if live is not None:
            live.update(view.render())
            live.stop()
            if not console.is_terminal:  # the last frame, printed once, ends its line
                console.line()
    return view.status


@app.command("watch")
def watch(
    project: Project,
    run: OptionalRun = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Draw the run's task graph and progress live until it ends (exit 0 when it
    succeeded, 1 otherwise). With -o json: one JSON line per event, then the run."""
    with handling(output), api(config) as client:
        run_id = run or latest_run(client, project)
        status = watch_run(client, project, run_id, output)
    if output is Format.text:
        err_console.print(f"run {run_id} {styled(status)}")
    raise typer.Exit(0 if status == "succeeded" else 1)


@app.command("cancel")
def cancel(
    project: Project, run: Run, output: Output = Format.text, config: ConfigPath = None
) -> None:
    """Cancel a run that has not finished."""
    with handling(output), api(config, timeout=120) as client:
        body = client.call("POST", f"/projects/{project}/runs/{run}/cancel")
        emit(output, body, f"{run} {styled(body['data'].get('status'))}")


@app.command("retry")
def retry(
    project: Project, run: Run, output: Output = Format.text, config: ConfigPath = None
) -> None:
    """Start a new run with the same spec as this one."""
    with handling(output), api(config, timeout=120) as client:
        body = client.call("POST", f"/projects/{project}/runs/{run}/retry")
        new = body["data"]
        emit(
            output,
            body,
            f"started {new['id']} (#{new.get('runNumber')}) {styled(new.get('status'))}",
        )


@app.command("logs")
def logs(
    project: Project,
    run: Run,
    task: Annotated[
        str | None, typer.Argument(help="task id (task_001); omit with --verification")
    ] = None,
    verification: Annotated[
        bool, typer.Option("--verification", help="the run's verification (app test) output")
    ] = False,
    attempt: Annotated[int | None, typer.Option(min=1, help="default: the latest")] = None,
    tail: Annotated[int | None, typer.Option(min=1, help="only the last N lines")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="until the attempt ends")] = False,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """A task's worker log (or the run's verification output)."""
    with handling(output), api(config) as client:
        if verification == (task is not None):
            raise CliError("VALIDATION_ERROR", "give a task id or --verification (not both)")
        params: dict[str, Any] = {"tail": tail} if tail else {}
        if verification:
            path = f"/projects/{project}/runs/{run}/verification/logs"
        else:
            path = f"/projects/{project}/runs/{run}/tasks/{task}/logs"
            params.update({"attempt": attempt} if attempt else {})
        if follow and not verification:
            _follow_log(client, path, {**params, "follow": "true"}, output)
        else:
            _print_log(client.raw("GET", path, params=params), output)


def _follow_log(client: Api, path: str, params: dict[str, Any], output: Format) -> None:
    with client.stream(path, params=params) as response:
        if output is Format.json:
            for line in response.iter_lines():
                write_json_line({"line": line})
            return
        for chunk in response.iter_text():
            console.file.write(chunk)
            console.file.flush()


def _print_log(response: httpx.Response, output: Format) -> None:
    if output is Format.text:
        console.file.write(response.text)
        console.file.flush()
        return
    attempt = response.headers.get("x-prazium-attempt")
    write_json(
        {
            "data": {
                "attempt": int(attempt) if attempt and attempt.isdigit() else None,
                "truncated": response.headers.get("x-prazium-log-truncated") == "true",
                "lines": response.text.splitlines(),
            }
        }
    )

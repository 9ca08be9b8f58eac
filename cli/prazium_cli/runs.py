"""`prazium run start|list|watch|describe|cancel|retry|logs`."""

import time
from typing import Annotated, Any

import httpx
import typer
from rich.live import Live

from prazium_cli import describe, targets, timing
from prazium_cli.client import Api, sse_events
from prazium_cli.common import ConfigPath, Output, Project, Run, api, handling
from prazium_cli.errors import CliError
from prazium_cli.graph import RUN_FINAL, RunView
from prazium_cli.output import (
    Column,
    Format,
    Listing,
    console,
    emit,
    err_console,
    styled,
    write_document,
    write_record,
)
from prazium_cli.usage import tokens_cell

app = typer.Typer(
    help="Start, follow, describe, cancel and retry builds (runs).", no_args_is_help=True
)
FINAL_EVENTS = frozenset({"RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELLED"})
# Events after which the run's shape or statuses change: the run is read again.
_REREAD_PREFIXES = ("RUN_", "TASK_", "PLAN_", "MERGE_", "VERIFICATION_")


def project_and_run(
    client: Api, project: str | None, run: str | None, status: str | None = None
) -> tuple[str, str]:
    """The project (default: the current one) and the run (default: its latest,
    of those in `status`) from the positional arguments as typed."""
    given = targets.place([project, run], ("project", "run"))
    project_id = targets.project(client, given["project"])
    return project_id, targets.run(client, project_id, given["run"], status)


@app.command("start")
def start(
    project: Project = None,
    parallelism: Annotated[
        int | None, typer.Option(min=1, max=32, help="tasks at once (default: the project's)")
    ] = None,
    watch_it: Annotated[bool, typer.Option("--watch", "-w", help="then watch it")] = False,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Start a build of the project's approved spec."""
    with handling(output), api(config, timeout=120) as client:
        project_id = targets.project(client, project)
        request: dict[str, Any] = {"trigger": "manual"}
        if parallelism:
            request["parallelism"] = parallelism
        body = client.call("POST", f"/projects/{project_id}/runs", json=request)
        run = body["data"]
        if not watch_it:
            emit(
                output,
                body,
                f"started {run['id']} (#{run.get('runNumber')}) {styled(run.get('status'))}",
            )
            return
        if output.is_data:
            write_record(output, {"data": run})
        else:
            err_console.print(f"started {run['id']} (#{run.get('runNumber')})")
        status = watch_run(client, project_id, str(run["id"]), output)
    raise typer.Exit(0 if status == "succeeded" else 1)


@app.command("list")
def list_runs(
    project: Project = None,
    status: Annotated[str | None, typer.Option(help="only runs in this status")] = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """The project's runs, newest first (-o wide: trigger and exact times)."""
    with handling(output), api(config) as client:
        project_id = targets.project(client, project)
        params: dict[str, Any] = {"pageSize": 100}
        if status:
            params["status"] = status
        body = client.call("GET", f"/projects/{project_id}/runs", params=params)
        rows = Listing(
            output,
            Column("ID", whole=True),
            Column("#", drop=1),
            Column("STATUS"),
            Column("TASKS", drop=2),
            Column("STARTED", drop=4),
            Column("DURATION", drop=3),
            Column("TOKENS", drop=8),
            Column("TRIGGER", wide=True, drop=5),
            Column("STARTED AT", wide=True, drop=7),
            Column("COMPLETED AT", wide=True, drop=6),
        )
        for run in body.get("data") or []:
            summary = run.get("tasksSummary") or {}
            started, completed = run.get("startedAt"), run.get("completedAt")
            rows.add_row(
                run.get("id"),
                run.get("runNumber"),
                styled(run.get("status")),
                f"{summary.get('succeeded', 0)}/{summary.get('total', 0)}",
                f"{timing.age(started)} ago" if started else "-",
                timing.took(started, completed),
                tokens_cell(run.get("usage")),
                run.get("trigger"),
                started,
                completed,
            )
        emit(output, body, rows)


def watch_run(client: Api, project: str, run_id: str, fmt: Format) -> str:
    """Follow the run's SSE stream to its final event (reconnecting after the last
    event seen if the connection drops); return the run's final status."""
    path = f"/projects/{project}/runs/{run_id}"
    view = RunView(run_id)
    view.update_run(client.data("GET", path))
    live = None if fmt.is_data else Live(view.render(), console=console, refresh_per_second=4)
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
                            write_record(fmt, {"event": event})
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
                    write_record(fmt, {"data": run})
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
    project: Project = None,
    run: Run = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Draw the run's task graph and progress live until it ends.

    Exit 0 when it succeeded, 1 otherwise. With -o json: one JSON line per event,
    then the run (-o yaml: one YAML document each)."""
    with handling(output), api(config) as client:
        project_id, run_id = project_and_run(client, project, run)
        status = watch_run(client, project_id, run_id, output)
    if not output.is_data:
        err_console.print(f"run {run_id} {styled(status)}")
    raise typer.Exit(0 if status == "succeeded" else 1)


@app.command("describe")
def describe_run(
    project: Project = None,
    run: Run = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """A run in full: status, times, phases, tasks, verification, merged commit.

    Phases and tasks come with their durations (from the run's events, to the
    millisecond); -o wide adds each task's files and commit."""
    with handling(output), api(config) as client:
        project_id, run_id = project_and_run(client, project, run)
        path = f"/projects/{project_id}/runs/{run_id}"
        found = client.data("GET", path)
        tasks = client.data("GET", f"{path}/tasks") or []
        events = describe.read_events(client, path)
        data = describe.document(found, tasks, events)
        emit(output, {"data": data}, describe.render(data, output))


@app.command("cancel")
def cancel(
    project: Project = None,
    run: Run = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Cancel a run that has not finished (default: the latest run)."""
    with handling(output), api(config, timeout=120) as client:
        project_id, run_id = project_and_run(client, project, run)
        body = client.call("POST", f"/projects/{project_id}/runs/{run_id}/cancel")
        emit(output, body, f"{run_id} {styled(body['data'].get('status'))}")


@app.command("retry")
def retry(
    project: Project = None,
    run: Run = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Start a new run with the same spec as this one (default: the latest run)."""
    with handling(output), api(config, timeout=120) as client:
        project_id, run_id = project_and_run(client, project, run)
        body = client.call("POST", f"/projects/{project_id}/runs/{run_id}/retry")
        new = body["data"]
        emit(
            output,
            body,
            f"started {new['id']} (#{new.get('runNumber')}) {styled(new.get('status'))}",
        )


@app.command("logs")
def logs(
    project: Project = None,
    run: Run = None,
    task: Annotated[
        str | None,
        typer.Argument(
            metavar="TASK",
            help="the task: its id (task_001), number (1) or slug (app-shell), as"
            " `run watch` shows them; omit with --verification",
            show_default=False,
        ),
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
    with handling(output):
        given = targets.place([project, run, task], ("project", "run", "task"))
        if verification == (given["task"] is not None):
            raise CliError("VALIDATION_ERROR", "give a task or --verification (not both)")
    with handling(output), api(config) as client:
        project_id = targets.project(client, given["project"])
        run_id = targets.run(client, project_id, given["run"])
        params: dict[str, Any] = {"tail": tail} if tail else {}
        run_path = f"/projects/{project_id}/runs/{run_id}"
        if given["task"] is None:
            path = f"{run_path}/verification/logs"
        else:
            task_id = targets.task(client, project_id, run_id, given["task"])
            path = f"{run_path}/tasks/{task_id}/logs"
            params.update({"attempt": attempt} if attempt else {})
        if follow and not verification:
            _follow_log(client, path, {**params, "follow": "true"}, output)
        else:
            _print_log(client.raw("GET", path, params=params), output)


def _follow_log(client: Api, path: str, params: dict[str, Any], output: Format) -> None:
    with client.stream(path, params=params) as response:
        if output.is_data:
            for line in response.iter_lines():
                write_record(output, {"line": line})
            return
        for chunk in response.iter_text():
            console.file.write(chunk)
            console.file.flush()


def _print_log(response: httpx.Response, output: Format) -> None:
    if not output.is_data:
        console.file.write(response.text)
        console.file.flush()
        return
    attempt = response.headers.get("x-prazium-attempt")
    write_document(
        output,
        {
            "data": {
                "attempt": int(attempt) if attempt and attempt.isdigit() else None,
                "truncated": response.headers.get("x-prazium-log-truncated") == "true",
                "lines": response.text.splitlines(),
            }
        },
    )

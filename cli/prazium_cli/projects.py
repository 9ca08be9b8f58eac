"""`prazium projects list|create|show|use|archive`, `prazium answer`, `prazium approve`,
`prazium regenerate`."""

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.prompt import Prompt

from prazium_cli import config as configuration
from prazium_cli import targets, timing
from prazium_cli.common import ConfigPath, Output, Project, api, handling, load_config
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

app = typer.Typer(
    help="Create, list, show, choose (use) and archive projects.", no_args_is_help=True
)
RequiredProject = Annotated[str, typer.Argument(help="project id (proj_...)", show_default=False)]


@app.command("list")
def list_projects(
    status: Annotated[str | None, typer.Option(help="only projects in this status")] = None,
    search: Annotated[str | None, typer.Option(help="search names and descriptions")] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=100)] = 20,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """List your projects, newest first."""
    with handling(output), api(config) as client:
        params: dict[str, Any] = {"page": page, "pageSize": page_size}
        if status:
            params["status"] = status
        if search:
            params["search"] = search
        body = client.call("GET", "/projects", params=params)
        rows = Listing(
            output,
            Column("ID", whole=True),
            Column("NAME"),
            Column("STATUS"),
            Column("LATEST RUN", drop=2),
            Column("UPDATED", drop=3),
            Column("LATEST RUN ID", whole=True, wide=True, drop=4),
            Column("CREATED", wide=True, drop=5),
            Column("DESCRIPTION", wide=True, drop=6, least=30),
        )
        for project in body.get("data") or []:
            latest = project.get("latestRun") or {}
            rows.add_row(
                project.get("id"),
                escape(str(project.get("name"))),
                styled(project.get("status")),
                f"#{latest.get('runNumber')} {styled(latest.get('status'))}" if latest else "-",
                f"{timing.age(project.get('updatedAt'))} ago",
                latest.get("id"),
                project.get("createdAt"),
                escape(str(project.get("description") or "")),
            )
        emit(output, body, rows)
        if not output.is_data and body.get("pagination"):
            err_console.print(pagination_note(body["pagination"]))


@app.command("create")
def create_project(
    name: Annotated[str, typer.Argument(help="the app's name")],
    description: Annotated[
        str | None, typer.Option("--description", "-d", help="what the app should do")
    ] = None,
    description_file: Annotated[
        Path | None,
        typer.Option("--description-file", help="read the description from a file (- = stdin)"),
    ] = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Create a project from a name and a description (at least 10 characters)."""
    with handling(output):
        text = _description(description, description_file)
        with api(config) as client:
            body = client.call("POST", "/projects", json={"name": name, "description": text})
        project = body["data"]
        emit(
            output,
            body,
            f"created {project['id']} ({styled(project.get('status'))});"
            f" next: prazium answer {project['id']}",
        )


def _description(text: str | None, path: Path | None) -> str:
    if (text is None) == (path is None):
        raise CliError(
            "VALIDATION_ERROR", "give exactly one of --description and --description-file"
        )
    if path is None:
        assert text is not None
        return text
    try:
        return sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError("VALIDATION_ERROR", f"cannot read {path}: {exc.strerror}") from exc


@app.command("show")
def show_project(
    project: Project = None, output: Output = Format.text, config: ConfigPath = None
) -> None:
    """A project: status, questions and answers, the spec and its latest run."""
    with handling(output), api(config) as client:
        body = client.call("GET", f"/projects/{targets.project(client, project)}")
        emit(output, body, _project_text(body["data"]))


def _project_text(p: dict[str, Any]) -> str:
    lines = [
        f"[bold]{escape(str(p.get('name')))}[/] {p.get('id')}  {styled(p.get('status'))}",
        escape(str(p.get("description") or "")),
    ]
    spec = p.get("spec") or {}
    if spec:
        approved = spec.get("approvedAt")
        lines.append(
            f"spec v{spec.get('version')}: {', '.join(sorted(spec.get('documents') or {}))}"
            + (f" (approved {approved})" if approved else " (not approved)")
            + f"; read it with `prazium spec show {p.get('id')}`"
        )
    questions = p.get("questions") or []
    if questions:
        lines.append(f"{len(questions)} questions, {len(p.get('answers') or [])} answered")
    latest = p.get("latestRun") or {}
    if latest:
        lines.append(
            f"latest run {latest.get('id')} #{latest.get('runNumber')}"
            f" {styled(latest.get('status'))}"
        )
    if p.get("cloneUrl"):
        lines.append(f"clone: {p['cloneUrl']}")
    lines.append(f"created {p.get('createdAt')}, updated {p.get('updatedAt')}")
    return "\n".join(lines)


@app.command("use")
def use_project(
    project: Annotated[
        str | None,
        typer.Argument(
            metavar="PROJECT",
            help="project id (proj_...); none: show the current one",
            show_default=False,
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="forget the current project")] = False,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Choose the current project: the default PROJECT of every command.

    It is checked with the API, then kept in the config file; PRAZIUM_PROJECT
    overrides it."""
    with handling(output):
        loaded = load_config(config)
        if clear or project is None:
            if clear:
                configuration.update(loaded.path, project=None)
                loaded = load_config(config)
            current = loaded.project
            emit(
                output,
                {"data": {"project": current}},
                f"current project: {current}" if current else "no current project",
            )
            return
        with api(config) as client:
            found = client.data("GET", f"/projects/{project}")
        configuration.update(loaded.path, project=str(found["id"]))
        emit(
            output,
            {"data": {"project": found["id"], "name": found.get("name")}},
            f"current project: {found['id']} ({escape(str(found.get('name')))})",
        )


@app.command("archive")
def archive_project(
    project: RequiredProject, output: Output = Format.text, config: ConfigPath = None
) -> None:
    """Archive a project (DELETE /projects/{id}): it stops accepting changes and runs."""
    with handling(output), api(config) as client:
        body = client.call("DELETE", f"/projects/{project}")
        emit(output, body, f"{project} {styled(body['data'].get('status'))}")


# --- answer and approve (top-level commands) -------------------------------------------


def parse_answer(question: dict[str, Any], raw: object) -> object:
    """A typed answer for a question from text (flags, prompts) or JSON (a file)."""
    kind = question.get("type")
    options = [str(o) for o in question.get("options") or []]
    qid = question.get("id")
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in {"y", "yes", "true", "1"}:
            return True
        if word in {"n", "no", "false", "0"}:
            return False
        raise CliError("VALIDATION_ERROR", f"{qid}: answer yes or no, not {raw!r}")
    if kind == "multi_choice":
        picked = raw if isinstance(raw, list) else [p for p in str(raw).split(",") if p.strip()]
        return [_option(qid, options, str(p).strip()) for p in picked]
    if kind == "single_choice":
        return _option(qid, options, str(raw).strip())
    return str(raw)


def _option(qid: object, options: list[str], text: str) -> str:
    if text in options:
        return text
    if text.isdigit() and 1 <= int(text) <= len(options):
        return options[int(text) - 1]
    lowered = {o.lower(): o for o in options}
    if text.lower() in lowered:
        return lowered[text.lower()]
    raise CliError(
        "VALIDATION_ERROR",
        f"{qid}: {text!r} is not one of the options: {', '.join(options)}",
        {"options": options},
    )


def _read_answers_file(path: Path) -> dict[str, object]:
    try:
        raw = json.loads(sys.stdin.read() if str(path) == "-" else path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError("VALIDATION_ERROR", f"cannot read answers from {path}: {exc}") from exc
    if isinstance(raw, dict) and isinstance(raw.get("answers"), list):
        raw = raw["answers"]
    if isinstance(raw, list):
        return {str(a.get("questionId")): a.get("answer") for a in raw if isinstance(a, dict)}
    if isinstance(raw, dict):
        return {str(k): v for k, v in raw.items()}
    raise CliError("VALIDATION_ERROR", f'{path}: expected {{"q1": answer, ...}} or a list')


def _prompt(question: dict[str, Any]) -> object:
    options = [str(o) for o in question.get("options") or []]
    err_console.print(f"[bold]{question.get('id')}[/] {escape(str(question.get('question')))}")
    for i, option in enumerate(options, 1):
        err_console.print(f"  {i}. {escape(option)}")
    hint = {
        "boolean": "yes/no",
        "multi_choice": "numbers or options, comma-separated",
        "single_choice": "a number or an option",
    }.get(str(question.get("type")), "text")
    while True:
        reply = Prompt.ask(f"  answer ({hint})", console=err_console)
        try:
            return parse_answer(question, reply)
        except CliError as exc:
            err_console.print(f"  [red]{escape(exc.message)}[/]")


def answer(
    project: Project = None,
    answers: Annotated[
        list[str] | None,
        typer.Option("--answer", "-a", help="QUESTION_ID=ANSWER (repeatable); lists: a,b"),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help='JSON {"q1": answer, ...} or [{questionId, answer}]'),
    ] = None,
    interactive: Annotated[
        bool | None,
        typer.Option(
            "--interactive/--no-input",
            help="ask for unanswered questions (default: when stdin is a terminal)",
            show_default=False,
        ),
    ] = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Answer the project's clarifying questions; the operator writes the spec."""
    with handling(output), api(config, timeout=120) as client:
        project = targets.project(client, project)
        questions = client.data("POST", f"/projects/{project}/clarify")["questions"]
        given: dict[str, object] = _read_answers_file(file) if file else {}
        for item in answers or []:
            qid, sep, text = item.partition("=")
            if not sep:
                raise CliError(
                    "VALIDATION_ERROR", f"--answer {item!r}: expected QUESTION_ID=ANSWER"
                )
            given[qid.strip()] = text
        known = {str(q["id"]) for q in questions}
        if unknown := sorted(set(given) - known):
            raise CliError(
                "VALIDATION_ERROR",
                f"unknown question ids: {', '.join(unknown)}"
                f" (the questions: {', '.join(sorted(known))})",
            )
        if interactive is None:
            interactive = sys.stdin.isatty()
        chosen = []
        for question in questions:
            qid = str(question["id"])
            value: object
            if qid in given:
                value = parse_answer(question, given[qid])
            elif interactive:
                value = _prompt(question)
            else:
                raise CliError(
                    "VALIDATION_ERROR",
                    f"question {qid} has no answer ({question.get('question')});"
                    f" pass --answer {qid}=... or answer interactively",
                    {"questionId": qid, "question": question},
                )
            chosen.append({"questionId": qid, "answer": value})
        body = client.call("POST", f"/projects/{project}/answers", json={"answers": chosen})
        emit(output, body, _spec_written(project, body["data"]))


def _spec_written(project: str, data: dict[str, Any]) -> str:
    spec = data.get("spec") or {}
    return (
        f"{project} {styled(data.get('status'))}: spec v{spec.get('version')}"
        f" ({', '.join(sorted(spec.get('documents') or {}))});"
        f" read it with `prazium spec show {project}`, then `prazium approve {project}`"
    )


def approve(
    project: Project = None, output: Output = Format.text, config: ConfigPath = None
) -> None:
    """Approve the project's current spec, so runs can build it."""
    with handling(output), api(config, timeout=120) as client:
        project = targets.project(client, project)
        body = client.call("POST", f"/projects/{project}/approve")
        emit(
            output,
            body,
            f"{project} {styled(body['data'].get('status'))};"
            f" build it with `prazium run start {project} --watch`",
        )


def regenerate(
    project: Project = None,
    feedback: Annotated[
        str | None, typer.Option("--feedback", "-m", help="what to change in the spec")
    ] = None,
    feedback_file: Annotated[
        Path | None,
        typer.Option("--feedback-file", help="read the feedback from a file (- = stdin)"),
    ] = None,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Write the spec again (a new version), with your feedback.

    The earlier answers are kept. Approve the new version before the next run."""
    with handling(output):
        if feedback is not None and feedback_file is not None:
            raise CliError("VALIDATION_ERROR", "give --feedback or --feedback-file, not both")
        text = _description(None, feedback_file) if feedback_file else feedback
        with api(config, timeout=120) as client:
            project = targets.project(client, project)
            request = {"feedback": text} if text else None
            body = client.call("POST", f"/projects/{project}/regenerate", json=request)
        emit(output, body, _spec_written(project, body["data"]))

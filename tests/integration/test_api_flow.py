"""The contract's API Flow, end to end over real HTTP against the real operator:
create -> clarify -> answers -> (regenerate) -> approve -> run -> follow the SSE
stream to the end -> files -> export -> download -> unpack and find the app."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

from tests.support.apistate import assert_error
from tests.support.services import ServiceProcess, wait_for
from tests.support.sse import frames

pytestmark = pytest.mark.integration


def _answer(question: dict) -> object:
    kind, options = question["type"], question.get("options") or []
    if kind == "boolean":
        return True
    if kind == "multi_choice":
        return options[:1]
    if kind == "single_choice":
        return options[0]
    return "Keep it simple."


def test_api_flow_end_to_end(
    http: httpx.Client, api: str, api_key: str, operator: ServiceProcess
) -> None:
    created = http.post(
        "/projects",
        json={
            "name": "Team Todo",
            "description": "A todo list app for small teams with tags, due dates and search.",
        },
    )
    assert created.status_code == 201, created.text
    project_id = created.json()["data"]["id"]
    base = f"/projects/{project_id}"

    clarify = http.post(f"{base}/clarify")
    assert clarify.status_code == 200, clarify.text
    questions = clarify.json()["data"]["questions"]
    assert questions and {"id", "question", "type"} <= set(questions[0])

    answers = http.post(
        f"{base}/answers",
        json={"answers": [{"questionId": q["id"], "answer": _answer(q)} for q in questions]},
    )
    assert answers.status_code == 200, answers.text
    spec = answers.json()["data"]
    assert spec["status"] == "spec_review"
    assert set(spec["spec"]["documents"]) >= {"SPEC.md", "ACCEPTANCE.md", "ROUTES.md", "DATA.md"}
    version = spec["spec"]["version"]

    regenerated = http.post(f"{base}/regenerate", json={"feedback": "Mention due dates."})
    assert regenerated.status_code == 200, regenerated.text
    assert regenerated.json()["data"]["status"] == "spec_review"
    assert regenerated.json()["data"]["spec"]["version"] == version + 1

    approved = http.post(f"{base}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["status"] == "approved"
    assert approved.json()["data"]["spec"]["approvedAt"]
    got = http.get(base).json()["data"]
    assert got["status"] == "approved" and got["spec"]["version"] == version + 1

    started = http.post(f"{base}/runs", json={"trigger": "manual"})
    assert started.status_code == 201, started.text
    run = started.json()["data"]
    assert run["status"] == "decomposing" and run["runNumber"] == 1
    assert run["projectId"] == project_id and run["trigger"] == "manual"
    run_url = f"{base}/runs/{run['id']}"

    with httpx.stream(
        "GET",
        f"{api}/v1{run_url}/events/stream",
        timeout=300,
        headers={"Authorization": f"Bearer {api_key}"},
    ) as stream:
        received = list(frames(stream))
    types = [f.event for f in received]
    assert types[0] == "RUN_STARTED" and types[-1] == "RUN_COMPLETED", types
    assert "TASK_STARTED" in types and "FILE_CREATED" in types
    listed = http.get(f"{run_url}/events", params={"limit": 1000}).json()["data"]
    assert [e["id"] for e in listed] == [f.id for f in received]

    done = http.get(run_url).json()["data"]
    assert done["status"] == "succeeded", done
    assert done["verificationResult"]["exitCode"] == 0
    assert done["tasksJson"]["mergeOrder"] and done["tasks"]
    assert all(t["status"] == "succeeded" for t in done["tasks"])
    task = http.get(f"{run_url}/tasks/{done['tasks'][0]['id']}").json()["data"]
    assert task["branchName"] and task["result"]["commitSha"]
    summary = http.get(f"{base}/runs").json()["data"][0]["tasksSummary"]
    assert summary["total"] == summary["succeeded"] == len(done["tasks"])
    listed_project = http.get("/projects").json()["data"][0]
    assert listed_project["latestRun"]["id"] == run["id"]

    root = http.get(f"{base}/files").json()["data"]
    names = {e["name"] for e in root["entries"]}
    assert "app" in names and "README.md" in names
    readme = http.get(f"{base}/files/README.md").json()["data"]
    assert readme["encoding"] == "utf-8" and "python -m app" in readme["content"]

    export = http.post(f"{base}/export", json={"runId": run["id"], "format": "zip"})
    assert export.status_code == 202, export.text
    export_id = export.json()["data"]["id"]
    status = wait_for(
        lambda: (
            (d := http.get(f"{base}/exports/{export_id}").json()["data"])["status"] == "completed"
            and d
        ),
        60,
        "the export",
    )
    download = http.get(status["downloadUrl"])
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="team-todo-run-1.zip"'
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        members = set(archive.namelist())
    assert "team-todo-run-1/app/__main__.py" in members
    assert "team-todo-run-1/README.md" in members

    # Retry makes run 2; cancelling it stops it; a finished run cannot be cancelled.
    retried = http.post(f"{run_url}/retry")
    assert retried.status_code == 201, retried.text
    second = retried.json()["data"]
    assert second["trigger"] == "retry" and second["runNumber"] == 2
    cancelled = http.post(f"{base}/runs/{second['id']}/cancel")
    assert cancelled.status_code in (200, 409), cancelled.text
    if cancelled.status_code == 200:
        assert cancelled.json()["data"] == {"id": second["id"], "status": "cancelled"}
    assert_error(http.post(f"{run_url}/cancel"), 409, "CONFLICT")

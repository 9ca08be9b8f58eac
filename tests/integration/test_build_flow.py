"""The build engine end to end: kubectl alone takes a Project to a verified repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kubernetes import client

from tests.support.build import (
    create,
    files_on,
    get,
    git,
    kubectl_apply,
    patch_spec,
    tasks_of,
    wait_final_event,
    wait_observed,
    wait_phase,
    wait_run_done,
)
from tests.support.services import ServiceProcess, Stack, wait_for

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_kubectl_only_project_and_run_build_a_verified_app(
    stack: Stack, namespace: str, operator: ServiceProcess, data_dir: Path
) -> None:
    kubectl_apply(stack, namespace, EXAMPLES / "project-answered.yaml")
    project = wait_phase(namespace, "projects", "todo-answered", {"approved"}, operator)
    repo = data_dir / project["status"]["repoPath"]  # relative to the repo volume
    assert project["status"]["spec"]["approvedVersion"] == 1
    assert {"docs/spec/SPEC.md", "docs/spec/DATA.md"} <= files_on(repo)

    kubectl_apply(stack, namespace, EXAMPLES / "run.yaml")
    run = wait_run_done(namespace, "todo-answered-build", operator)
    status = run["status"]
    assert status["phase"] == "succeeded", status.get("message")
    assert status["runNumber"] == 1
    assert status["specSnapshot"]["version"] == 1
    verification = status["verificationResult"]
    assert verification["exitCode"] == 0 and verification["passed"] > 0, verification
    assert verification["failed"] == 0
    assert [c["status"] for c in status["conditions"] if c["type"] == "Ready"] == ["True"]

    # Every task succeeded on its own branch, and main holds all their files.
    tasks = tasks_of(namespace, "todo-answered-build")
    plan_ids = [t["id"] for t in status["plan"]["tasks"]]
    assert [t["spec"]["definition"]["id"] for t in tasks] == plan_ids
    assert len(tasks) >= 4
    main_files = files_on(repo)
    assert git(repo, "rev-parse", "main").strip() == status["mergedCommit"]
    for task in tasks:
        assert task["status"]["phase"] == "succeeded"
        assert task["metadata"]["ownerReferences"][0]["uid"] == run["metadata"]["uid"]
        assert task["metadata"]["labels"]["prazium.io/project"] == "todo-answered"
        assert task["status"]["branchName"].startswith("feat/run-1/")
        assert task["status"]["executor"]["kind"] == "local"
        created = task["status"]["result"]["filesCreated"]
        assert created and set(created) <= main_files
        log = git(repo, "log", "-1", "--format=%an <%ae>|%s", task["status"]["branchName"])
        assert log.startswith("Prazium <template@prazium.io>|"), log
        assert task["spec"]["definition"]["id"] in log
    assert summary_counts(status) == {"total": len(tasks), "succeeded": len(tasks)}
    # Succeeded tasks carry kstatus conditions, so generic tools can wait on them.
    for task in tasks:
        ready = [c for c in task["status"]["conditions"] if c["type"] == "Ready"]
        assert [(c["status"], c["reason"]) for c in ready] == [("True", "Succeeded")]
        assert task["status"]["observedGeneration"] == task["metadata"]["generation"]
    waited = subprocess.run(
        [
            stack.kubectl,
            "--kubeconfig",
            stack.kubeconfig,
            "-n",
            namespace,
            "wait",
            "--for=condition=Ready",
            "pztask",
            "--all",
            "--timeout=20s",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.count("condition met") == len(tasks), waited.stdout

    # The journal tells the whole story, in order, each completion once.
    journal = wait_final_event(stack.database_url, namespace, "todo-answered-build", operator)
    types = [e["type"] for e in journal]
    assert types[0] == "RUN_STARTED" and types[1] == "PLAN_CREATED"
    assert types[-1] == "RUN_COMPLETED"
    assert journal[-1]["payload"]["status"] == "succeeded"
    for task_id in plan_ids:
        per_task = [e["type"] for e in journal if e["task"] == task_id]
        assert (
            per_task.index("TASK_QUEUED")
            < per_task.index("TASK_STARTED")
            < per_task.index("TASK_COMPLETED")
        ), per_task
        assert per_task.count("TASK_COMPLETED") == 1
        assert "FILE_CREATED" in per_task
    started = next(e for e in journal if e["type"] == "TASK_STARTED")
    assert started["payload"]["taskId"].startswith("task_") and started["payload"]["slug"]
    created_event = next(e for e in journal if e["type"] == "FILE_CREATED")
    assert set(created_event["payload"]) >= {"taskId", "path", "size"}
    tail = types[types.index("MERGE_STARTED") :]
    assert tail == [
        "MERGE_STARTED",
        "MERGE_COMPLETED",
        "VERIFICATION_STARTED",
        "VERIFICATION_COMPLETED",
        "RUN_COMPLETED",
    ]

    # The project shows the build, and `kubectl describe run` tells the story.
    project = get(namespace, "projects", "todo-answered")
    assert project is not None
    assert project["status"]["phase"] == "built"
    assert project["status"]["latestRun"]["name"] == "todo-answered-build"
    assert project["status"]["latestRun"]["phase"] == "succeeded"
    assert not project["status"].get("activeRun")
    reasons = {
        e.reason
        for e in client.CoreV1Api()
        .list_namespaced_event(namespace, field_selector="involvedObject.name=todo-answered-build")
        .items
    }
    assert {"RunStarted", "RunSucceeded"} <= reasons
    # No worktree is left behind.
    assert "worktree" not in git(repo, "worktree", "list", "--porcelain").split()[2:]


def summary_counts(status: dict) -> dict[str, int]:
    return {k: v for k, v in status["tasksSummary"].items() if v}


def test_project_lifecycle_questions_spec_approval_regenerate_archive_delete(
    stack: Stack, namespace: str, operator: ServiceProcess, data_dir: Path
) -> None:
    created = create(
        namespace,
        "projects",
        "Project",
        "shop",
        {
            "displayName": "Shop",
            "description": "A small shop where customers browse products"
            " and place orders; staff manage the catalogue.",
        },
    )
    project = wait_observed(
        namespace, "projects", "shop", created["metadata"]["generation"], operator
    )
    status = project["status"]
    assert status["phase"] == "clarifying"
    assert status["questions"] and status["questions"][0]["id"] == "q1"
    assert "spec" not in status or not status["spec"].get("version")

    # A run before approval fails and says why.
    create(namespace, "runs", "Run", "shop-too-early", {"projectRef": {"name": "shop"}})
    early = wait_run_done(namespace, "shop-too-early", operator)
    assert early["status"]["phase"] == "failed"
    assert "no approved spec" in early["status"]["message"]
    journal = wait_final_event(stack.database_url, namespace, "shop-too-early", operator)
    assert [e["type"] for e in journal] == ["RUN_FAILED"]

    generation = patch_spec(namespace, "projects", "shop", {"answers": []})
    status = wait_observed(namespace, "projects", "shop", generation, operator)["status"]
    assert status["phase"] == "spec_review"
    assert status["spec"]["version"] == 1 and status["spec"]["source"] == "generated"
    assert set(status["spec"]["documents"]) == {"SPEC.md", "ACCEPTANCE.md", "ROUTES.md", "DATA.md"}

    generation = patch_spec(namespace, "projects", "shop", {"approval": {"specVersion": 1}})
    status = wait_observed(namespace, "projects", "shop", generation, operator)["status"]
    assert status["phase"] == "approved"
    assert status["spec"]["approvedVersion"] == 1 and status["spec"]["approvedAt"]
    repo = data_dir / status["repoPath"]
    assert git(repo, "rev-parse", "main").strip() == status["spec"]["commitSha"]
    assert "docs/spec/SPEC.md" in files_on(repo)

    generation = patch_spec(
        namespace, "projects", "shop", {"regenerate": {"revision": 1, "feedback": "Add gift cards"}}
    )
    status = wait_observed(namespace, "projects", "shop", generation, operator)["status"]
    assert status["phase"] == "spec_review"
    assert status["spec"]["version"] == 2 and status["spec"]["revision"] == 1
    assert not status["spec"].get("approvedVersion")

    generation = patch_spec(
        namespace, "projects", "shop", {"answers": [{"questionId": "q1", "answer": "Magic Link"}]}
    )
    status = wait_observed(namespace, "projects", "shop", generation, operator)["status"]
    assert status["spec"]["version"] == 3

    generation = patch_spec(namespace, "projects", "shop", {"archived": True})
    status = wait_observed(namespace, "projects", "shop", generation, operator)["status"]
    assert status["phase"] == "archived"

    # Deleting the Project removes its repository (through the finalizer) and nothing else.
    kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
    other = wait_phase(namespace, "projects", "notes-gitops", {"approved"}, operator)
    assert other["status"]["spec"]["source"] == "provided"
    client.CustomObjectsApi().delete_namespaced_custom_object(
        "prazium.io", "v1alpha1", namespace, "projects", "shop"
    )
    wait_for(
        lambda: get(namespace, "projects", "shop") is None,
        30,
        "shop to be deleted",
        operator,
        interval=0.1,
    )
    assert not Path(repo).exists()
    assert (data_dir / other["status"]["repoPath"]).exists()


def test_a_planner_this_installation_lacks_stalls_the_project_with_a_clear_message(
    stack: Stack, namespace: str, operator: ServiceProcess
) -> None:
    create(
        namespace,
        "projects",
        "Project",
        "llm-app",
        {
            "displayName": "LLM App",
            "description": "A notes app with search and tags",
            "agent": {"planner": "command"},
        },
    )

    def observed(key: str) -> dict | None:
        project = get(namespace, "projects", "llm-app") or {}
        return project if project.get("status", {}).get(key) else None

    project = wait_for(
        lambda: observed("observedGeneration"), 30, "the operator to observe the project", operator
    )
    status = project["status"]
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "UnknownAgent"
    assert (
        "unknown planner agent 'command'; known agents: anthropic, openai, template"
        in status["message"]
    )
    assert not status.get("questions")
    # Fixing the spec un-stalls it.
    patch_spec(namespace, "projects", "llm-app", {"agent": {"planner": "template"}})
    project = wait_for(lambda: observed("questions"), 30, "questions after the fix", operator)
    stalled = next(c for c in project["status"]["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "False"

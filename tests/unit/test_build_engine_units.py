"""Build-engine pieces that need only git and the file system: Job spec, git merges,
test-count parsing, and the worker's scope check and idempotent commit."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from prazium_operator import gitrepo, verify
from prazium_operator.agents import register_coder
from prazium_operator.executor.jobspec import label_value
from prazium_operator.executor.kubernetes import build_job, job_name
from prazium_operator.settings import Settings
from prazium_operator.worker import main as worker
from prazium_operator.worker_contract import WorkerRequest

DATE = "2026-01-01T00:00:00Z"


def _request(tmp_path: Path, repo: Path, base: str, **overrides: Any) -> WorkerRequest:
    fields: dict[str, Any] = dict(
        namespace="t1",
        project="shop",
        run="shop-1",
        task={
            "id": "task-001",
            "slug": "shell",
            "description": "App shell",
            "pathScope": ["app/**"],
            "dependencies": [],
        },
        documents={},
        repo_path=str(repo),
        worktree=str(tmp_path / "wt" / "task-001"),
        branch="feat/run-1/task-001-shell",
        base_commit=base,
        attempt=1,
        result_path=str(tmp_path / "results" / "task-001-1.json"),
        coder="unit-writer",
    )
    fields.update(overrides)
    return WorkerRequest(**fields)


class _Writer:
    """A coder that writes fixed files (deterministic, like every coder must be)."""

    def __init__(self, files: dict[str, str] | None = None) -> None:
        self.files = files or {"app/main.py": "print('hi')\n"}

    def code(self, task: dict[str, Any], documents: dict[str, str], worktree: pathlib.Path) -> None:
        for path, text in self.files.items():
            (worktree / path).parent.mkdir(parents=True, exist_ok=True)
            (worktree / path).write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repos" / "shop.git"
    gitrepo.init_bare(path)
    return path


def test_job_spec_is_restricted_in_the_job_namespace_labelled_and_retry_free() -> None:
    settings = Settings(
        data_dir=Path("/data"),
        worker_image="prazium/worker:test",
        worker_cpu_limit="2",
        repo_volume_claim="repos-claim",
        task_deadline_seconds=900,
        job_namespace="prazium",
        worker_service_account="prazium-worker",
    )
    owner = {
        "apiVersion": "prazium.io/v1alpha1",
        "kind": "Task",
        "metadata": {"name": "shop-1-task-001", "uid": "u-1"},
    }
    request = _request(
        Path("/data/tmp"),
        Path("/data/repos/t1/shop.git"),
        "abc",
        attempt=2,
        credentials_secret="shop-agent-keys",
    )
    job = build_job(request, owner, settings)
    name = job["metadata"]["name"]
    assert name == job_name("t1", "shop-1-task-001", 2)
    assert name.startswith("t1-shop-1-task-001-") and name.endswith("-a2")
    # The operator's namespace, not the tenant's; no ownerReference across namespaces.
    assert job["metadata"]["namespace"] == "prazium"
    assert "ownerReferences" not in job["metadata"]
    labels = job["metadata"]["labels"]
    assert labels["prazium.io/task-namespace"] == "t1"
    assert labels["prazium.io/run"] == "shop-1"
    assert labels["prazium.io/task"] == "shop-1-task-001"
    assert job["spec"]["template"]["metadata"]["labels"] == labels
    spec = job["spec"]
    assert spec["backoffLimit"] == 0 and spec["activeDeadlineSeconds"] == 900
    assert spec["ttlSecondsAfterFinished"] > 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "prazium-worker"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = pod["containers"]
    assert container["image"] == "prazium/worker:test"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["limits"]["cpu"] == "2"
    # The worker, its output also into the attempt's log file on the volume (bash
    # with pipefail, so the worker's exit status is the container's).
    assert container["command"][:2] == ["bash", "-c"]
    assert "set -o pipefail" in container["command"][2]
    # The worker waits for its go signal (its Job may be created ahead), then runs.
    assert "exec python -m prazium_operator.worker.waiting" in container["command"][2]
    assert container["command"][-5:] == [
        "/data/tmp/results/task-001-1.request.json",
        "/data/tmp/results/task-001-1.log",
        "/data/tmp/results/task-001-1.go",
        "unit-writer",  # its coder, whose modules it imports while it waits
        "20",  # the policy gate's limit: nothing runs before its NetworkPolicy is in force
    ]
    assert pod["terminationGracePeriodSeconds"] == 3
    repos = next(v for v in pod["volumes"] if v["name"] == "repos")
    assert repos["persistentVolumeClaim"] == {"claimName": "repos-claim"}
    # Only its own project's repository, workspace and run results, each at the path
    # it has on the operator's side (git's absolute worktree paths stay valid); the
    # parts of the repository that make git run commands read-only.
    mounts = {m["mountPath"]: m for m in container["volumeMounts"] if m["name"] == "repos"}
    assert "/data" not in mounts
    assert mounts["/data/repos/t1/shop.git"]["subPath"] == "repos/t1/shop.git"
    assert mounts["/data/workspaces/t1/shop"]["subPath"] == "workspaces/t1/shop"
    assert mounts["/data/tmp/results"]["subPath"] == "tmp/results"
    for part in ("config", "hooks", "info", "objects/info"):
        mount = mounts[f"/data/repos/t1/shop.git/{part}"]
        assert mount["readOnly"] is True and mount["subPath"] == f"repos/t1/shop.git/{part}"
    assert all(m.get("subPath") for m in mounts.values())
    assert job["spec"]["template"]["metadata"]["labels"]["prazium.io/role"] == "worker"
    assert pod["enableServiceLinks"] is False
    # The tenant's own agent keys as envFrom from the admin-provisioned
    # "<tenant>.<secret>" in the job namespace; no platform credential at all.
    assert container["envFrom"] == [{"secretRef": {"name": "t1.shop-agent-keys"}}]
    assert all("valueFrom" not in e for e in container["env"])
    plain = {e["name"]: e["value"] for e in container["env"]}
    assert plain == {
        "PRAZIUM_DATA_DIR": "/data",
        "PRAZIUM_TASK_LOG_MAX_BYTES": "1048576",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "safe.directory",
        "GIT_CONFIG_VALUE_0": "*",
        "PRAZIUM_WORKER_IN_POD": "true",
        "HOME": "/tmp",
    }


def test_job_spec_has_no_database_and_no_credentials_by_default() -> None:
    owner = {
        "apiVersion": "prazium.io/v1alpha1",
        "kind": "Task",
        "metadata": {"name": "shop-1-task-001", "uid": "u-1"},
    }
    request = _request(Path("/data/tmp"), Path("/data/repos/t1/shop.git"), "abc")
    job = build_job(request, owner, Settings(data_dir=Path("/data")))
    assert "serviceAccountName" not in job["spec"]["template"]["spec"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == []
    assert not any("DATABASE" in e["name"] for e in container["env"])


def test_job_namespace_defaults_to_the_pod_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRAZIUM_JOB_NAMESPACE", raising=False)
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    assert Settings().job_namespace == "prazium-system"
    monkeypatch.setenv("POD_NAMESPACE", "prz")
    assert Settings().job_namespace == "prz"
    monkeypatch.setenv("PRAZIUM_JOB_NAMESPACE", "jobs")
    assert Settings().job_namespace == "jobs"


def test_job_names_and_labels_stay_valid_and_apart_across_tenants() -> None:
    long_ns, long_task = "t" * 63, "r" * 200 + "-task-001"
    names = {
        job_name(ns, task, 1)
        for ns, task in [
            ("a", "b-task-001"),
            ("a-b", "task-001"),
            (long_ns, long_task),
            (long_ns, long_task[:-1] + "2"),
            ("a", "b-task-001-x"),
        ]
    }
    assert len(names) == 5
    dns_label = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    assert all(len(n) <= 63 and dns_label.match(n) for n in names)
    assert job_name(long_ns, long_task, 12) != job_name(long_ns, long_task, 1)
    assert label_value("short") == "short"
    long_value = label_value(long_task)
    assert len(long_value) <= 63 and long_value != label_value(long_task[:-1] + "2")


def test_merges_are_deterministic_and_conflicts_name_the_paths(repo: Path) -> None:
    root = gitrepo.rev_parse(repo, "main")
    assert root
    left = gitrepo.commit_files(repo, root, {"a.txt": "a\n", "same.txt": "left\n"}, "l", DATE)
    right = gitrepo.commit_files(repo, root, {"b.txt": "b\n", "same.txt": "right\n"}, "r", DATE)
    only_b = gitrepo.commit_files(repo, root, {"b.txt": "b\n"}, "b", DATE)
    assert gitrepo.merge(repo, root, left, "m", DATE).commit == left  # fast-forward
    first = gitrepo.merge(repo, left, only_b, "m", DATE).commit
    assert first and first == gitrepo.merge(repo, left, only_b, "m", DATE).commit
    assert gitrepo.merge(repo, first, only_b, "m", DATE).commit == first  # already in
    conflict = gitrepo.merge(repo, left, right, "m", DATE)
    assert conflict.commit is None and conflict.conflicts == ["same.txt"]


@pytest.mark.parametrize(
    ("output", "counts"),
    [
        ("test_a ... ok\n\nRan 12 tests in 0.3s\n\nOK\n", (12, 0)),
        ("Ran 5 tests in 0.1s\n\nFAILED (failures=1, errors=2)\n", (2, 3)),
        ("==== 7 passed, 1 failed in 0.5s ====", (7, 1)),
        ("nothing recognisable", (0, 0)),
    ],
)
def test_test_counts_from_unittest_and_pytest(output: str, counts: tuple[int, int]) -> None:
    assert verify.count_tests(output) == counts


def test_worker_commits_once_and_a_rerun_is_idempotent(repo: Path, tmp_path: Path) -> None:
    register_coder("unit-writer", _Writer)
    base = gitrepo.rev_parse(repo, "main")
    assert base
    request = _request(tmp_path, repo, base)
    head, created, modified = worker.execute(request)
    assert created == ["app/main.py"] and modified == []
    log = subprocess.run(
        ["git", "log", "-1", "--format=%an <%ae>|%s", head],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert log == "Prazium <unit-writer@prazium.io>|task-001 shell: App shell"
    # A second attempt (say, after a crash) finds the work done: no new commit.
    again, created_again, _ = worker.execute(_request(tmp_path, repo, base, attempt=2))
    assert again == head and created_again == ["app/main.py"]


def test_worker_refuses_changes_outside_the_path_scope(repo: Path, tmp_path: Path) -> None:
    register_coder("unit-stray", lambda: _Writer({"app/ok.py": "", "secrets.txt": "x"}))
    base = gitrepo.rev_parse(repo, "main")
    assert base
    with pytest.raises(worker.TaskFailure, match=r"secrets\.txt"):
        worker.execute(_request(tmp_path, repo, base, coder="unit-stray"))
    assert gitrepo.rev_parse(repo, "feat/run-1/task-001-shell") == base


def test_a_rerun_recovers_from_git_locks_left_by_a_killed_attempt(
    repo: Path, tmp_path: Path
) -> None:
    """Attempt 1 SIGKILLed inside `git reset` or `git commit` leaves index.lock / a ref
    lock behind; attempt 2 must not fail on them."""
    register_coder("unit-writer", _Writer)
    base = gitrepo.rev_parse(repo, "main")
    assert base
    first = _request(tmp_path, repo, base)
    worker.prepare_worktree(repo, Path(first.worktree), first.branch, base)
    admin = (
        Path(first.worktree) / (Path(first.worktree) / ".git").read_text().split(":", 1)[1].strip()
    )
    index_lock = admin / "index.lock"
    ref_lock = repo / "refs" / "heads" / f"{first.branch}.lock"
    index_lock.write_text("")
    ref_lock.parent.mkdir(parents=True, exist_ok=True)
    ref_lock.write_text("")
    head, created, _ = worker.execute(_request(tmp_path, repo, base, attempt=2))
    assert created == ["app/main.py"] and head != base
    assert gitrepo.rev_parse(repo, first.branch) == head
    assert not index_lock.exists() and not ref_lock.exists()


def test_a_rerun_without_its_worktree_finds_the_branch_and_discards_leftovers(
    repo: Path, tmp_path: Path
) -> None:
    """The first attempt's short path (one `git worktree add -b`) must not cost a re-run
    its safety: with the worktree directory gone (its registration stale) the branch's
    commit is found again, no second commit is made, and a dead attempt's leftovers in
    a kept worktree are discarded."""
    register_coder("unit-writer", _Writer)
    base = gitrepo.rev_parse(repo, "main")
    assert base
    head, _, _ = worker.execute(_request(tmp_path, repo, base))
    worktree = Path(_request(tmp_path, repo, base).worktree)
    shutil.rmtree(worktree)  # the directory gone, git's registration of it left stale
    again, created, modified = worker.execute(_request(tmp_path, repo, base, attempt=2))
    assert again == head and created == ["app/main.py"] and modified == []
    (worktree / "app" / "stray.txt").write_text("left by a killed attempt")
    (worktree / "app" / "main.py").write_text("half-written")
    third, created, _ = worker.execute(_request(tmp_path, repo, base, attempt=3))
    assert third == head and created == ["app/main.py"]
    assert not (worktree / "app" / "stray.txt").exists()
    assert (worktree / "app" / "main.py").read_text() == "print('hi')\n"

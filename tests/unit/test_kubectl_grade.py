"""What kubectl users see: Project events, durations, worker descriptions, paths, cleanup."""

from __future__ import annotations

from pathlib import Path

from prazium_kit import paths, timefmt
from prazium_kit.models import ExecutorRef, ProjectStatus
from prazium_operator import cleanup, gitrepo
from prazium_operator.reconcilers.run.tasks import describe_worker
from prazium_operator.status import project as project_status


def _reasons(before: ProjectStatus, after: ProjectStatus) -> list[str]:
    return [event.reason for event in project_status.events_between(before, after)]


def test_project_events_follow_what_a_step_changed() -> None:
    empty = ProjectStatus()
    asked = ProjectStatus.model_validate(
        {"questions": [{"id": "q1", "question": "Login?", "type": "boolean"}]}
    )
    written = asked.model_copy(
        update={"spec": ProjectStatus.model_validate({"spec": {"version": 1}}).spec}
    )
    approved = ProjectStatus.model_validate(
        {
            **asked.model_dump(by_alias=True),
            "spec": {"version": 1, "approvedVersion": 1, "commitSha": "a" * 40},
        }
    )
    assert _reasons(empty, asked) == ["QuestionsReady"]
    assert _reasons(asked, written) == ["SpecWritten"]
    assert _reasons(written, approved) == ["Approved"]
    assert _reasons(empty, approved) == ["QuestionsReady", "SpecWritten", "Approved"]
    assert _reasons(approved, approved) == []  # a step that changes nothing posts nothing
    events = project_status.events_between(written, approved)
    assert events[0].message.startswith("spec version 1 approved (commit aaaaaaaaaaaa on main)")


def test_a_stall_is_one_warning_event_with_the_reason_and_message() -> None:
    before = ProjectStatus()
    after = ProjectStatus()
    after.conditions = project_status.stalled_conditions(
        before, 2, project_status.UNKNOWN_AGENT, "spec.agent.planner: no planner 'x'"
    )
    events = project_status.events_between(before, after)
    assert [(e.reason, e.warning) for e in events] == [("Stalled", True)]
    assert events[0].message == "UnknownAgent: spec.agent.planner: no planner 'x'"
    assert project_status.events_between(after, after) == []


def test_durations_read_like_kubectl_ages() -> None:
    start = "2026-01-31T12:00:00Z"
    assert timefmt.duration(start, "2026-01-31T12:00:41Z") == "41s"
    assert timefmt.duration(start, "2026-01-31T12:02:13Z") == "2m13s"
    assert timefmt.duration(start, "2026-01-31T13:04:59Z") == "1h4m"
    assert timefmt.duration(None, start) is None


def test_workers_are_described_in_words_not_as_a_dict() -> None:
    assert describe_worker(ExecutorRef(kind="local", pid=26937)) == "local process 26937"
    job = ExecutorRef(kind="kubernetes", name="pz-x-1", pod="pz-x-1-abcde")
    assert describe_worker(job) == "Job pz-x-1, pod pz-x-1-abcde"
    assert describe_worker(ExecutorRef(kind="kubernetes")) == "Job ?"


def test_status_paths_are_relative_to_the_volume(tmp_path: Path) -> None:
    repo = paths.repo_path(tmp_path, "t1", "shop")
    assert paths.volume_relative(tmp_path, repo) == "repos/t1/shop.git"


def test_deleting_a_run_then_its_project_leaves_nothing_of_the_tenant(tmp_path: Path) -> None:
    repo = paths.repo_path(tmp_path, "t1", "shop")
    gitrepo.init_bare(repo)
    worktree = paths.task_worktree(tmp_path, "t1", "shop", "shop-r1", "task-001")
    gitrepo.git("worktree", "add", "--detach", str(worktree), gitrepo.MAIN, cwd=repo)
    (worktree / "leftover.txt").write_text("x")
    for attempt in (1, 2):
        result = paths.result_path(tmp_path, "t1", "shop-r1", "task-001", attempt)
        result.parent.mkdir(parents=True, exist_ok=True)
        result.write_text("{}")
    other = paths.result_path(tmp_path, "t1", "shop-r2", "task-001", 1)
    other.parent.mkdir(parents=True)
    other.write_text("{}")

    cleanup.remove_run_files(tmp_path, "t1", "shop", "shop-r1")
    assert not worktree.parent.exists()
    assert str(worktree) not in gitrepo.git("worktree", "list", cwd=repo).stdout
    assert not paths.run_results(tmp_path, "t1", "shop-r1").exists()
    assert other.exists()  # another run's results stay

    cleanup.remove_run_files(tmp_path, "t1", "shop", "shop-r2")
    cleanup.remove_project_files(tmp_path, "t1", "shop")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "repos",
        "results",
        "workspaces",
    ]

"""Jobs created ahead of their work: the pure decisions (core.prestart_round), the room
for waiting Pods, the go signal and the waiting process's side of it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from prazium_operator import go_signal
from prazium_operator.executor import prestart
from prazium_operator.reconcilers.run.core import TaskView, hold_ahead, prestart_round
from prazium_operator.worker import waiting


def _t(task_id: str, phase: str, *deps: str) -> TaskView:
    return TaskView(id=task_id, slug=task_id, phase=phase, dependencies=deps)  # type: ignore[arg-type]


def _decide(  # type: ignore[no-untyped-def]
    tasks: list[TaskView],
    parallelism: int = 3,
    ahead: set[str] | None = None,
    depth: int = 1,
    **kw: bool,
):
    return prestart_round(
        tasks,
        parallelism,
        ahead or set(),
        verify=kw.get("verify", True),
        verification_prestarted=kw.get("verification_prestarted", False),
        depth=depth,
    )


def test_a_task_whose_dependencies_run_gets_its_job_ahead() -> None:
    tasks = [_t("a", "running"), _t("b", "pending", "a"), _t("c", "pending", "b")]
    decision = _decide(tasks)
    # b waits for a, which runs; c would wait for b, which is not under way yet.
    assert decision.create == ["b"]
    assert decision.discard == [] and decision.verification is False


def test_a_task_with_one_dependency_not_started_waits_for_it() -> None:
    tasks = [_t("a", "running"), _t("b", "pending"), _t("c", "pending", "a", "b")]
    decision = _decide(tasks)
    # b has no dependencies (it starts in this round or waits for a slot): ahead too;
    # c depends on b, which has not started.
    assert decision.create == ["b"]


def test_ready_tasks_blocked_by_the_slots_get_their_job_ahead() -> None:
    tasks = [_t("a", "succeeded"), _t("b", "queued", "a"), _t("c", "queued", "a")]
    assert _decide(tasks).create == ["b", "c"]


def test_no_more_wait_than_the_run_parallelism() -> None:
    tasks = [_t("a", "running")] + [_t(f"t{i}", "pending", "a") for i in range(5)]
    assert _decide(tasks, parallelism=2).create == ["t0", "t1"]
    # Two wait already: none more.
    assert _decide(tasks, parallelism=2, ahead={"t0", "t1"}).create == []
    # One of them started (running): the count of waiting ones is one.
    started = [_t("a", "running"), _t("t0", "running", "a")] + [
        _t(f"t{i}", "pending", "a") for i in range(1, 5)
    ]
    assert _decide(started, parallelism=2, ahead={"t1"}).create == ["t2"]


def test_a_failed_task_discards_every_job_ahead_and_creates_none() -> None:
    tasks = [_t("a", "failed"), _t("b", "running"), _t("c", "pending", "b"), _t("d", "pending")]
    decision = _decide(tasks, ahead={"c", "d"})
    assert decision == prestart_round(
        tasks, 3, {"c", "d"}, verify=True, verification_prestarted=False
    )
    assert decision.create == [] and decision.verification is False
    assert decision.discard == ["c", "d"]


def test_a_task_no_longer_going_to_start_has_its_job_discarded() -> None:
    tasks = [
        _t("a", "succeeded"),
        _t("b", "cancelled", "a"),
        _t("c", "succeeded", "a"),  # taken over by a retry's reuse
        _t("d", "running", "a"),  # started: its Job is its worker's now, kept
        _t("e", "queued", "a"),
    ]
    decision = _decide(tasks, ahead={"b", "c", "d", "e", "gone"})
    assert decision.discard == ["b", "c", "gone"]
    assert decision.create == []


def test_the_verification_waits_once_every_task_is_under_way() -> None:
    running = [_t("a", "succeeded"), _t("b", "running", "a"), _t("c", "running", "a")]
    assert _decide(running).verification is True
    assert _decide(running, verification_prestarted=True).verification is False
    assert _decide(running, verify=False).verification is False
    pending = [*running, _t("d", "pending", "b")]
    assert _decide(pending).verification is False
    assert _decide([]).verification is False


def test_the_room_bounds_waiting_pods_and_forgets_a_run() -> None:
    room = prestart.Room(2)
    assert room.free() == 2
    room.take("j1", "t1", "r1")
    room.take("j2", "t1", "r2")
    assert room.free() == 0 and room.holds("j1")
    assert room.release("j1") is not None and room.release("j1") is None
    room.take("j3", "t1", "r2")
    assert sorted(room.of_run("t1", "r2")) == ["j2", "j3"]
    room.forget_run("t1", "r2")
    assert room.waiting == 0 and room.free() == 2
    assert prestart.Room(-1).free() == 0


def test_a_waiting_jobs_deadline_is_kept_ahead_of_its_wait() -> None:
    room = prestart.Room(4)
    # A 100 s deadline, created at t=1000: once less than half of it is left (t=1050),
    # it is due, and the work gets its whole 100 s from then on (plus the wait).
    room.take("j1", "t1", "r1", created=1000.0, deadline_seconds=100)
    assert room.due(1049.9) == {}
    assert room.due(1050.0) == {"j1": 151}
    # Until it is extended, it stays due (a failed patch is tried again).
    assert room.due(1060.0) == {"j1": 161}
    room.extended("j1", 161)
    assert room.due(1110.9) == {}
    assert room.due(1111.0) == {"j1": 212}
    # Found again after a restart with the deadline it has: due sooner.
    room.take("j2", "t1", "r1", created=1000.0, deadline_seconds=100, active_seconds=60)
    assert room.due(1010.0) == {"j2": 111}
    # No deadline of its own, nothing to keep; a released Job is no longer kept.
    room.take("j3", "t1", "r1", created=0.0)
    room.release("j1")
    room.release("j2")
    assert room.due(1e9) == {}
    room.extended("j1", 500)
    assert not room.holds("j1")


def test_a_deadline_counts_from_the_go_signal() -> None:
    # Created 100.4 s ago: the deadline is the work's own plus the wait, rounded up.
    assert prestart.extended_deadline(900, created=1000.0, now=1100.4) == 1001
    assert prestart.extended_deadline(900, created=1000.0, now=999.0) == 901


def test_prestarter_knows_an_executor_that_creates_jobs_ahead() -> None:
    from prazium_operator.executor.kubernetes import KubernetesExecutor
    from prazium_operator.executor.local import LocalExecutor
    from prazium_operator.settings import Settings

    settings = Settings(executor="kubernetes", max_workers=3)
    kubernetes = KubernetesExecutor(settings)
    assert prestart.prestarter(kubernetes) is kubernetes
    assert kubernetes.room.limit == 3  # max_prestarted defaults to max_workers
    assert KubernetesExecutor(Settings(max_prestarted=0)).room.free() == 0
    assert prestart.prestarter(LocalExecutor(Settings(fork_server=False))) is None


def test_the_go_signal_names_its_request_and_is_checked(tmp_path: Path) -> None:
    result = tmp_path / "task-002-1.json"
    request = tmp_path / "task-002-1.request.json"
    go = go_signal.task_go(result)
    assert go == tmp_path / "task-002-1.go"
    assert go_signal.verification_go(tmp_path) == tmp_path / "start.go"
    assert not go_signal.given(go, request)
    request.write_text('{"attempt": 1}')
    go_signal.write(go, request)
    assert go_signal.given(go, request)
    # A request replaced after the signal (being rewritten): not the one signalled.
    request.write_text('{"attempt": 1, "x": 2}')
    assert not go_signal.given(go, request)
    # A signal without a request to check is only good for a waiter that has none.
    go_signal.write(go)
    assert go_signal.given(go) and not go_signal.given(go, request)
    go_signal.clear(go)
    assert not go.exists()
    # Never through a symlink (a task's code can write the results directory).
    other = tmp_path / "elsewhere"
    go_signal.write(other)
    go.symlink_to(other)
    assert not go_signal.given(go)


def test_wait_returns_once_the_signal_is_given(tmp_path: Path) -> None:
    go = tmp_path / "start.go"
    timer = threading.Timer(0.2, go_signal.write, args=(go,))
    timer.start()
    waited = go_signal.wait(go, poll=0.01)
    timer.join()
    assert 0.15 <= waited < 5


def test_the_waiting_process_execs_its_command_on_the_signal(tmp_path: Path) -> None:
    go, out = tmp_path / "start.go", tmp_path / "out"
    argv = [sys.executable, "-m", "prazium_operator.worker.waiting", "--go", str(go), "--"]
    proc = subprocess.Popen([*argv, "sh", "-c", f"echo ran > {out}"], env=_env())
    time.sleep(0.5)
    assert proc.poll() is None and not out.exists()  # waits for the signal
    go_signal.write(go)
    assert proc.wait(timeout=30) == 0
    assert out.read_text() == "ran\n"


def test_term_ends_a_waiting_process_at_once(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "prazium_operator.worker.waiting", "--go", str(tmp_path / "g")]
    proc = subprocess.Popen([*argv, "--", "true"], env=_env())
    time.sleep(0.5)
    proc.terminate()
    assert proc.wait(timeout=10) == waiting.EXIT_TERMINATED


def test_the_waiting_process_wants_a_request_or_a_command() -> None:
    with pytest.raises(SystemExit):
        waiting.parse(["--go", "g"])
    with pytest.raises(SystemExit):
        waiting.parse(["--go", "g", "--request", "r", "--", "true"])
    assert waiting.parse(["--go", "g", "--", "echo", "--go"]).command == ["echo", "--go"]


def _env() -> dict[str, str]:
    root = Path(__file__).resolve().parents[2]
    paths = [str(root / "operator"), str(root / "kit"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def test_depth_two_creates_a_job_for_a_task_whose_dependency_waits() -> None:
    tasks = [
        _t("a", "running"),
        _t("b", "pending", "a"),
        _t("c", "pending", "b"),
        _t("d", "pending", "c"),
    ]
    # b is level 1 (a runs), c level 2 (its dependency b waits), d level 3.
    assert _decide(tasks, depth=2).create == ["b", "c"]
    assert _decide(tasks, depth=3).create == ["b", "c", "d"]
    assert _decide(tasks, depth=1).create == ["b"]
    # b's Pod waits already: c may follow it, the room counting b.
    assert _decide(tasks, parallelism=2, ahead={"b"}, depth=2).create == ["c"]


def test_nearer_levels_come_first_when_the_room_is_short() -> None:
    tasks = [
        _t("a", "running"),
        _t("far", "pending", "near1"),
        _t("near1", "pending", "a"),
        _t("near2", "pending", "a"),
    ]
    assert _decide(tasks, parallelism=2, depth=2).create == ["near1", "near2"]


def test_a_task_behind_a_task_that_cannot_start_gets_no_job_at_any_depth() -> None:
    tasks = [
        _t("a", "running"),
        _t("b", "cancelled"),
        _t("c", "pending", "b"),
        _t("d", "pending", "c", "a"),
        _t("e", "pending", "ghost"),
    ]
    assert _decide(tasks, depth=10).create == []


def test_the_verification_waits_one_level_behind_the_last_tasks() -> None:
    tasks = [_t("a", "running"), _t("b", "pending", "a")]
    assert _decide(tasks, depth=1).verification is False
    assert _decide(tasks, depth=2).verification is True
    deeper = [*tasks, _t("c", "pending", "b")]
    assert _decide(deeper, depth=2).verification is False


def test_jobs_ahead_are_held_back_only_while_others_queue_and_the_nodes_are_short() -> None:
    # Other runs queue for a slot, and the nodes have room for fewer Pods than the 4
    # slots: a Pod created ahead would be deleted for them.
    assert hold_ahead(True, 0, 4)
    assert hold_ahead(True, 3, 4)
    # Room to spare, nobody else queued, or the room unknown: created ahead as usual.
    assert not hold_ahead(True, 4, 4)
    assert not hold_ahead(False, 0, 4)
    assert not hold_ahead(True, None, 4)

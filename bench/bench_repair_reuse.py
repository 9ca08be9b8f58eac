"""Benchmark: what a repair round adds to a run's wall time, and what a retry saves.

What it does: starts the real operator (local executor) against the real control
plane and PostgreSQL (a throw-away stack, like `make test`), then:

Repair round. The notes example (the template planner's plan for it; the output
names its size) built side by side, one run after the other,
``PRAZIUM_BENCH_REPAIR_REPEAT`` (default 3) times each, with the `command` coder of
tests/support/repair_coder.py: mode pass (the template coder on each task, the app
passes its tests at once) and mode break-and-fix (the smoke-tests task also adds a
failing test; the repair task removes it, so the run succeeds after one repair
round). Same app, same coder, same machine. From the journal's timestamps:
  wall         RUN_STARTED -> final event, p50 per mode; extra = repaired - passing
  round        the first VERIFICATION_COMPLETED -> the round's VERIFICATION_COMPLETED of
               a repaired run: the repair round itself (the run's end, tag and final
               status, both modes have), split into
    start      VERIFICATION_COMPLETED -> the repair task's TASK_STARTED (the round's
               event, Task creation, status write, scheduling, worker start)
    repair     the repair task's TASK_STARTED -> TASK_COMPLETED (its coder: here a few
               lines of Python; with an LLM the model's time)
    merge      MERGE_STARTED -> MERGE_COMPLETED of the round
    verify     VERIFICATION_STARTED -> VERIFICATION_COMPLETED of the round
The platform's share is extra minus the repair coder's own time.

Retry. The answered todo example (the template planner's plan for it; the output
names its size) built with the `openai` coder against the loopback stand-in of the
endpoint (tests/support/task_standin.py), which counts model requests per task and
refuses the first request of the task the retry test fails too (tests/support/
plans.py: the last task with dependents and a sibling started beside it) once every
task that does not need it has its answer: run 1 fails with that task failed and its
dependents cancelled. Then its retry (spec.reuse true, the default) and a retry with
spec.reuse false, one after the other: model requests and wall time of each, and
which tasks were asked for.

How to run:

    make bench-repair-reuse      # or, with a dev dir of your own:
    PRAZIUM_NODE=0 PRAZIUM_TEST_DEV_DIR=/tmp/pz-bench \
        scripts/test.sh bench/bench_repair_reuse.py -q -s
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "kit"), str(ROOT / "operator")]

import pytest  # noqa: E402
import yaml  # noqa: E402
from kubernetes import client, config  # noqa: E402

from tests.support.build import (  # noqa: E402
    create,
    tasks_of,
    wait_final_event,
    wait_phase,
    wait_run_done,
)
from tests.support.plans import template_plan  # noqa: E402
from tests.support.providers import OPENAI, env_for  # noqa: E402
from tests.support.repair_coder import Mode, coder  # noqa: E402
from tests.support.services import Stack, start_operator, wait_for  # noqa: E402
from tests.support.task_standin import TaskCountingStandin  # noqa: E402

EXAMPLES = ROOT / "examples"
KEY = "sk-bench-repair-reuse-5e1d"


def _seconds(a: Any, b: Any) -> float:
    return float((b - a).total_seconds())


def _heartbeat(stack: Stack, pid: int) -> bool:
    import psycopg

    with psycopg.connect(stack.database_url) as conn:
        found = conn.execute(
            "SELECT 1 FROM operator_heartbeats WHERE instance LIKE %s", (f"%-{pid}",)
        ).fetchone()
    return found is not None


@contextmanager
def operator_in_namespace(stack: Stack, work: Path, **env: str) -> Iterator[tuple[str, Any]]:
    """A fresh namespace and an operator watching it (local executor)."""
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    data = work / namespace
    data.mkdir(parents=True)
    operator = start_operator(stack, data, [namespace], work / f"{namespace}-logs", **env)
    try:
        wait_for(lambda: _heartbeat(stack, operator.pid), 60, "operator heartbeat", operator)
        yield namespace, operator
    finally:
        operator.stop()
        core.delete_namespace(namespace, propagation_policy="Background")


def _approved(
    namespace: str, name: str, example: str, operator: Any, **spec: Any
) -> dict[str, Any]:
    manifest = yaml.safe_load((EXAMPLES / example).read_text())
    create(namespace, "projects", "Project", name, {**manifest["spec"], **spec})
    return wait_phase(namespace, "projects", name, {"approved"}, operator, timeout=120)


def _journal(
    stack: Stack, namespace: str, run: str, operator: Any, phase: str = "succeeded"
) -> list[dict[str, Any]]:
    """The run's journal once it ended in phase (else the bench stops, saying why)."""
    done = wait_run_done(namespace, run, operator, timeout=600)
    if done["status"]["phase"] != phase:
        raise RuntimeError(f"{run}: {done['status']['phase']}: {done['status'].get('message')}")
    return wait_final_event(stack.database_url, namespace, run, operator)


# ------------------------------------------------------------------------ repair round


def repair_figures(journal: list[dict[str, Any]]) -> dict[str, float]:
    """wall, and for a repaired run the parts of its round (see the docstring)."""
    at = [(e["type"], e["task"], e["at"]) for e in journal]
    start = next(t for kind, _, t in at if kind == "RUN_STARTED")
    figures = {"wall": _seconds(start, at[-1][2])}
    repair = next((e for e in journal if e["type"] == "REPAIR_STARTED"), None)
    if repair is None:
        return figures
    task = f"task-{repair['payload']['taskId'].removeprefix('task_')}"
    first_verdict = next(t for kind, _, t in at if kind == "VERIFICATION_COMPLETED")

    def when(kind: str, of: str | None = None, after: Any = first_verdict) -> Any:
        return next(
            t for k, task_, t in at if k == kind and (of is None or task_ == of) and t >= after
        )

    second_verdict = when("VERIFICATION_COMPLETED", after=when("VERIFICATION_STARTED"))
    figures.update(
        round=_seconds(first_verdict, second_verdict),
        start=_seconds(first_verdict, when("TASK_STARTED", task)),
        repair=_seconds(when("TASK_STARTED", task), when("TASK_COMPLETED", task)),
        merge=_seconds(when("MERGE_STARTED"), when("MERGE_COMPLETED")),
        verify=_seconds(when("VERIFICATION_STARTED"), second_verdict),
    )
    return figures


def bench_repair(stack: Stack, work: Path, repeat: int) -> str:
    modes: tuple[Mode, ...] = ("pass", "break-and-fix")
    results: dict[Mode, list[dict[str, float]]] = {mode: [] for mode in modes}
    with operator_in_namespace(stack, work) as (namespace, operator):
        for mode in modes:
            _approved(namespace, f"notes-{mode}", "project-gitops.yaml", operator)
        for index in range(repeat):
            for mode in modes:  # side by side: one of each per repetition
                run = f"notes-{mode}-{index}"
                create(
                    namespace,
                    "runs",
                    "Run",
                    run,
                    {
                        "projectRef": {"name": f"notes-{mode}"},
                        "agent": {"coder": "command", "command": coder(mode)},
                    },
                )
                results[mode].append(repair_figures(_journal(stack, namespace, run, operator)))
        planned = len(tasks_of(namespace, f"notes-pass-{repeat - 1}"))  # the plan's size
    passing = statistics.median(r["wall"] for r in results["pass"])
    repaired = statistics.median(r["wall"] for r in results["break-and-fix"])
    rounds = results["break-and-fix"]
    lines = [
        f"  runs: {repeat} per mode, notes example ({planned} tasks, +1 repair task when"
        " repaired), command coder, local executor",
        f"  wall p50   passing at once {passing:6.2f} s   repaired in one round {repaired:6.2f} s",
        f"  extra      {repaired - passing:6.2f} s  ({(repaired / passing - 1) * 100:.0f} %)",
        f"  walls      passing {[round(r['wall'], 2) for r in results['pass']]}",
        f"             repaired {[round(r['wall'], 2) for r in rounds]}",
        "  the repair round, p50 (first verdict -> the round's verdict):",
    ]
    for part in ("round", "start", "repair", "merge", "verify"):
        lines.append(f"    {part:<8} {statistics.median(r[part] for r in rounds):6.2f} s")
    platform = repaired - passing - statistics.median(r["repair"] for r in rounds)
    lines.append(f"  platform share of the extra (extra - repair coder): {platform:.2f} s")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ retry


def bench_retry(stack: Stack, work: Path) -> str:
    with TaskCountingStandin(KEY) as standin:
        env = env_for(OPENAI, standin.base_url, KEY, "standin-1")
        with operator_in_namespace(stack, work, **env) as (namespace, operator):
            project = _approved(
                namespace,
                "todo",
                "project-answered.yaml",
                operator,
                agent={"coder": "openai", "model": "standin-1"},
            )
            plan = template_plan(work / namespace / project["status"]["repoPath"], project)
            failing = plan.failing_beside_a_sibling()
            expected = plan.phases_after_failure(failing)
            standin.refuse_once(failing, [t for t, p in expected.items() if p == "succeeded"])
            create(namespace, "runs", "Run", "todo-first", {"projectRef": {"name": "todo"}})
            first = _journal(stack, namespace, "todo-first", operator, "failed")
            failed = sorted({e["task"] for e in first if e["type"] == "TASK_FAILED"})
            counts = {"first run": len(standin.coded)}
            walls = {"first run": _seconds(first[0]["at"], first[-1]["at"])}
            asked: dict[str, list[str]] = {"first run": sorted(standin.coded)}
            for label, reuse in (("retry, reuse", True), ("retry, reuse: false", False)):
                before = len(standin.coded)
                run = f"todo-{'reuse' if reuse else 'full'}"
                create(
                    namespace,
                    "runs",
                    "Run",
                    run,
                    {
                        "projectRef": {"name": "todo"},
                        "trigger": "retry",
                        "retryOf": "todo-first",
                        "reuse": reuse,
                    },
                )
                journal = _journal(stack, namespace, run, operator)
                counts[label] = len(standin.coded) - before
                asked[label] = sorted(standin.coded[before:])
                walls[label] = _seconds(journal[0]["at"], journal[-1]["at"])
    with_reuse, without = counts["retry, reuse"], counts["retry, reuse: false"]
    lines = [
        f"  todo example ({len(plan)} tasks), openai coder against the loopback stand-in;"
        f" run 1 failed at {', '.join(failed)}",
    ]
    for label, count in counts.items():
        which = ", ".join(asked[label])
        lines.append(f"  {label:<20} {count} model requests ({which}), wall {walls[label]:.2f} s")
    lines.append(
        f"  a retry saves {without - with_reuse} of {without} model requests"
        f" ({(without - with_reuse) / without * 100:.0f} %) with reuse"
    )
    return "\n".join(lines)


def stack_from_env() -> Stack:
    try:
        return Stack(
            kubeconfig=os.environ["PRAZIUM_TEST_KUBECONFIG"],
            database_url=os.environ["PRAZIUM_TEST_DATABASE_URL"],
            kubectl=os.environ["PRAZIUM_TEST_KUBECTL"],
        )
    except KeyError as missing:
        raise SystemExit(f"{missing} is not set: run `make bench-repair-reuse`") from None


@pytest.mark.timeout(3600)
def test_bench_repair_reuse(tmp_path: Path) -> None:
    """Entry point when run through scripts/test.sh (pytest starts nothing else)."""
    started = time.monotonic()
    stack = stack_from_env()
    config.load_kube_config(config_file=stack.kubeconfig)
    print(f"\nload average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    repeat = int(os.environ.get("PRAZIUM_BENCH_REPAIR_REPEAT", "3"))
    print("\nextra wall time of one repair round:")
    print(bench_repair(stack, tmp_path, repeat))
    print("\nmodel requests a retry saves:")
    print(bench_retry(stack, tmp_path))
    took = time.monotonic() - started
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}; bench took {took:.1f} s")


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-q", "-s"]))

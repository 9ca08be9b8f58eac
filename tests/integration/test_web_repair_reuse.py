"""The dashboard shows a repair round's task and a retry's reused tasks, in Debian's
headless Chromium against the real API and operator.

Three runs of the notes example: one repaired in a round (tests/support/repair_coder.py),
one whose smoke-tests task (the plan's last, after every other) fails, and that one's
retry with the template coder, which takes over every other task. Task ids and counts
come from the runs' own plans (tests/support/plans.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from prazium_kit import ids
from tests.support import browser
from tests.support.build import create, kubectl_apply, tasks_of, wait_phase, wait_run_done
from tests.support.plans import SMOKE_TESTS, PlanGraph
from tests.support.repair_coder import coder, failing_on
from tests.support.services import ServiceProcess, Stack, start_api

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROJECT = "notes-gitops"
expect.set_options(timeout=60_000)


def _build(namespace: str, name: str, operator: ServiceProcess, **spec: object) -> str:
    create(namespace, "runs", "Run", name, {"projectRef": {"name": PROJECT}, **spec})
    return str(wait_run_done(namespace, name, operator, timeout=240)["status"]["phase"])


def _accessible(page: Page, what: str) -> None:
    assert browser.serious_violations(page) == [], what


@pytest.mark.timeout(1200)
def test_the_run_page_shows_the_repair_task_and_the_reused_tasks(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
    operator: ServiceProcess,
    make_key: Callable[..., str],
) -> None:
    kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
    wait_phase(namespace, "projects", PROJECT, {"approved"}, operator)
    repaired = {"coder": "command", "command": coder("break-and-fix")}
    assert _build(namespace, "notes-repaired", operator, agent=repaired) == "succeeded"
    plan = PlanGraph.of_run(tasks_of(namespace, "notes-repaired"))
    [repair_id] = plan.next_ids()
    smoke = plan.by_slug(SMOKE_TESTS)
    assert plan.sinks() == [smoke]  # so its failure cancels nothing: the rest is reused
    failing = {"coder": "command", "command": failing_on(SMOKE_TESTS)}
    assert _build(namespace, "notes-failed", operator, agent=failing) == "failed"
    retried = {"trigger": "retry", "retryOf": "notes-failed"}
    assert _build(namespace, "notes-retried", operator, **retried) == "succeeded"
    reused_ids = [ids.task_id(t) for t in plan.order if t != smoke]

    key = make_key(namespace, "enterprise")
    api, base = start_api(stack, data_dir, tmp_path / "logs")
    try:
        with browser.chromium() as chromium, browser.context(chromium, base) as (ctx, _):
            page = ctx.new_page()
            page.goto("/")
            page.get_by_label("API key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()

            # The repaired run: the repair task is a node of its own, merged last.
            page.goto(f"/#/projects/proj_{PROJECT}/runs/run_notes-repaired")
            nodes = page.locator("#graph g.node")
            expect(nodes).to_have_count(len(plan) + 1)
            repair = page.locator(f'#graph g.node[data-task-id="{ids.task_id(repair_id)}"]')
            expect(repair).to_have_class("node phase-succeeded repair")
            expect(repair).to_contain_text("repair-1")
            expect(page.locator("#merge-order li")).to_have_count(len(plan) + 1)
            expect(page.locator("#merge-order li").last).to_contain_text("repair-1")
            expect(page.locator("#timeline .ev-REPAIR_STARTED")).to_have_count(1)
            _accessible(page, "repaired run")
            browser.screenshot(page, "repair-run")

            # The retry: every node but the smoke tests' says reused, that one does not.
            page.goto(f"/#/projects/proj_{PROJECT}/runs/run_notes-retried")
            expect(page.locator("#graph g.node")).to_have_count(len(plan))
            reused = page.locator("#graph g.node.reused")
            expect(reused).to_have_count(len(reused_ids))
            for task_id in reused_ids:
                node = page.locator(f'#graph g.node[data-task-id="{task_id}"]')
                # The phase, then the duration the journal gives (if any).
                expect(node.locator(".node-phase")).to_have_text(
                    re.compile(r"^succeeded · reused( · .+)?$")
                )
            rerun = page.locator(f'#graph g.node[data-task-id="{ids.task_id(smoke)}"]')
            expect(rerun.locator(".node-phase")).to_have_text(re.compile(r"^succeeded( · .+)?$"))
            expect(page.locator("#timeline .ev-TASK_REUSED")).to_have_count(len(reused_ids))
            shown = reused_ids[1]
            page.locator(f'#graph g.node[data-task-id="{shown}"]').click()
            panel = page.locator("#task-panel")
            expect(panel.locator("#task-reused-from")).to_have_text(f"run_notes-failed/{shown}")
            expect(panel).to_contain_text("no agent was called")
            expect(panel.locator("#task-log")).to_contain_text("reused", timeout=30_000)
            _accessible(page, "retried run with its task panel")
            browser.screenshot(page, "reuse-run")
    finally:
        api.stop()

"""A Run's Published condition survives the phase changes that rewrite Ready /
Reconciling / Stalled (status/conditions.py), and the tag name follows the ids rule."""

from __future__ import annotations

from prazium_kit import ids
from prazium_kit.models import Condition, RunStatus
from prazium_operator.status import run as run_status


def test_published_condition_is_kept_through_the_final_phase() -> None:
    status = RunStatus()
    run_status.set_phase(status, "verifying", "", 1)
    published = Condition(
        type="Published",
        status="False",
        reason="PublishFailed",
        message="x",
        lastTransitionTime="2024-01-15T11:00:00Z",
    )
    status.conditions = [*(status.conditions or []), published]
    run_status.set_phase(status, "succeeded", "succeeded; publishing failed", 1)
    by_type = {c.type: c for c in status.conditions or []}
    assert set(by_type) == {"Ready", "Reconciling", "Stalled", "Published"}
    assert by_type["Ready"].status == "True"
    assert by_type["Published"] == published


def test_run_tag_is_run_dash_run_id() -> None:
    assert ids.run_tag("notes-build") == "run-run_notes-build"

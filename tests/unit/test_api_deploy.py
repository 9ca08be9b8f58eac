"""How a preview's status follows its Deployment, and how the entry point is found."""

from __future__ import annotations

import pytest

from prazium_api.contract.errors import ApiError
from prazium_api.previews import deploy


def _deployment(available: int = 0, conditions: list | None = None) -> dict:
    return {"status": {"availableReplicas": available, "conditions": conditions or []}}


def test_available_replica_is_live() -> None:
    assert deploy.status_of(_deployment(available=1)) == "live"


def test_rollout_in_progress_is_deploying() -> None:
    progressing = {"type": "Progressing", "status": "True"}
    assert deploy.status_of(_deployment(conditions=[progressing])) == "deploying"
    assert deploy.status_of({"metadata": {}}) == "deploying"


def test_stalled_rollout_is_failed() -> None:
    stalled = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    assert deploy.status_of(_deployment(conditions=[stalled])) == "failed"
    quota = {"type": "ReplicaFailure", "status": "True"}
    assert deploy.status_of(_deployment(conditions=[quota])) == "failed"


def test_entry_point_from_package_run_script_or_readme() -> None:
    assert deploy.entry_command({"app/__main__.py": 1}, "") == ["python", "-m", "app"]
    assert deploy.entry_command({"run.sh": 1}, "") == ["sh", "run.sh"]
    assert deploy.entry_command({"x.py": 1}, "Run: `python3 -m notes.web`") == [
        "python",
        "-m",
        "notes.web",
    ]
    with pytest.raises(ApiError):
        deploy.entry_command({"x.py": 1}, "no idea")

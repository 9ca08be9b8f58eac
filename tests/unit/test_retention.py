"""The retention policy's choice of Runs to prune (operator/prazium_operator/retention.py)."""

from __future__ import annotations

import datetime as dt

from prazium_operator.retention import Policy, RunFacts, policy_for, prunable
from prazium_operator.settings import Settings

NOW = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)


def _run(number: int, finished: bool = True, days_ago: float = 0) -> RunFacts:
    return RunFacts(f"p-r{number}", number, finished, NOW - dt.timedelta(days=days_ago))


def test_keep_last_prunes_the_oldest_finished_runs_only() -> None:
    runs = [_run(1), _run(2), _run(3), _run(4, finished=False), _run(5)]
    assert sorted(prunable(runs, Policy(2, None), NOW)) == ["p-r1", "p-r2"]


def test_age_prunes_old_runs_but_always_keeps_the_newest_finished() -> None:
    runs = [_run(1, days_ago=30), _run(2, days_ago=20), _run(3, days_ago=1)]
    assert sorted(prunable(runs, Policy(0, dt.timedelta(days=7)), NOW)) == ["p-r1", "p-r2"]
    only_old = [_run(1, days_ago=30), _run(2, days_ago=20)]
    assert prunable(only_old, Policy(0, dt.timedelta(days=7)), NOW) == ["p-r1"]


def test_no_policy_prunes_nothing_and_active_runs_are_never_chosen() -> None:
    runs = [_run(1, days_ago=100), _run(2, finished=False), _run(3)]
    assert prunable(runs, Policy(0, None), NOW) == []
    assert prunable(runs, Policy(1, dt.timedelta(hours=1)), NOW) == ["p-r1"]


def test_a_projects_spec_overrides_the_installation_field_by_field() -> None:
    settings = Settings(retention_keep_last_runs=20, retention_max_age_hours=48)
    assert policy_for(settings, None) == Policy(20, dt.timedelta(hours=48))
    project = {"spec": {"displayName": "x", "description": "a long description"}}
    assert policy_for(settings, project) == Policy(20, dt.timedelta(hours=48))
    project["spec"]["retention"] = {"keepLastRuns": 3}
    assert policy_for(settings, project) == Policy(3, dt.timedelta(hours=48))
    off = Settings(retention_keep_last_runs=0, retention_max_age_hours=0)
    assert policy_for(off, {"spec": {**project["spec"], "retention": {"maxAgeHours": 2}}}) == (
        Policy(0, dt.timedelta(hours=2))
    )


def test_a_project_with_one_finished_run_has_nothing_to_prune_under_any_policy() -> None:
    # The sweep reads no Project with fewer than two finished Runs: this is why.
    runs = [_run(1, days_ago=400), _run(2, finished=False, days_ago=300)]
    for policy in (Policy(1, None), Policy(0, dt.timedelta(hours=1)), Policy(1, dt.timedelta(0))):
        assert prunable(runs, policy, NOW) == []

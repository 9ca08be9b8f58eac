"""Retrying through outages (a database that is away for a while must not fail a
build): the backoff's bounds, what counts as an outage, and a worker's journal that
keeps its events when PostgreSQL cannot be reached."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import psycopg
import pytest
import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from prazium_operator import recorder, retrying
from prazium_operator.reconcilers.run.tasks import lost_worker_delay


def test_delays_grow_jittered_up_to_the_cap_and_stay_within_the_window() -> None:
    waits = list(retrying.delays(120.0, first=0.5, cap=8.0, rng=random.Random(7)))
    assert 100.0 < sum(waits) <= 120.0
    ceilings = [min(0.5 * 2**n, 8.0) for n in range(len(waits))]
    assert all(c / 2 <= w <= c for w, c in zip(waits, ceilings, strict=True))
    assert max(waits) > 4.0  # reached the cap's range


def test_no_window_means_no_retry() -> None:
    assert list(retrying.delays(0.0)) == []


def test_outages_are_told_from_errors_that_a_retry_cannot_fix() -> None:
    assert retrying.database_outage(psycopg.OperationalError("connection refused"))
    assert not retrying.database_outage(psycopg.errors.UniqueViolation("duplicate"))
    assert retrying.apiserver_outage(urllib3.exceptions.MaxRetryError(None, "/", None))
    assert retrying.apiserver_outage(ApiException(status=503))
    assert not retrying.apiserver_outage(ApiException(status=404))
    assert not retrying.apiserver_outage(ApiException(status=409))


def test_call_retries_a_transient_failure_then_returns() -> None:
    failures = [psycopg.OperationalError("down"), psycopg.OperationalError("down")]

    def flaky() -> str:
        if failures:
            raise failures.pop()
        return "written"

    assert (
        retrying.call(flaky, window=10.0, transient=retrying.database_outage, what="test")
        == "written"
    )
    assert failures == []


def test_call_raises_at_once_on_a_non_transient_error() -> None:
    calls = []

    def conflict() -> None:
        calls.append(1)
        raise ApiException(status=409)

    with pytest.raises(ApiException):
        retrying.call(conflict, window=10.0, transient=retrying.apiserver_outage, what="test")
    assert calls == [1]


def test_lost_worker_reruns_back_off_exponentially() -> None:
    for attempt, ceiling in ((1, 2.0), (2, 4.0), (3, 8.0)):
        delay = lost_worker_delay(2.0, attempt)
        assert ceiling / 2 <= delay <= ceiling


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_worker_events_go_to_its_file_and_result_without_any_database(tmp_path: Path) -> None:
    file = recorder.events_path(tmp_path / "task-001-1.json")
    events = recorder.AttemptJournal(file)
    started = recorder.entry(
        namespace="ns",
        project="p",
        run="r",
        task="task-001",
        event_type="TASK_STARTED",
        extra=1,
        payload={"attempt": 1},
    )
    events.add([started])
    created = recorder.entry(
        namespace="ns",
        project="p",
        run="r",
        task="task-001",
        event_type="FILE_CREATED",
        extra="a.py",
        payload={"path": "a.py"},
    )
    events.add([created])
    assert recorder.read_event_file(file) == [started, created]
    result = events.into({"status": "succeeded"})
    assert result["status"] == "succeeded"
    assert recorder.result_events(result) == [started, created]
    assert started["key"] == "ns/r/task-001/TASK_STARTED/1"
    assert created["key"] == "ns/r/task-001/FILE_CREATED/a.py"

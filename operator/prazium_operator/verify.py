"""Verification: the merged tree's own test command, in a clean checkout of the commit.

The tests are untrusted code (a planner wrote them, steered by a tenant's description):
they never run in the operator's process or environment, which holds every tenant's
credentials, but through a Runner (executor/verification.py).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from prazium_kit import tasklogs
from prazium_kit.models import VerificationResult
from prazium_operator import gitrepo

OUTPUT_TAIL_CHARS = 4000
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in", re.MULTILINE)
_UNITTEST_FAILED = re.compile(r"^FAILED \(([^)]*)\)", re.MULTILINE)
_PYTEST_COUNTS = re.compile(r"(\d+) (passed|failed|error|errors)\b")


def count_tests(output: str) -> tuple[int, int]:
    """(passed, failed) from unittest or pytest output; (0, 0) when neither is recognisable."""
    ran = _UNITTEST_RAN.findall(output)
    if ran:
        total = int(ran[-1])
        failed = 0
        failures = _UNITTEST_FAILED.findall(output)
        if failures:
            for part in failures[-1].split(","):
                key, _, value = part.strip().partition("=")
                if key in {"failures", "errors"} and value.isdigit():
                    failed += int(value)
        return max(total - failed, 0), failed
    passed = failed = 0
    for value, kind in _PYTEST_COUNTS.findall(output):
        if kind == "passed":
            passed = int(value)
        else:
            failed += int(value)
    return passed, failed


def summarize(exit_code: int, passed: int, failed: int, timed_out: bool) -> str:
    if timed_out:
        return "verification timed out"
    verdict = "passed" if exit_code == 0 else f"failed (exit code {exit_code})"
    return f"{passed} tests passed, {failed} failed; verification {verdict}"


@dataclass(frozen=True)
class Outcome:
    """How the test command ended, as its runner saw it."""

    exit_code: int
    output: str
    timed_out: bool


class Runner(Protocol):
    """Runs the test command on a fresh export of the tree, away from the operator: a
    sandboxed child locally, a Job on the node (executor/verification.py)."""

    async def run(
        self, export: Callable[[Path], None], command: list[str], timeout: float
    ) -> Outcome: ...


async def verify(
    repo: Path,
    commit: str,
    command: list[str],
    timeout: float,
    runner: Runner,
    log_file: Path | None = None,
    log_max_bytes: int = tasklogs.DEFAULT_MAX_BYTES,
) -> VerificationResult:
    """Run command in a fresh export of commit; the verificationResult status object.
    The whole output is kept in log_file (capped), for GET .../verification/logs."""
    started = time.monotonic()
    outcome = await runner.run(
        functools.partial(gitrepo.export_tree, repo, commit), list(command), timeout
    )
    output = outcome.output
    if log_file is not None:
        await asyncio.to_thread(_keep_output, log_file, output.encode(), log_max_bytes)
    passed, failed = count_tests(output)
    return VerificationResult(
        command=list(command),
        exitCode=outcome.exit_code,
        passed=passed,
        failed=failed,
        summary=summarize(outcome.exit_code, passed, failed, outcome.timed_out),
        durationSeconds=round(time.monotonic() - started, 3),
        outputTail=output[-OUTPUT_TAIL_CHARS:],
    )


def _keep_output(path: Path, output: bytes, max_bytes: int) -> None:
    """The latest verification's output only (a resumed run verifies again)."""
    path.unlink(missing_ok=True)
    kept = tasklogs.CappedLog(path, max_bytes)
    try:
        kept.write(output)
    finally:
        kept.close()

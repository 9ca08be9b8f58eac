"""Verification: the merged tree's own test command, in a clean checkout of the commit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path

from prazium_kit import tasklogs
from prazium_kit.models import VerificationResult
from prazium_operator import gitrepo

OUTPUT_TAIL_CHARS = 4000
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in", re.MULTILINE)
_UNITTEST_FAILED = re.compile(r"^FAILED \(([^)]*)\)", re.MULTILINE)
_PYTEST_COUNTS = re.compile(r"(\d+) (passed|failed|error|errors)\b")


def resolve_command(command: list[str]) -> list[str]:
    """ "python" is the operator's own interpreter (the generated app needs nothing more)."""
    if command and command[0] in {"python", "python3"}:
        return [sys.executable, *command[1:]]
    return list(command)


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


async def verify(
    repo: Path,
    commit: str,
    command: list[str],
    workdir: Path,
    timeout: float,
    log_file: Path | None = None,
    log_max_bytes: int = tasklogs.DEFAULT_MAX_BYTES,
) -> VerificationResult:
    """Run command in a fresh export of commit; the verificationResult status object.
    The whole output is kept in log_file (capped), for GET .../verification/logs."""
    shutil.rmtree(workdir, ignore_errors=True)
    await asyncio.to_thread(gitrepo.export_tree, repo, commit, workdir)
    argv = resolve_command(command)
    started = time.monotonic()
    timed_out = False
    env = {key: value for key, value in os.environ.items() if not key.startswith("PRAZIUM_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=workdir,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        env=env,
    )
    try:
        stdout, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError) as exc:
        timed_out = isinstance(exc, TimeoutError)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        stdout, _ = await proc.communicate()
        if not timed_out:
            raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if log_file is not None:
        await asyncio.to_thread(_keep_output, log_file, stdout, log_max_bytes)
    output = stdout.decode(errors="replace")
    exit_code = proc.returncode if proc.returncode is not None else -1
    passed, failed = count_tests(output)
    return VerificationResult(
        command=list(command),
        exitCode=exit_code,
        passed=passed,
        failed=failed,
        summary=summarize(exit_code, passed, failed, timed_out),
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

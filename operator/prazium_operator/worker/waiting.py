"""A sandbox Pod's process until its go signal (prazium_operator.go_signal), then the work.

    python -m prazium_operator.worker.waiting --go GO --request REQUEST --log LOG [--coder C]
                                              [--policy-gate SECONDS]
        a worker: import the worker and its coder, wait for GO, then run the worker's
        main() on REQUEST in this process (the imports are paid while waiting)
    python -m prazium_operator.worker.waiting --go GO [--policy-gate SECONDS] -- COMMAND...
        anything else (a verification's test command): wait for GO, then exec COMMAND

With --policy-gate (the kubernetes executor's Pods; the local executor never comes
here), neither runs before the Pod's network policy is in force
(prazium_operator.policy_gate): the check starts first, in a thread, beside the imports
and the wait, and is waited for after the go signal; it says once when it found the
policy not in force yet; past SECONDS without it the process exits 75 having run
nothing, and the operator tries again.

A Pod created ahead of its work (executor/kubernetes.py, executor/verification.py)
waits here, costing a stat of the go file every 25 ms; one created when the work may
begin finds the file at once. The worker appends one line to the attempt's kept log
(LOG) saying how long its imports and its wait took, and what the policy gate cost
(policyGateSeconds: its check; policyGateWaitSeconds: how long the start waited for it
after the imports and the go signal), so a start's cost can be told apart from the wait
for its dependencies (bench/bench_build.py reads it).

TERM while waiting ends the process at once (exit 143): the container's first process
has no default TERM handler, and a Pod no longer needed should not sit out its grace
period.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import importlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from prazium_operator import go_signal, policy_gate

# What a coder's worker imports besides the worker itself (agents/registry.py's
# factories import these on first use).
CODER_MODULES = {
    "template": "prazium_appgen",
    "command": "prazium_operator.agents.command",
    "openai": "prazium_operator.agents.openai",
    "anthropic": "prazium_operator.agents.anthropic",
}
WAITING_LINE = "waiting for the go signal"
GO_LINE = "go signal received"
POLICY_WAIT_LINE = "waiting for the network policy to be in force"
NOT_ENFORCED_LINE = "network policy not in force"
EXIT_TERMINATED = 143


def _terminated(signum: int, frame: FrameType | None) -> None:
    os._exit(EXIT_TERMINATED)


def _note(log: Path | None, message: str, **fields: object) -> None:
    """One JSON line in the shape of prazium_kit.logs' (timestamp, level, logger,
    message), on stderr (the Pod's log) and appended to the kept log; level=... in
    fields sets its level (INFO)."""
    level = str(fields.pop("level", "INFO"))
    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    line = json.dumps(
        {
            "timestamp": now,
            "level": level,
            "logger": "prazium.worker.waiting",
            "message": message,
            **fields,
        }
    )
    print(line, file=sys.stderr, flush=True)
    if log is not None:
        try:
            with open(log, "a", encoding="utf-8") as kept:
                kept.write(line + "\n")
        except OSError:
            pass  # the kept log is a convenience; the Pod's log has the line


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="prazium-waiting", description=__doc__)
    parser.add_argument("--go", required=True, type=Path, help="the go file to wait for")
    parser.add_argument("--request", type=Path, help="a worker's request file")
    parser.add_argument("--log", type=Path, help="the attempt's kept log")
    parser.add_argument("--coder", default="", help="the coder whose modules to import")
    parser.add_argument(
        "--policy-gate",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="run nothing until the Pod's network policy is in force, for at most"
        " SECONDS (0: no gate)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND to exec")
    args = parser.parse_args(argv)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if bool(args.request) == bool(args.command):
        parser.error("give either --request (a worker) or -- COMMAND")
    return args


def _through_gate(gate: policy_gate.Gate | None, log: Path | None) -> dict[str, object] | None:
    """The gate's verdict, waited for; its figures for the go line, or None (and a
    warning line) when the policy was not in force: nothing may run."""
    if gate is None:
        return {}
    asked = time.monotonic()
    verdict = gate.result()
    figures: dict[str, object] = {
        "policyGateSeconds": round(verdict.seconds, 3),
        "policyGateWaitSeconds": round(time.monotonic() - asked, 3),
        "policyProbes": verdict.probes,
        "policyOpenProbes": verdict.open_probes,
    }
    if verdict.enforced:
        return figures
    _note(
        log,
        NOT_ENFORCED_LINE,
        level="WARNING",
        error=policy_gate.not_enforced_message(gate.limit),
        detail=verdict.reason,
        **figures,
    )
    return None


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _terminated)
    args = parse(sys.argv[1:] if argv is None else argv)
    # First, so its probes overlap the imports and the wait for the go signal.
    gate = (
        policy_gate.Gate(
            args.policy_gate, on_open=functools.partial(_note, args.log, POLICY_WAIT_LINE)
        )
        if args.policy_gate > 0
        else None
    )
    if args.command:
        waited = go_signal.wait(args.go)
        figures = _through_gate(gate, None)
        if figures is None:
            return policy_gate.EXIT_NOT_ENFORCED
        if gate is not None:
            _note(None, GO_LINE, waitedSeconds=round(waited, 3), **figures)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.execvp(args.command[0], args.command)
    importlib.import_module("prazium_operator.worker.main")
    if args.coder in CODER_MODULES:
        importlib.import_module(CODER_MODULES[args.coder])
    from prazium_operator.settings import get_settings

    get_settings()  # read once from the environment (cached): the worker's first step
    imported = time.monotonic() - started
    _note(args.log, WAITING_LINE, importSeconds=round(imported, 3))
    waited = go_signal.wait(args.go, args.request)
    figures = _through_gate(gate, args.log)
    if figures is None:
        return policy_gate.EXIT_NOT_ENFORCED
    _note(
        args.log,
        GO_LINE,
        importSeconds=round(imported, 3),
        waitedSeconds=round(waited, 3),
        **figures,
    )
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from prazium_operator.worker.main import main as worker_main

    return worker_main(["--request", str(args.request)])


if __name__ == "__main__":
    raise SystemExit(main())

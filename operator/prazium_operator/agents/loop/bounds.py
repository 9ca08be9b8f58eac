"""The bounds of one attempt (steps, wall time, tool output fed back) and the
stuck-loop detector."""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from collections.abc import Mapping

from prazium_operator.agents.loop.contract import StopReason
from prazium_operator.agents.loop.limits import Limits


class Bounds:
    def __init__(self, limits: Limits, clock: float | None = None) -> None:
        self.limits = limits
        self.started = time.monotonic() if clock is None else clock
        self.steps = 0
        self.output_bytes = 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return self.limits.max_seconds - self.elapsed()

    def before_request(self) -> tuple[StopReason, str] | None:
        """Why the next model request may not be made, if a bound is reached."""
        limits = self.limits
        if self.steps >= limits.max_steps:
            return "StepLimit", f"{self.steps} steps made, the limit is {limits.max_steps}"
        if self.remaining() <= 0:
            spent = f"{self.elapsed():.0f} s"
            return "TimeLimit", f"{spent} spent, the limit is {limits.max_seconds:.0f} s"
        if self.output_bytes > limits.max_output_bytes:
            return (
                "OutputLimit",
                f"{self.output_bytes} bytes of tool output fed back, the limit is"
                f" {limits.max_output_bytes}",
            )
        return None

    def command_timeout(self, asked: object = None) -> float:
        """A command's timeout: what the model asked for, within the limit and the time
        left (never below one second)."""
        timeout = self.limits.command_timeout_seconds
        if isinstance(asked, int | float) and not isinstance(asked, bool) and asked > 0:
            timeout = min(timeout, float(asked))
        return max(1.0, min(timeout, self.remaining()))


def call_key(name: str, arguments: Mapping[str, object] | None) -> str:
    """A tool call's identity: its name and its arguments, canonical."""
    try:
        args = json.dumps(arguments, sort_keys=True, default=str)
    except (TypeError, ValueError):
        args = repr(arguments)
    return f"{name}:{hashlib.sha256(args.encode()).hexdigest()}"


class StuckDetector:
    """The same call with the same result ``repeats`` times in a row."""

    def __init__(self, repeats: int) -> None:
        self.repeats = repeats
        self.recent: deque[str] = deque(maxlen=repeats)

    def stuck(self, key: str, ok: bool, content: str) -> bool:
        digest = hashlib.sha256(f"{ok}:{content}".encode()).hexdigest()
        self.recent.append(f"{key}:{digest}")
        return len(self.recent) == self.repeats and len(set(self.recent)) == 1

"""What a worker hands the loop for one attempt, and what the loop hands back.

The worker (worker/agent_attempt.py) builds an Attempt from its request (limits,
budget, stop file, the plan's verifyCommand) with a callback that appends an
AGENT_USAGE event per model request; after the coder returns or fails, it copies the
Outcome into its result file (usage, reason, steps). A coder used outside a worker gets
the defaults: limits from the environment, no budget, no events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from prazium_operator.agents.loop import limits as loop_limits
from prazium_operator.agents.loop.contract import AgentBudget, AgentUsage, StopReason
from prazium_operator.agents.loop.usage import RequestUsage

# (request number in the attempt, provider, model, that request's usage)
UsageCallback = Callable[[int, str, str, RequestUsage], None]


def _ignore(number: int, provider: str, model: str, usage: RequestUsage) -> None:
    return None


@dataclass
class Outcome:
    reason: StopReason
    message: str
    steps: int
    usage: AgentUsage | None = None


@dataclass
class Attempt:
    limits: loop_limits.Limits = field(default_factory=loop_limits.from_settings)
    budget: AgentBudget | None = None
    stop_file: str | None = None
    verify_command: list[str] | None = None
    on_usage: UsageCallback = _ignore
    outcome: Outcome | None = None

"""The worker's side of the coding-agent loop (agents/loop): what it hands a loop coder
from its request, the AGENT_USAGE events it appends while the loop runs, and what it
copies into its result file afterwards (usage, reason, steps).

Coders without a loop (template, command) are untouched: nothing is bound, nothing
is reported.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from prazium_kit import ids, journal
from prazium_operator import recorder
from prazium_operator.worker_contract import (
    AgentBudget,
    AgentLimits,
    WorkerRequest,
    WorkerResult,
)


class AgentAttempt:
    def __init__(self, request: WorkerRequest, events: recorder.AttemptJournal) -> None:
        self.request = request
        self.events = events
        self.attempt: Any = None  # agents.loop.attempt.Attempt once bound

    def bind(self, coder: object) -> None:
        """Give a loop coder this attempt's limits, budget, stop file and usage channel.

        Raises ValueError naming the request field when it is malformed."""
        bind = getattr(coder, "bind_attempt", None)
        if bind is None:
            return
        from prazium_operator.agents.loop import limits
        from prazium_operator.agents.loop.attempt import Attempt

        request = self.request
        try:
            overrides = (
                AgentLimits.model_validate(request.agent_limits) if request.agent_limits else None
            )
            budget = AgentBudget.model_validate(request.budget) if request.budget else None
        except ValidationError as exc:
            raise ValueError(f"the request's agent_limits or budget is invalid: {exc}") from None
        self.attempt = Attempt(
            limits=limits.overridden(limits.from_settings(), overrides),
            budget=budget,
            stop_file=request.stop_file,
            verify_command=list(request.verify_command or []) or None,
            on_usage=self._usage,
        )
        bind(self.attempt)

    def _usage(self, number: int, provider: str, model: str, usage: Any) -> None:
        request = self.request
        self.events.add(
            [
                recorder.entry(
                    namespace=request.namespace,
                    project=request.project,
                    run=request.run,
                    task=request.task_id,
                    event_type=journal.AGENT_USAGE,
                    extra=f"{request.attempt}/{number}",
                    payload={
                        "taskId": ids.task_id(request.task_id),
                        "attempt": request.attempt,
                        "request": number,
                        "provider": provider,
                        "model": model,
                        "inputTokens": usage.input_tokens,
                        "outputTokens": usage.output_tokens,
                        "cachedInputTokens": usage.cached_input_tokens,
                        "cacheWriteInputTokens": usage.cache_write_input_tokens,
                    },
                )
            ]
        )

    def report(self, result: WorkerResult) -> None:
        """The loop's outcome (if a loop ran) into the result."""
        outcome = getattr(self.attempt, "outcome", None)
        if outcome is None:
            return
        result.usage = outcome.usage
        result.reason = outcome.reason
        result.steps = outcome.steps


def stopped_message(exc: BaseException) -> str | None:
    """The message of a loop that stopped before the task was done (shown as it is: it
    says why), None for any other failure."""
    from prazium_operator.agents.loop.coder import LoopStopped

    return str(exc) if isinstance(exc, LoopStopped) else None

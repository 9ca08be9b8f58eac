"""What a Run's model requests used and cost, and what its budget still allows: pure
functions over the Tasks' recorded usage (tests/unit/test_run_usage.py).

Every sum is recomputed from its parts (an attempt's requests, a Task's attempts, a
Run's Tasks), never added to a stored total, so a reconcile done twice or after an
operator restart counts nothing twice. A cost is known only when every part of a sum
that made requests is priced: a model missing from the price table makes the sum's
cost unknown (None), never 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from prazium_kit import journal
from prazium_kit.models import AttemptUsage, Budget, TaskUsage, Usage
from prazium_kit.types import Obj
from prazium_operator.agents.loop.usage import RequestUsage, cost
from prazium_operator.worker_contract import AgentBudget, ModelPrice, WorkerResult

Prices = Mapping[str, ModelPrice]
# Costs are sums of float products: kept to this many decimals (as the worker does).
COST_DECIMALS = 6
COUNTS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_input_tokens")


def price_of(
    attempt: int,
    provider: str | None,
    model: str | None,
    counts: RequestUsage,
    requests: int,
    prices: Prices,
    reason: str | None = None,
) -> AttemptUsage:
    """One attempt's usage, its cost at prices (None when they do not name the model)."""
    price = prices.get(model or "")
    charged = round(cost(counts, price), COST_DECIMALS) if price is not None else None
    return AttemptUsage(
        attempt=attempt,
        provider=provider or None,
        model=model or None,
        reason=reason,
        requests=requests,
        inputTokens=counts.input_tokens,
        outputTokens=counts.output_tokens,
        cachedInputTokens=counts.cached_input_tokens,
        cacheWriteInputTokens=counts.cache_write_input_tokens,
        cost=charged if requests else None,
    )


def from_events(attempt: int, entries: Iterable[Obj], prices: Prices) -> AttemptUsage | None:
    """A running attempt's usage from its AGENT_USAGE events (checked journal entries,
    recorder.worker_events), each request counted once; None before its first."""
    by_request: dict[int, Obj] = {}
    for item in entries:
        payload = item.get("payload") or {}
        if item.get("type") == journal.AGENT_USAGE and isinstance(payload.get("request"), int):
            by_request[payload["request"]] = payload
    if not by_request:
        return None
    last = by_request[max(by_request)]
    counts = RequestUsage(
        input_tokens=sum(p.get("inputTokens", 0) for p in by_request.values()),
        output_tokens=sum(p.get("outputTokens", 0) for p in by_request.values()),
        cached_input_tokens=sum(p.get("cachedInputTokens", 0) for p in by_request.values()),
        cache_write_input_tokens=sum(
            p.get("cacheWriteInputTokens", 0) for p in by_request.values()
        ),
    )
    return price_of(
        attempt, last.get("provider"), last.get("model"), counts, len(by_request), prices
    )


def from_result(attempt: int, result: WorkerResult, prices: Prices) -> AttemptUsage | None:
    """An ended attempt's usage from its result (the loop's sum); None when it made no
    model request through the loop (the template and command coders)."""
    usage = result.usage
    if usage is None:
        return None
    counts = RequestUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        cache_write_input_tokens=usage.cache_write_input_tokens,
    )
    return price_of(
        attempt, usage.provider, usage.model, counts, usage.requests, prices, result.reason
    )


def total(parts: Iterable[Usage]) -> Usage:
    """parts summed; the cost known only when every part that made requests has one."""
    summed = Usage()
    known, unknown = 0.0, False
    for part in parts:
        summed.requests += part.requests
        for name in COUNTS:
            setattr(summed, name, getattr(summed, name) + getattr(part, name))
        if part.cost is not None:
            known += part.cost
        elif part.requests:
            unknown = True
    summed.cost = None if unknown or not summed.requests else round(known, COST_DECIMALS)
    return summed


def known_cost(parts: Iterable[Usage]) -> float:
    """What the priced parts cost: at least what was spent (for a budget's maxCost)."""
    return sum(part.cost or 0.0 for part in parts)


def with_attempt(recorded: TaskUsage | None, attempt: AttemptUsage) -> TaskUsage:
    """A Task's usage with this attempt's entry set (replacing an earlier one of the same
    attempt, such as its live count) and the totals recomputed."""
    attempts = [a for a in (recorded.attempts if recorded else []) if a.attempt != attempt.attempt]
    attempts = sorted([*attempts, attempt], key=lambda a: a.attempt)
    summed = total(attempts)
    return TaskUsage.model_validate({**summed.model_dump(by_alias=True), "attempts": attempts})


def run_total(tasks: Sequence[TaskUsage | None]) -> Usage | None:
    """A Run's usage: its Tasks' summed; None while no Task made a model request."""
    parts = [usage for usage in tasks if usage is not None]
    return total(parts) if parts else None


# ------------------------------------------------------------------------- budget


def chosen_budget(run: Budget | None, project: Budget | None) -> Budget | None:
    """spec.budget of the Run, each field it leaves unset taken from the Project's."""
    fields: dict[str, object] = {}
    for name in ("max_tokens", "max_cost"):
        for source in (run, project):
            value = getattr(source, name) if source is not None else None
            if value is not None:
                fields[name] = value
                break
    return Budget.model_validate(fields) if fields else None


@dataclass(frozen=True)
class Spend:
    """A Run's model requests so far (running attempts included)."""

    tokens: int = 0
    cost: float = 0.0  # of the priced requests: a lower bound when some are not
    cost_known: bool = True

    @classmethod
    def of(cls, tasks: Sequence[TaskUsage | None]) -> Spend:
        parts = [usage for usage in tasks if usage is not None]
        summed = total(parts)
        return cls(summed.tokens, known_cost(parts), summed.cost is not None or not parts)


def budget_reached(budget: Budget | None, spend: Spend) -> str | None:
    """Why the run may make no further model request (names the budget and the spend),
    or None while its budget allows more."""
    if budget is None:
        return None
    if budget.max_tokens is not None and spend.tokens >= budget.max_tokens:
        return f"the run's budget is spent: {spend.tokens} tokens of maxTokens {budget.max_tokens}"
    if budget.max_cost is not None and spend.cost >= budget.max_cost - 1e-9:
        return (
            f"the run's budget is spent: cost {spend.cost:.4f} of maxCost {budget.max_cost:g}"
            " (at the operator's price table)"
        )
    return None


def attempt_budget(budget: Budget | None, spend: Spend, prices: Prices) -> Obj | None:
    """The WorkerRequest's budget for an attempt starting now: what the run may still
    spend, with the price table (so the attempt prices its own requests); None when
    there is neither a budget nor a price."""
    if budget is None and not prices:
        return None
    remaining = AgentBudget(
        maxTokens=None
        if budget is None or budget.max_tokens is None
        else max(budget.max_tokens - spend.tokens, 0),
        maxCost=None
        if budget is None or budget.max_cost is None
        else max(round(budget.max_cost - spend.cost, COST_DECIMALS), 0.0),
        prices=dict(prices),
    )
    return remaining.model_dump(by_alias=True, exclude_none=True)

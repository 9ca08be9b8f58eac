"""Token usage of an attempt's model requests, and the budget that stops it.

Providers count differently: OpenAI's prompt_tokens include the cached ones
(prompt_tokens_details.cached_tokens); Anthropic's input_tokens exclude the tokens read
from (cache_read_input_tokens) and written to (cache_creation_input_tokens) its prompt
cache. Both are brought to one shape here (RequestUsage): input_tokens is every input
token processed, the cached and cache-written ones among them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prazium_operator.agents.loop.contract import AgentBudget, AgentUsage, ModelPrice

PER_MILLION = 1_000_000
# Costs are sums of float products: a budget reached to within this much is reached.
COST_TOLERANCE = 1e-9
STOP_FILE_MAX_BYTES = 500


@dataclass(frozen=True)
class RequestUsage:
    """One model request's tokens, as the provider reported them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def _non_negative(value: object) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def openai_usage(prompt: object, completion: object, cached: object) -> RequestUsage:
    return RequestUsage(
        input_tokens=_non_negative(prompt),
        output_tokens=_non_negative(completion),
        cached_input_tokens=_non_negative(cached),
    )


def anthropic_usage(
    input_tokens: object, output_tokens: object, cache_read: object, cache_write: object
) -> RequestUsage:
    read, written = _non_negative(cache_read), _non_negative(cache_write)
    return RequestUsage(
        input_tokens=_non_negative(input_tokens) + read + written,
        output_tokens=_non_negative(output_tokens),
        cached_input_tokens=read,
        cache_write_input_tokens=written,
    )


def cost(usage: RequestUsage, price: ModelPrice) -> float:
    """What usage costs at price (per million tokens)."""
    cached = usage.cached_input_tokens
    written = usage.cache_write_input_tokens
    plain = max(0, usage.input_tokens - cached - written)
    cached_price = price.input if price.cached_input is None else price.cached_input
    write_price = price.input if price.cache_write_input is None else price.cache_write_input
    return (
        plain * price.input
        + cached * cached_price
        + written * write_price
        + usage.output_tokens * price.output
    ) / PER_MILLION


class UsageMeter:
    """An attempt's requests summed, and its budget: what stops the next request."""

    def __init__(
        self, provider: str, model: str, budget: AgentBudget | None, max_tokens: int = 0
    ) -> None:
        self.provider, self.model = provider, model
        self.budget = budget
        self.max_tokens = max_tokens  # the attempt's own bound (AgentLimits.maxTokens)
        self.requests = 0
        self.total = RequestUsage()
        self.price = budget.prices.get(model) if budget else None
        self.cost = 0.0

    def add(self, usage: RequestUsage) -> None:
        self.requests += 1
        self.total = RequestUsage(
            input_tokens=self.total.input_tokens + usage.input_tokens,
            output_tokens=self.total.output_tokens + usage.output_tokens,
            cached_input_tokens=self.total.cached_input_tokens + usage.cached_input_tokens,
            cache_write_input_tokens=self.total.cache_write_input_tokens
            + usage.cache_write_input_tokens,
        )
        if self.price is not None:
            self.cost += cost(usage, self.price)

    def exceeded(self) -> str | None:
        """Why no further request may be made, if a budget is spent."""
        spent = self.total.tokens
        limits: list[tuple[int, str]] = []
        if self.max_tokens:
            limits.append((self.max_tokens, "the attempt's token limit"))
        if self.budget is not None and self.budget.max_tokens is not None:
            limits.append((self.budget.max_tokens, "the budget's maxTokens"))
        for limit, what in limits:
            if spent >= limit:
                return f"{spent} tokens spent of {limit} ({what})"
        budget = self.budget
        if budget is not None and budget.max_cost is not None:
            if self.price is None and budget.max_cost == 0:
                return "the budget's maxCost is 0"
            if self.price is not None and self.cost >= budget.max_cost - COST_TOLERANCE:
                return f"cost {self.cost:.4f} of {budget.max_cost:.4f} (the budget's maxCost)"
        return None

    def summary(self) -> AgentUsage:
        total = self.total
        counts = {
            "provider": self.provider,
            "model": self.model,
            "requests": self.requests,
            "inputTokens": total.input_tokens,
            "outputTokens": total.output_tokens,
            "cachedInputTokens": total.cached_input_tokens,
            "cacheWriteInputTokens": total.cache_write_input_tokens,
        }
        if self.price is not None:  # no price, no cost: absent rather than 0
            counts["cost"] = round(self.cost, 6)
        return AgentUsage.model_validate(counts)


def stop_requested(path: str | None) -> str | None:
    """The first line of the stop file when it exists (the operator's reason), bounded;
    never through a symlink and never blocking on a FIFO (untrusted code may share the
    directory)."""
    if not path:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError:
        return "the stop file is there"
    try:
        data = os.read(fd, STOP_FILE_MAX_BYTES)
    except OSError:
        data = b""
    finally:
        os.close(fd)
    line = data.decode("utf-8", errors="replace").strip().splitlines()
    text = "".join(ch for ch in (line[0] if line else "") if ch.isprintable())
    return text or "the stop file is there"

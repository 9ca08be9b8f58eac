"""A Run's usage, cost and budget decisions (reconcilers/run/usage.py), over plain values."""

from __future__ import annotations

import pytest

from prazium_kit.models import Budget, TaskUsage
from prazium_operator.reconcilers.run import usage
from prazium_operator.settings import Settings
from prazium_operator.worker_contract import ModelPrice, WorkerResult

PRICES = {"m1": ModelPrice(input=2.0, output=8.0, cachedInput=0.5)}


def _event(request: int, inputs: int, outputs: int, cached: int = 0, model: str = "m1") -> dict:
    return {
        "type": "AGENT_USAGE",
        "payload": {
            "request": request,
            "provider": "openai",
            "model": model,
            "inputTokens": inputs,
            "outputTokens": outputs,
            "cachedInputTokens": cached,
            "cacheWriteInputTokens": 0,
        },
    }


def test_an_attempts_events_are_summed_once_per_request_and_priced() -> None:
    events = [_event(1, 1000, 100, 400), _event(2, 2000, 50), _event(1, 1000, 100, 400)]
    attempt = usage.from_events(1, events, PRICES)
    assert attempt is not None
    assert (attempt.requests, attempt.input_tokens, attempt.output_tokens) == (2, 3000, 150)
    assert attempt.cached_input_tokens == 400
    # 2600 plain at 2, 400 cached at 0.5, 150 out at 8, per million
    assert attempt.cost == pytest.approx((2600 * 2 + 400 * 0.5 + 150 * 8) / 1e6)
    assert usage.from_events(1, [{"type": "FILE_CREATED", "payload": {}}], PRICES) is None


def test_an_unpriced_model_has_no_cost_and_makes_every_sum_unknown() -> None:
    priced = usage.from_events(1, [_event(1, 1000, 100)], PRICES)
    unpriced = usage.from_events(2, [_event(1, 1000, 100, model="m2")], PRICES)
    assert priced is not None and unpriced is not None
    assert priced.cost is not None and unpriced.cost is None
    task = usage.with_attempt(usage.with_attempt(None, priced), unpriced)
    assert (task.requests, task.input_tokens, task.cost) == (2, 2000, None)
    assert usage.known_cost([task.attempts[0], task.attempts[1]]) == priced.cost
    # No price table at all: unknown, never 0.
    assert usage.from_events(1, [_event(1, 10, 1)], {}).cost is None  # type: ignore[union-attr]


def test_an_attempt_recorded_again_replaces_its_entry_never_adds_to_it() -> None:
    live = usage.from_events(1, [_event(1, 1000, 100)], PRICES)
    assert live is not None
    task = usage.with_attempt(None, live)
    result = WorkerResult.model_validate(
        {
            "status": "failed",
            "reason": "BudgetExceeded",
            "usage": {
                "provider": "openai",
                "model": "m1",
                "requests": 2,
                "inputTokens": 3000,
                "outputTokens": 200,
            },
        }
    )
    ended = usage.from_result(1, result, PRICES)
    assert ended is not None and ended.reason == "BudgetExceeded"
    once = usage.with_attempt(task, ended)
    twice = usage.with_attempt(once, ended)
    assert once == twice
    assert (twice.requests, twice.input_tokens, len(twice.attempts)) == (2, 3000, 1)
    second = usage.with_attempt(twice, ended.model_copy(update={"attempt": 2}))
    assert (second.requests, second.output_tokens) == (4, 400)
    run = usage.run_total([second, None, TaskUsage()])
    assert run is not None and (run.requests, run.input_tokens) == (4, 6000)
    assert run.cost == pytest.approx(2 * ended.cost)  # type: ignore[operator]
    assert usage.run_total([None, None]) is None
    assert usage.from_result(1, WorkerResult(status="succeeded"), PRICES) is None


def test_the_runs_budget_overrides_the_projects_field_by_field() -> None:
    project = Budget(maxTokens=1000, maxCost=2.0)
    assert usage.chosen_budget(Budget(maxTokens=50), project) == Budget(maxTokens=50, maxCost=2.0)
    assert usage.chosen_budget(None, project) == project
    assert usage.chosen_budget(Budget(), None) is None


def test_a_budget_is_reached_by_tokens_or_by_cost_and_says_which() -> None:
    budget = Budget(maxTokens=5000, maxCost=0.01)
    assert usage.budget_reached(budget, usage.Spend(tokens=4999, cost=0.0099)) is None
    by_tokens = usage.budget_reached(budget, usage.Spend(tokens=5000))
    assert by_tokens == "the run's budget is spent: 5000 tokens of maxTokens 5000"
    by_cost = usage.budget_reached(budget, usage.Spend(tokens=10, cost=0.0100000001))
    assert by_cost is not None and "cost 0.0100 of maxCost 0.01" in by_cost
    assert usage.budget_reached(None, usage.Spend(tokens=10**9)) is None
    assert usage.budget_reached(Budget(maxTokens=0), usage.Spend()) is not None


def test_an_attempt_is_given_what_the_run_has_left_and_the_prices() -> None:
    spent = usage.Spend(tokens=1200, cost=0.004)
    given = usage.attempt_budget(Budget(maxTokens=1000, maxCost=0.01), spent, PRICES)
    assert given is not None
    assert (given["maxTokens"], given["maxCost"]) == (0, pytest.approx(0.006))
    assert given["prices"]["m1"]["input"] == 2.0
    assert usage.attempt_budget(None, spent, {}) is None
    only_prices = usage.attempt_budget(None, spent, PRICES)
    assert only_prices is not None and "maxTokens" not in only_prices


def test_the_run_spend_sums_the_tasks_running_attempts_included() -> None:
    first = usage.with_attempt(None, usage.from_events(1, [_event(1, 900, 100)], PRICES))  # type: ignore[arg-type]
    other = usage.with_attempt(None, usage.from_events(1, [_event(1, 90, 10, model="x")], PRICES))  # type: ignore[arg-type]
    spend = usage.Spend.of([first, other, None])
    assert spend.tokens == 1100 and not spend.cost_known
    assert spend.cost == pytest.approx(first.cost)  # type: ignore[arg-type]


def test_the_price_table_comes_from_the_environment_and_is_empty_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PRAZIUM_PRICES", raising=False)
    assert Settings().prices == {}
    monkeypatch.setenv("PRAZIUM_PRICES", '{"gpt-x": {"input": 1.25, "output": 10}}')
    price = Settings().prices["gpt-x"]
    assert (price.input, price.output, price.cached_input) == (1.25, 10.0, None)
    monkeypatch.setenv("PRAZIUM_PRICES", '{"gpt-x": {"input": -1, "output": 10}}')
    with pytest.raises(ValueError):
        Settings()

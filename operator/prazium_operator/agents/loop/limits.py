"""The bounds of one coding-agent attempt: settings from the environment (prefix
PRAZIUM_AGENT_), overridden field by field by the worker request's agentLimits.

The operator puts its own settings in every request (reconcilers/run/tasks.py), so
they reach a worker in a Pod too, whose environment holds none of them; a Project or
Run may later override them the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from prazium_kit.types import Obj
from prazium_operator.agents.loop.contract import AgentLimits


class LoopSettings(BaseSettings):
    """PRAZIUM_AGENT_MAX_STEPS, PRAZIUM_AGENT_MAX_SECONDS, ..."""

    model_config = SettingsConfigDict(env_prefix="PRAZIUM_AGENT_", extra="ignore")

    # Model requests one attempt may make (each is a step: one reply, its tool calls).
    max_steps: int = Field(default=40, ge=1)
    # Wall time of one attempt's loop; below the task deadline (PRAZIUM_TASK_DEADLINE_SECONDS)
    # so the attempt ends with its reason rather than being killed.
    max_seconds: float = Field(default=900.0, gt=0)
    # Bytes of tool output fed back to the model over the whole attempt.
    max_output_bytes: int = Field(default=600_000, ge=1)
    # Seconds one command of the run tool (and one run of the task's tests) may take.
    command_timeout_seconds: float = Field(default=180.0, gt=0)
    # The same tool call with the same result this many times in a row: StuckLoop.
    stuck_repeats: int = Field(default=3, ge=2)
    # Tokens (input + output) one attempt may spend; 0: no limit (a Run's budget, sent
    # in the request, may still stop it).
    max_tokens: int = Field(default=0, ge=0)


@dataclass(frozen=True)
class Limits:
    max_steps: int
    max_seconds: float
    max_output_bytes: int
    command_timeout_seconds: float
    stuck_repeats: int
    max_tokens: int

    def as_request(self) -> Obj:
        """The limits as a request's agentLimits (camelCase JSON)."""
        return AgentLimits.model_validate(asdict(self)).model_dump(by_alias=True)


@lru_cache(maxsize=1)
def settings() -> LoopSettings:
    return LoopSettings()


def from_settings(loaded: LoopSettings | None = None) -> Limits:
    chosen = loaded or settings()
    return Limits(
        max_steps=chosen.max_steps,
        max_seconds=chosen.max_seconds,
        max_output_bytes=chosen.max_output_bytes,
        command_timeout_seconds=chosen.command_timeout_seconds,
        stuck_repeats=chosen.stuck_repeats,
        max_tokens=chosen.max_tokens,
    )


def overridden(base: Limits, overrides: AgentLimits | None) -> Limits:
    """base with the fields a request's agentLimits names."""
    if overrides is None:
        return base
    return replace(base, **overrides.model_dump(exclude_none=True))

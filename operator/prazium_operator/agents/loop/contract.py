"""The worker contract's shapes the loop reads and writes (defined with the rest of
the contract in prazium_operator.worker_contract): the one place the loop imports them."""

from prazium_operator.worker_contract import (
    AgentBudget,
    AgentLimits,
    AgentUsage,
    ModelPrice,
    StopReason,
)

__all__ = ["AgentBudget", "AgentLimits", "AgentUsage", "ModelPrice", "StopReason"]

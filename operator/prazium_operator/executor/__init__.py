"""Executors start a worker for a task attempt and report whether it still runs.

Both report through the same path (the result file on the shared volume and the
journal), so the operator cannot tell them apart.
"""

from prazium_operator.executor.base import Executor, WorkerState, WorkerStatus
from prazium_operator.executor.factory import make_executor

__all__ = ["Executor", "WorkerState", "WorkerStatus", "make_executor"]

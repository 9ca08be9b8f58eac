"""The executor interface."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol

from prazium_kit.models import ExecutorRef
from prazium_operator.worker_contract import WorkerRequest


class WorkerState(enum.Enum):
    RUNNING = "running"
    EXITED = "exited"  # read the result file
    LOST = "lost"  # gone without a result (killed, node lost): retry with attempt + 1
    FAILED = "failed"  # ended for good by the platform (past its deadline): fail the task


@dataclass(frozen=True)
class WorkerStatus:
    state: WorkerState
    # What the executor learnt about its worker since start (the Pod's name): its set
    # fields are merged into the Task's status.executor.
    learnt: ExecutorRef = field(default_factory=ExecutorRef)
    # Why the worker waits, was lost or failed: shown as the Task's message.
    message: str = ""


class Executor(Protocol):
    kind: str

    def has_capacity(self) -> bool:
        """True when this operator may start one more worker now."""
        ...

    async def start(self, request: WorkerRequest, owner: dict[str, Any]) -> ExecutorRef:
        """Start the worker; return the reference stored in Task status.executor."""
        ...

    async def state(self, ref: ExecutorRef, request: WorkerRequest) -> WorkerStatus:
        """Running, exited (a result file exists), lost or failed; works after an operator
        restart."""
        ...

    async def stop(self, ref: ExecutorRef, request: WorkerRequest) -> None:
        """Stop the worker and wait until it is gone (cancel)."""
        ...

    async def release(self, ref: ExecutorRef, request: WorkerRequest) -> None:
        """The worker is done with (its result read, or lost): free what it left behind."""
        ...

    async def release_run(self, namespace: str, run: str) -> None:
        """The Run is being deleted: remove every worker object of it (idempotent)."""
        ...

    async def wait_for_exit(self, timeout: float) -> None:
        """Return when a worker this executor watches may have finished, or after timeout."""
        ...

    async def shutdown(self) -> None:
        """The operator is exiting."""
        ...

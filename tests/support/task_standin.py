"""The OpenAI stand-in (a real HTTP server speaking Chat Completions) that counts the
coder's requests per task and can refuse one task's first request.

The refusal (400: the SDK does not retry it, so the task fails) is held back until
the answers to other named tasks are out (refuse_once's `after`: the tasks that do
not need the refused one), so those have started, and succeed, by the time it fails:
a run whose failed task leaves exactly its dependents cancelled, every time. Used
by the retry tests and bench/bench_repair_reuse.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from tests.support.openai_standin import OpenAIStandin

# Long enough for the other tasks' requests on a loaded machine, and shorter than the
# coder's request timeout (120 s; past it the coder would ask again and be answered).
# The refusal comes anyway; the test then finds the tasks that were not done cancelled.
WAIT_FOR_OTHERS_SECONDS = 90.0


class TaskCountingStandin(OpenAIStandin):
    def __init__(self, api_key: str) -> None:
        super().__init__(api_key)
        self.coded: list[str] = []  # the task id of every coder request, in arrival order
        self.planned = 0  # planner requests for a plan
        self.fail_task: str | None = None
        self._waiting_for: set[str] = set()
        self._others_answered = threading.Event()

    def refuse_once(self, task_id: str, after: Iterable[str] = ()) -> None:
        """Refuse task_id's next request, once the tasks in `after` have their answers."""
        with self._lock:
            self.fail_task = task_id
            self._waiting_for = set(after) - {task_id}
            self._others_answered.clear()
            if not self._waiting_for:
                self._others_answered.set()

    def respond(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        schema, inputs = self.schema_and_inputs(body)
        task_id = str(inputs["task"]["id"]) if schema == "files" else None
        with self._lock:
            if task_id is not None:
                self.coded.append(task_id)
            if schema == "plan":
                self.planned += 1
            refuse = task_id is not None and task_id == self.fail_task
            if refuse:
                self.fail_task = None  # the first request only
        if refuse:
            self._others_answered.wait(WAIT_FOR_OTHERS_SECONDS)
            with self._lock:
                self.requests.append({"headers": headers, "body": body})
            return 400, self.error_body(400, f"the stand-in refuses {task_id} this once")
        answer = super().respond(headers, body)
        if task_id is not None:
            with self._lock:
                self._waiting_for.discard(task_id)
                if not self._waiting_for:
                    self._others_answered.set()
        return answer

"""The OpenAI stand-in (a real HTTP server speaking Chat Completions) that counts the
coder's work per task (a coding agent's session once, at its first request; a one-shot
coder's request for files) and can refuse one task's first request.

The refusal (400: the SDK does not retry it, so the task fails) is held back until
the answers to other named tasks are out (a session's: the reply that calls finish;
refuse_once's `after`: the tasks that do not need the refused one), so those have
started, and succeed, by the time it fails:
a run whose failed task leaves exactly its dependents cancelled, every time. Used
by the retry tests and bench/bench_repair_reuse.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from tests.support.agent_sessions import first_inputs
from tests.support.openai_standin import OpenAIStandin

# Long enough for the other tasks' requests on a loaded machine, and shorter than the
# coder's request timeout (120 s; past it the coder would ask again and be answered).
# The refusal comes anyway; the test then finds the tasks that were not done cancelled.
WAIT_FOR_OTHERS_SECONDS = 90.0


class TaskCountingStandin(OpenAIStandin):
    def __init__(self, api_key: str) -> None:
        super().__init__(api_key)
        self.coded: list[str] = []  # the task id of every session or files request, in order
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

    def respond(
        self, headers: dict[str, str], body: dict[str, Any], arrived: float = 0.0
    ) -> tuple[int, Any]:
        task_id, opens = self._coder_request(body)
        with self._lock:
            if opens and task_id is not None:
                self.coded.append(task_id)
            if task_id is None and self.schema_and_inputs(body)[0] == "plan":
                self.planned += 1
            refuse = opens and task_id is not None and task_id == self.fail_task
            if refuse:
                self.fail_task = None  # the first request only
        if refuse:
            self._others_answered.wait(WAIT_FOR_OTHERS_SECONDS)
            with self._lock:
                self.requests.append({"headers": headers, "body": body})
            return 400, self.error_body(400, f"the stand-in refuses {task_id} this once")
        status, answer = super().respond(headers, body, arrived)
        if task_id is not None and (not self.is_session(body) or _finishes(status, answer)):
            with self._lock:
                self._waiting_for.discard(task_id)
                if not self._waiting_for:
                    self._others_answered.set()
        return status, answer

    def _coder_request(self, body: dict[str, Any]) -> tuple[str | None, bool]:
        """The task a coder's request is for (None: not a coder's) and whether it opens
        the task's work: a coding agent's session counts once, at its first request; a
        one-shot coder's request for files is its whole work."""
        if self.is_session(body):
            messages = body["messages"]
            task_id, _ = first_inputs(messages[1]["content"])
            return task_id, not any(m.get("role") == "assistant" for m in messages)
        schema, inputs = self.schema_and_inputs(body)
        if schema == "files":
            return str(inputs["task"]["id"]), True
        return None, False


def _finishes(status: int, answer: Any) -> bool:
    """Whether a session's answer calls finish (the task's work is out)."""
    if status != 200 or not isinstance(answer, dict):
        return False
    calls = answer["choices"][0]["message"].get("tool_calls") or []
    return any(call["function"]["name"] == "finish" for call in calls)

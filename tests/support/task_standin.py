"""The OpenAI stand-in (a real HTTP server speaking Chat Completions) that counts the
coder's requests per task and can refuse one task's first request.

The refusal (400: the SDK does not retry it, so the task fails) is held back until
another named task's answer is out, so that task has succeeded by the time the
refused one fails: a run whose fourth task fails while its sibling succeeds, every
time. Used by the retry tests and bench/bench_repair_reuse.py.
"""

from __future__ import annotations

import threading
from typing import Any

from tests.support.openai_standin import OpenAIStandin

# Long enough for the sibling's request on a loaded machine; the refusal comes anyway.
WAIT_FOR_SIBLING_SECONDS = 60.0


class TaskCountingStandin(OpenAIStandin):
    def __init__(
        self, api_key: str, fail_task: str | None = None, after_task: str | None = None
    ) -> None:
        super().__init__(api_key)
        self.fail_task, self.after_task = fail_task, after_task
        self.coded: list[str] = []  # the task id of every coder request, in arrival order
        self.planned = 0  # planner requests for a plan
        self._sibling_answered = threading.Event()

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
            if self.after_task:
                self._sibling_answered.wait(WAIT_FOR_SIBLING_SECONDS)
            with self._lock:
                self.requests.append({"headers": headers, "body": body})
            return 400, self.error_body(400, f"the stand-in refuses {task_id} this once")
        answer = super().respond(headers, body)
        if task_id is not None and task_id == self.after_task:
            self._sibling_answered.set()
        return answer

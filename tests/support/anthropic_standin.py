"""A stand-in for the paid Anthropic Messages API: a real HTTP server on loopback.

It speaks ``POST /v1/messages``, checks the ``x-api-key`` and
``anthropic-version`` headers and that exactly one tool is forced, records every
request, and answers with a ``tool_use`` block whose ``input`` it computes by
running the template agent on the inputs the prompt carries (like
:mod:`tests.support.openai_standin`), so the answers are valid and the resulting
application's own tests pass. Tests can script faults for the next requests: an
HTTP status such as 529 "overloaded" (``fail_next``) or a rewritten tool input
(``tamper_next``).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prazium_operator.agents.structured.prompts import parse_inputs
from tests.support.openai_standin import template_answer

API_VERSION = "2023-06-01"
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}

Fault = Callable[[Any], tuple[int, Any]]


def _error(status: int, message: str) -> dict[str, Any]:
    return {"type": "error",
            "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message}}


class AnthropicStandin:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> AnthropicStandin:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> AnthropicStandin:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def fail_next(self, status: int, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append(lambda _answer: (status, _error(status, f"stand-in {status}")))

    def tamper_next(self, change: Callable[[Any], Any]) -> None:
        """Answer the next request with a tool input of change(correct input)."""
        self.faults.append(lambda answer: (200, change(answer)))

    def respond(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            self.requests.append({"headers": headers, "body": body})
            fault = self.faults.popleft() if self.faults else None
        if headers.get("x-api-key") != self.api_key:
            return 401, _error(401, "invalid x-api-key")
        if headers.get("anthropic-version") != API_VERSION:
            return 400, _error(400, f"anthropic-version must be {API_VERSION}")
        if not body.get("model") or not isinstance(body.get("max_tokens"), int):
            return 400, _error(400, "model and max_tokens are required")
        tools, choice = body.get("tools") or [], body.get("tool_choice") or {}
        if len(tools) != 1 or choice != {"type": "tool", "name": tools[0]["name"]}:
            return 400, _error(400, "expected exactly one tool, forced by tool_choice")
        if tools[0].get("input_schema", {}).get("type") != "object":
            return 400, _error(400, "tools.0.input_schema.type must be 'object'")
        content = body["messages"][-1]["content"]
        if isinstance(content, list):
            content = "".join(b.get("text", "") for b in content)
        name = tools[0]["name"]
        answer = template_answer(name, parse_inputs(content))
        status = 200
        if fault is not None:
            status, answer = fault(answer)
            if status != 200:
                return status, answer
        return status, _message(name, answer, body["model"])


def _message(name: str, tool_input: Any, model: str) -> dict[str, Any]:
    return {"id": "msg_standin", "type": "message", "role": "assistant", "model": model,
            "stop_reason": "tool_use", "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
            "content": [{"type": "tool_use", "id": "toolu_standin", "name": name,
                         "input": tool_input}]}


def _handler(standin: AnthropicStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path != "/v1/messages":
                self._send(404, _error(404, f"no route {self.path}"))
                return
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, payload = standin.respond(headers, body)
            except Exception as exc:  # a stand-in bug shows as a 500 with the reason
                status, payload = 500, _error(500, f"{type(exc).__name__}: {exc}")
            self._send(status, payload)

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status in (429, 529):
                self.send_header("retry-after", "0")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            pass

    return Handler

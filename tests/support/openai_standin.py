"""A stand-in for a paid OpenAI-compatible endpoint: a real HTTP server on loopback.

It speaks the Chat Completions protocol (``POST /v1/chat/completions``), checks
the Bearer key, records every request, and answers deterministically by running
the template agent on the inputs the prompt carries, so its JSON is valid and
the resulting application's own tests pass. Tests can script faults for the
next requests: an HTTP status (``fail_next``), a rewritten answer
(``tamper_next``) or a slow answer (``delay_next``).
"""

from __future__ import annotations

import json
import pathlib
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prazium_operator.agents.structured.prompts import parse_inputs
from prazium_operator.agents.structured.schemas import DOCUMENT_KEYS
from prazium_operator.agents.template import TemplateCoder, TemplatePlanner

Fault = Callable[[Any], tuple[int, Any]]


def template_answer(schema_name: str, inputs: dict[str, Any]) -> Any:
    planner = TemplatePlanner()
    if schema_name == "questions":
        questions = planner.clarify(inputs["displayName"], inputs["description"])
        return {"questions": [{"options": [], **q} for q in questions]}
    if schema_name == "spec_documents":
        documents = planner.write_spec(inputs["displayName"], inputs["description"],
                                       inputs["answers"], inputs["feedback"] or None,
                                       inputs["revision"])
        return {key: documents[name] for name, key in DOCUMENT_KEYS.items()}
    if schema_name == "plan":
        return planner.decompose(inputs["displayName"], inputs["documents"])
    if schema_name == "files":
        with tempfile.TemporaryDirectory() as tmp:
            root = pathlib.Path(tmp)
            TemplateCoder().code(inputs["task"], inputs["documents"], root)
            return {"files": [
                {"path": str(p.relative_to(root)), "content": p.read_text(encoding="utf-8"),
                 "executable": bool(p.stat().st_mode & 0o100)}
                for p in sorted(root.rglob("*")) if p.is_file()]}
    raise ValueError(f"unknown schema {schema_name!r}")


class OpenAIStandin:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.faults: deque[Fault] = deque()
        self.delays: deque[float] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> OpenAIStandin:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> OpenAIStandin:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def fail_next(self, status: int, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append(
                lambda _answer: (status, {"error": {"message": f"stand-in {status}"}}))

    def tamper_next(self, change: Callable[[Any], Any]) -> None:
        """Answer the next request with change(correct answer); a str is sent as raw content."""
        self.faults.append(lambda answer: (200, _completion(change(answer))))

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Answer the next requests only after seconds (each is recorded on arrival)."""
        for _ in range(times):
            self.delays.append(seconds)

    def respond(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            self.requests.append({"headers": headers, "body": body})
            fault = self.faults.popleft() if self.faults else None
            delay = self.delays.popleft() if self.delays else 0.0
        if delay:
            time.sleep(delay)
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {"error": {"message": "invalid api key", "type": "auth"}}
        schema = body["response_format"]["json_schema"]
        inputs = parse_inputs(body["messages"][-1]["content"])
        answer = template_answer(schema["name"], inputs)
        if fault is not None:
            return fault(answer)
        return 200, _completion(answer, body.get("model", ""))


def _completion(answer: Any, model: str = "standin") -> dict[str, Any]:
    content = answer if isinstance(answer, str) else json.dumps(answer)
    return {"id": "chatcmpl-standin", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}]}


def _handler(standin: OpenAIStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, payload = standin.respond(headers, body)
            except Exception as exc:  # a stand-in bug shows as a 500 with the reason
                status, payload = 500, {"error": {"message": f"{type(exc).__name__}: {exc}"}}
            self._send(status, payload)

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            pass

    return Handler

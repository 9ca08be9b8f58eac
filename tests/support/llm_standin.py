"""What the stand-ins for paid LLM endpoints share: a real HTTP server on loopback.

A stand-in records every request, checks the provider's own headers and body
shape, and answers deterministically by running the template agent on the
inputs the prompt carries, so its answers are valid and the resulting
application's own tests pass. Tests script the next requests: an HTTP status
(``fail_next``), a rewritten answer (``tamper_next``), a body that is not the
protocol's JSON (``raw_next``) or a slow answer (``delay_next``); benchmarks give
every answer a model's reply time (``reply_seconds``). Subclasses speak one
provider's wire protocol.

Requests that offer tools without forcing one are a coding agent's session
(agents/loop): those are answered from the session's script (``script``; see
agent_sessions.py), after checking the conversation follows the provider's
tool-calling rules as the real endpoint would (400 otherwise) and that the key
appears nowhere in what the agent sent.
"""

from __future__ import annotations

import json
import pathlib
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from prazium_appgen import TemplateCoder, TemplatePlanner
from prazium_operator.agents.structured.schemas import DOCUMENT_KEYS
from tests.support import agent_sessions
from tests.support.agent_sessions import Reply, SessionView, Step

# A scripted fault: the correct answer in, (status, answer or error body) out.
Fault = Callable[[Any], tuple[int, Any]]


@dataclass(frozen=True)
class RawBody:
    """A response body sent as it is, outside the protocol's envelope."""

    text: str
    content_type: str


def template_answer(schema_name: str, inputs: dict[str, Any]) -> Any:
    """The answer a well-behaved model gives, computed by the template agent."""
    planner = TemplatePlanner()
    if schema_name == "questions":
        questions = planner.clarify(inputs["displayName"], inputs["description"])
        return {"questions": [{"options": [], **q} for q in questions]}
    if schema_name == "spec_documents":
        documents = planner.write_spec(
            inputs["displayName"],
            inputs["description"],
            inputs["answers"],
            inputs["feedback"] or None,
            inputs["revision"],
        )
        return {key: documents[name] for name, key in DOCUMENT_KEYS.items()}
    if schema_name == "plan":
        plan = planner.decompose(inputs["displayName"], inputs["documents"])
        for task in plan["tasks"]:  # the schema asks each task for its own tests
            task["testCommand"] = test_command(task.get("expectedOutputs") or [])
        return plan
    if schema_name == "files":
        with tempfile.TemporaryDirectory() as tmp:
            root = pathlib.Path(tmp)
            TemplateCoder().code(inputs["task"], inputs["documents"], root)
            return {
                "files": [
                    {
                        "path": str(p.relative_to(root)),
                        "content": p.read_text(encoding="utf-8"),
                        "executable": bool(p.stat().st_mode & 0o100),
                    }
                    for p in sorted(root.rglob("*"))
                    if p.is_file()
                ]
            }
    raise ValueError(f"unknown schema {schema_name!r}")


def test_command(outputs: list[str]) -> list[str]:
    """The unittest modules among a task's outputs, as its testCommand ([]: none)."""
    modules = [
        path.removesuffix(".py").replace("/", ".")
        for path in outputs
        if path.startswith("tests/test_") and path.endswith(".py")
    ]
    return ["python", "-m", "unittest", "-v", *modules] if modules else []


class LLMStandin:
    """One provider's endpoint; subclasses fill in the protocol-specific parts."""

    route = ""  # the one path served, e.g. "/v1/messages"
    base_path = ""  # what a client appends to host:port as its base URL
    retry_statuses: frozenset[int] = frozenset({429})

    def __init__(self, api_key: str, host: str = "127.0.0.1") -> None:
        self.api_key = api_key
        self.host = host
        self.requests: list[dict[str, Any]] = []
        self.faults: deque[Fault] = deque()
        self.delays: deque[float] = deque()
        # Every request waits this long before its answer, as a model takes time to
        # reply (0: at once); a delay_next delay replaces it for its request.
        self.reply_seconds = 0.0
        # Coding-agent sessions: scripts by task id ("*": any task without its own),
        # every view the stand-in answered, and every check that failed.
        self.scripts: dict[str, list[Step]] = {}
        self.session_views: list[SessionView] = []
        self.session_failures: list[str] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- protocol-specific -------------------------------------------------------

    def error_body(self, status: int, message: str) -> Any:
        raise NotImplementedError

    def refusal(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any] | None:
        """The error the real endpoint would answer to this request, if any."""
        raise NotImplementedError

    def schema_and_inputs(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def envelope(self, answer: Any, body: dict[str, Any]) -> Any:
        """A successful response carrying answer."""
        raise NotImplementedError

    def auth_refusal(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any] | None:
        """The error the real endpoint answers any request with bad credentials."""
        raise NotImplementedError

    def is_session(self, body: dict[str, Any]) -> bool:
        """Whether the request is a coding agent's tool-calling turn."""
        raise NotImplementedError

    def session_view(self, body: dict[str, Any]) -> SessionView:
        """The conversation read back; AssertionError when it breaks the protocol's
        tool-calling rules (the real endpoint answers those 400)."""
        raise NotImplementedError

    def session_envelope(self, reply: Reply, body: dict[str, Any], view: SessionView) -> Any:
        raise NotImplementedError

    # -- sessions ------------------------------------------------------------------

    def script(self, task_id: str, steps: list[Step]) -> None:
        """Play steps (one per request, in order) for task_id's sessions ("*": any)."""
        self.scripts[task_id] = list(steps)

    def session_requests(self, task_id: str | None = None) -> list[SessionView]:
        return [v for v in self.session_views if task_id is None or v.task_id == task_id]

    def _session(self, body: dict[str, Any], arrived: float) -> tuple[int, Any]:
        raw = json.dumps(body)
        try:
            view = self.session_view(body)
        except AssertionError as exc:
            return self._session_failed(f"protocol: {exc}")
        view.arrived = arrived
        with self._lock:
            self.session_views.append(view)
        if self.api_key in raw:
            return self._session_failed(f"{view.task_id} step {view.step}: the key was sent back")
        steps = self.scripts.get(view.task_id, self.scripts.get("*"))
        try:
            if steps is None:
                reply = agent_sessions.template_session(view)
            elif view.step < len(steps):
                reply = steps[view.step](view)
            else:
                raise agent_sessions.SessionCheckFailed(
                    f"step {view.step} is past the script's {len(steps)} steps"
                )
        except AssertionError as exc:
            return self._session_failed(f"{view.task_id}: {exc}")
        envelope = self.session_envelope(reply, body, view)
        self._local.view = view
        return 200, envelope

    def _session_failed(self, message: str) -> tuple[int, Any]:
        with self._lock:
            self.session_failures.append(message)
        return 400, self.error_body(400, f"stand-in check failed: {message}"[:4000])

    # -- shared --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._server.server_address[1]}{self.base_path}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def fail_next(self, status: int, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append(
                lambda _answer: (status, self.error_body(status, f"stand-in {status}"))
            )

    def tamper_next(self, change: Callable[[Any], Any]) -> None:
        """Answer the next request with change(correct answer)."""
        self.faults.append(lambda answer: (200, change(answer)))

    def raw_next(self, text: str, content_type: str = "application/json") -> None:
        """Answer the next request 200 with this body as it is."""
        self.faults.append(lambda _answer: (200, RawBody(text, content_type)))

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Answer the next requests only after seconds (each is recorded on arrival)."""
        for _ in range(times):
            self.delays.append(seconds)

    def mark_sent(self) -> None:
        """Called by the handler once a reply is written: stamps the session's view."""
        view = getattr(self._local, "view", None)
        if view is not None:
            view.sent = time.monotonic()
            self._local.view = None

    def respond(
        self, headers: dict[str, str], body: dict[str, Any], arrived: float = 0.0
    ) -> tuple[int, Any]:
        self._local.view = None
        with self._lock:
            self.requests.append({"headers": headers, "body": body})
            fault = self.faults.popleft() if self.faults else None
            delay = self.delays.popleft() if self.delays else self.reply_seconds
        if delay:
            time.sleep(delay)
        refused = self.auth_refusal(headers, body)
        if refused is not None:
            return refused
        if self.is_session(body):
            status, envelope = self._session(body, arrived)
            if fault is not None and status == 200:
                status, envelope = fault(envelope)
            return status, envelope
        refused = self.refusal(headers, body)
        if refused is not None:
            return refused
        answer = template_answer(*self.schema_and_inputs(body))
        if fault is not None:
            status, answer = fault(answer)
            if status != 200 or isinstance(answer, RawBody):
                return status, answer
        return 200, self.envelope(answer, body)


def _handler(standin: LLMStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrived = time.monotonic()
            if self.path != standin.route:
                self._send(404, standin.error_body(404, f"no route {self.path}"))
                return
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, payload = standin.respond(headers, body, arrived)
            except Exception as exc:  # a stand-in bug shows as a 500 with the reason
                status, payload = 500, standin.error_body(500, f"{type(exc).__name__}: {exc}")
            self._send(status, payload)

        def _send(self, status: int, payload: Any) -> None:
            raw = payload if isinstance(payload, RawBody) else None
            data = raw.text.encode() if raw else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", raw.content_type if raw else "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status in standin.retry_statuses:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            standin.mark_sent()

        def log_message(self, *_: Any) -> None:
            pass

    return Handler

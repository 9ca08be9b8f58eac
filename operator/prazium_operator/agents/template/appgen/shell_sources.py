"""Generated-app sources owned by the app-shell task: server, routing, storage, test harness.

These files do not depend on the entities, so they are plain constants.
"""

ROUTING_PY = '''"""Request routing: maps an HTTP method and path to a handler.

Paths are written with ``{name}`` placeholders (``/api/tasks/{id}``). A path that
matches no route answers 404; a path that matches only under other methods
answers 405, naming the allowed methods.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True)
class Response:
    status: int
    body: Any = None


class HttpError(Exception):
    """Raised by handlers to answer with an error status and a JSON error body."""

    def __init__(
        self, status: int, code: str, message: str, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


Handler = Callable[[Request], Response]


def compile_path(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"\\{(\\w+)\\}", pattern)
    return re.compile(
        "".join(
            f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part)
            for index, part in enumerate(parts)
        )
    )


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method.upper(), pattern, compile_path(pattern), handler))

    def routes(self) -> list[tuple[str, str]]:
        """(method, pattern) of every route, in registration order."""
        return [(method, pattern) for method, pattern, _, _ in self._routes]

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed: set[str] = set()
        for route_method, _, regex, handler in self._routes:
            match = regex.fullmatch(path)
            if match is None:
                continue
            if route_method == method:
                return handler, match.groupdict()
            allowed.add(route_method)
        if allowed:
            raise HttpError(
                405,
                "method_not_allowed",
                f"{method} is not allowed on {path}; allowed: {', '.join(sorted(allowed))}",
            )
        raise HttpError(404, "not_found", f"no route for {path}")
'''

STORAGE_PY = '''"""SQLite persistence shared by every resource.

A single connection guarded by a lock: the server handles each request in its
own thread, and one SQLite connection must not be used by two threads at once.
Statements autocommit. Table and column names come from the app's own schema
and are quoted anyway.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from typing import Any

DATABASE_ENV = "APP_DATABASE"
IN_MEMORY = ":memory:"


def database_path_from_env() -> str:
    """The SQLite file named by APP_DATABASE, or an in-memory database."""
    return os.environ.get(DATABASE_ENV, "").strip() or IN_MEMORY


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class ConflictError(Exception):
    """A write violated a unique constraint."""


class Database:
    def __init__(self, path: str = IN_MEMORY) -> None:
        self.path = path
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._connection.row_factory = sqlite3.Row
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def _run(self, sql: str, parameters: Iterable[Any] = ()) -> sqlite3.Cursor:
        try:
            return self._connection.execute(sql, tuple(parameters))
        except sqlite3.IntegrityError as error:
            raise ConflictError(str(error)) from error

    def query(self, sql: str, parameters: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self._run(sql, parameters).fetchall()]

    def ensure_table(
        self, table: str, columns: Mapping[str, str], unique: Iterable[str] = ()
    ) -> None:
        """Create the table if missing and add columns that a newer schema introduced."""
        definitions = "".join(f", {quote(name)} {kind}" for name, kind in columns.items())
        with self._lock:
            self._run(
                f"CREATE TABLE IF NOT EXISTS {quote(table)} "
                f"(id INTEGER PRIMARY KEY AUTOINCREMENT{definitions})"
            )
            info = self._run(f"PRAGMA table_info({quote(table)})").fetchall()
            existing = {row["name"] for row in info}
            for name, kind in columns.items():
                if name not in existing:
                    self._run(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(name)} {kind}")
            for name in unique:
                index = quote(f"{table}_{name}_unique")
                self._run(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {quote(table)} ({quote(name)})"
                )

    def insert(self, table: str, values: Mapping[str, Any]) -> dict[str, Any]:
        names = list(values)
        with self._lock:
            if names:
                columns = ", ".join(quote(name) for name in names)
                marks = ", ".join("?" for _ in names)
                sql = f"INSERT INTO {quote(table)} ({columns}) VALUES ({marks})"
            else:
                sql = f"INSERT INTO {quote(table)} DEFAULT VALUES"
            row_id = self._run(sql, [values[name] for name in names]).lastrowid
            row = self._run(f"SELECT * FROM {quote(table)} WHERE id = ?", [row_id]).fetchone()
        return dict(row)

    def get(self, table: str, row_id: int) -> dict[str, Any] | None:
        rows = self.query(f"SELECT * FROM {quote(table)} WHERE id = ?", [row_id])
        return rows[0] if rows else None

    def find(self, table: str, column: str, value: Any) -> dict[str, Any] | None:
        rows = self.query(
            f"SELECT * FROM {quote(table)} WHERE {quote(column)} = ? ORDER BY id LIMIT 1",
            [value],
        )
        return rows[0] if rows else None

    def list(self, table: str, limit: int, offset: int) -> list[dict[str, Any]]:
        return self.query(
            f"SELECT * FROM {quote(table)} ORDER BY id LIMIT ? OFFSET ?", [limit, offset]
        )

    def update(self, table: str, row_id: int, values: Mapping[str, Any]) -> dict[str, Any] | None:
        if values:
            assignments = ", ".join(f"{quote(name)} = ?" for name in values)
            with self._lock:
                self._run(
                    f"UPDATE {quote(table)} SET {assignments} WHERE id = ?",
                    [*values.values(), row_id],
                )
        return self.get(table, row_id)

    def delete(self, table: str, row_id: int) -> bool:
        with self._lock:
            return self._run(f"DELETE FROM {quote(table)} WHERE id = ?", [row_id]).rowcount > 0
'''

SERVER_PY = '''"""HTTP server: JSON in, JSON out, one handler per route.

Run with ``python -m app``. Settings come from the environment: APP_HOST
(default 127.0.0.1), APP_PORT (default 8000), APP_DATABASE (SQLite file, default
in-memory) and APP_ACCESS_LOG (set to 1 to log requests to stderr).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from app.resources import load_resources
from app.routing import HttpError, Request, Response, Router
from app.storage import Database, database_path_from_env

MAX_BODY_BYTES = 1_000_000


def decode_json(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HttpError(400, "invalid_json", f"request body is not valid JSON: {error}") from error


class Application:
    """Routes requests to resource handlers; independent of the HTTP transport."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.router = Router()
        self.resources = load_resources(self.router, database)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        url = urlsplit(target)
        try:
            handler, params = self.router.resolve(method, url.path)
            query = dict(parse_qsl(url.query))
            return handler(Request(method, url.path, params, query, headers, decode_json(body)))
        except HttpError as error:
            return Response(error.status, error.body())
        except Exception:
            # Never leak internals to clients; the traceback goes to the server log.
            traceback.print_exc(file=sys.stderr)
            return Response(500, {"error": {"code": "internal_error", "message": "internal error"}})


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: AppServer

    def do_GET(self) -> None:
        self.dispatch()

    def do_POST(self) -> None:
        self.dispatch()

    def do_PUT(self) -> None:
        self.dispatch()

    def do_PATCH(self) -> None:
        self.dispatch()

    def do_DELETE(self) -> None:
        self.dispatch()

    def dispatch(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            error = HttpError(400, "invalid_length", "missing, invalid or too large Content-Length")
            self.close_connection = True
            self.send(Response(error.status, error.body()))
            return
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.send(self.server.application.handle(self.command, self.path, headers, body))

    def send(self, response: Response) -> None:
        payload = b"" if response.body is None else json.dumps(response.body).encode("utf-8")
        self.send_response(response.status)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("APP_ACCESS_LOG") == "1":
            super().log_message(format, *args)


class AppServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], application: Application) -> None:
        super().__init__(address, RequestHandler)
        self.application = application

    def server_close(self) -> None:
        super().server_close()
        self.application.database.close()


def create_server(
    host: str = "127.0.0.1", port: int = 0, database_path: str | None = None
) -> AppServer:
    """A server bound to host:port (port 0 picks a free one); call serve_forever()."""
    database = Database(database_path or database_path_from_env())
    return AppServer((host, port), Application(database))


def main() -> None:
    host = os.environ.get("APP_HOST", "127.0.0.1")
    port = int(os.environ.get("APP_PORT", "8000"))
    server = create_server(host, port)
    print(f"serving on http://{host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
'''

MAIN_PY = '''"""``python -m app`` serves the API (settings: see app/server.py and README.md)."""

from app.server import main

if __name__ == "__main__":
    main()
'''

RESOURCES_INIT_PY = '''"""Resource modules, discovered at start-up.

Every module in this package that defines ``register(router, database)`` is
loaded, in name order. Discovery instead of a central route table means each
resource is added by adding one file, so work on different resources never
edits the same file and merges cleanly.
"""

from __future__ import annotations

import importlib
import pkgutil

from app.routing import Router
from app.storage import Database


def resource_module_names() -> list[str]:
    return sorted(module.name for module in pkgutil.iter_modules(__path__))


def load_resources(router: Router, database: Database) -> list[str]:
    """Register every resource module's routes; returns the names of the modules loaded."""
    loaded = []
    for name in resource_module_names():
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(router, database)
            loaded.append(name)
    return loaded
'''

HEALTH_PY = '''"""GET /health: liveness, and which resource modules are loaded."""

from __future__ import annotations

from app import APP_NAME
from app.resources import resource_module_names
from app.routing import Request, Response, Router
from app.storage import Database


def register(router: Router, database: Database) -> None:
    def health(request: Request) -> Response:
        return Response(
            200, {"status": "ok", "app": APP_NAME, "resources": resource_module_names()}
        )

    router.add("GET", "/health", health)
'''

TESTS_INIT_PY = '''\
"""HTTP-level tests; run ``python -m unittest discover -s tests -t . -v`` from the root."""
'''

HARNESS_PY = '''"""Starts the real server on a free loopback port so tests talk HTTP to it."""

from __future__ import annotations

import json
import threading
import unittest
import urllib.error
import urllib.request
from typing import Any, ClassVar

from app.server import AppServer, create_server

# Test traffic must never go through a proxy configured in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _decode(payload: bytes) -> Any:
    return json.loads(payload) if payload else None


class ServerTestCase(unittest.TestCase):
    """Each test class gets its own server and a fresh in-memory database."""

    server: ClassVar[AppServer]
    base_url: ClassVar[str]
    server_thread: ClassVar[threading.Thread]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.server = create_server("127.0.0.1", 0, ":memory:")
        # A short poll interval keeps shutdown() (which waits for one poll) fast.
        cls.server_thread = threading.Thread(
            target=cls.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        cls.server_thread.start()
        cls.base_url = f"http://127.0.0.1:{cls.server.server_address[1]}"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.shutdown()
        cls.server.server_close()
        cls.server_thread.join(timeout=5)
        super().tearDownClass()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        """Send a request; returns (status, decoded JSON body or None)."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with _OPENER.open(request, timeout=10) as response:
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, _decode(error.read())
'''

TEST_HEALTH_PY = '''"""The service-level routes and error handling."""

from __future__ import annotations

from tests.harness import ServerTestCase


class HealthTest(ServerTestCase):
    def test_health_reports_ok(self) -> None:
        status, body = self.request("GET", "/health")
        self.assertEqual(status, 200)
        self.assertEqual(body["status"], "ok")
        self.assertIn("health", body["resources"])

    def test_unknown_path_returns_404_json(self) -> None:
        status, body = self.request("GET", "/no/such/path")
        self.assertEqual(status, 404)
        self.assertEqual(body["error"]["code"], "not_found")

    def test_wrong_method_returns_405_json(self) -> None:
        status, body = self.request("DELETE", "/health")
        self.assertEqual(status, 405)
        self.assertEqual(body["error"]["code"], "method_not_allowed")
'''

GITIGNORE = """__pycache__/
*.pyc
*.sqlite3
*.db
"""

RUN_SH = """#!/bin/sh
# Serve the API. Settings: APP_HOST, APP_PORT, APP_DATABASE (see README.md).
set -e
cd "$(dirname "$0")"
exec "${PYTHON:-python3}" -m app "$@"
"""

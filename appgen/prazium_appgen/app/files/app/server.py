"""HTTP server: JSON in, JSON out, one handler per route.

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

"""A real git remote on loopback for publish tests: git's own http-backend behind a
small threaded HTTP server that wants HTTP Basic credentials (like a git host).

    with GitServer(tmp_path / "remote", "robot", "s3cret") as server:
        url = server.create_repo("app")      # http://127.0.0.1:<port>/app.git
        ...push...
        server.head("app", "release")         # the commit the branch points at

Every request's outcome is kept in `server.requests` (method, path, status), so a
test can tell a refused credential (401) from other failures.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit


class GitServer:
    def __init__(self, root: Path, username: str, password: str) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.username = username
        self.requests: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}.git"

    def create_repo(self, name: str) -> str:
        subprocess.run(
            ["git", "init", "--quiet", "--bare", "-b", "main", str(self.root / f"{name}.git")],
            check=True,
        )
        return self.url(name)

    def head(self, name: str, branch: str) -> str | None:
        proc = subprocess.run(
            ["git", "--git-dir", str(self.root / f"{name}.git"), "rev-parse", "--verify",
             "--quiet", f"refs/heads/{branch}"],
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        return proc.stdout.strip() or None

    def statuses(self) -> list[int]:
        with self._lock:
            return [status for _, _, status in self.requests]

    def __enter__(self) -> GitServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet; server.requests has the story

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                server._record(self.command, self.path, status)

            def _serve(self) -> None:
                body = self._body() if self.command == "POST" else b""
                if self.headers.get("Authorization") != server.expected:
                    self._reply(401, [("WWW-Authenticate", 'Basic realm="test"')], b"")
                    return
                url = urlsplit(self.path)
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "HOME": str(server.root),
                    "GIT_CONFIG_NOSYSTEM": "1",
                    "GIT_CONFIG_GLOBAL": os.devnull,
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REMOTE_USER": server.username,  # enables receive-pack (push)
                    "PATH_INFO": url.path,
                    "QUERY_STRING": url.query,
                    "REQUEST_METHOD": self.command,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                    "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                }
                proc = subprocess.run(
                    ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
                )
                head, _, payload = proc.stdout.partition(b"\r\n\r\n")
                status, headers = 200, []
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self._reply(status, headers, payload)

        return Handler

"""Starts the real server on a free loopback port so tests talk HTTP to it."""

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

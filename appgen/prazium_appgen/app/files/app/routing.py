"""Request routing: maps an HTTP method and path to a handler.

Paths are written with ``{name}`` placeholders (``/api/tasks/{id}``). A path that
matches no route answers 404; a path that matches only under other methods
answers 405, naming the allowed methods.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JsonObject = dict[str, object]
"""A JSON object as a request or response body carries it (a record, an error)."""


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

    def body(self) -> JsonObject:
        error: JsonObject = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


Handler = Callable[[Request], Response]


def compile_path(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", pattern)
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

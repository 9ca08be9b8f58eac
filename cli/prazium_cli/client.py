"""The API over HTTP: the /v1 base, the bearer key, the contract's envelopes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx

from prazium_cli import __version__
from prazium_cli.config import Config
from prazium_cli.errors import EXIT_UNREACHABLE, CliError, not_logged_in

USER_AGENT = f"prazium-cli/{__version__}"


def error_from(response: httpx.Response) -> CliError:
    """The contract's error envelope as a CliError; anything else described as it is."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
        return CliError(
            str(error.get("code") or "INTERNAL_ERROR"),
            str(error.get("message") or f"HTTP {response.status_code}"),
            details,
        )
    text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
    return CliError(
        "INTERNAL_ERROR",
        f"HTTP {response.status_code} from {response.request.url.path}"
        + (f": {text}" if text else ""),
        {"status": response.status_code},
    )


class Api:
    """One API, one key. Methods answer the contract's body (success envelope)
    or raise CliError (the error envelope, or why the API was not reached)."""

    def __init__(self, config: Config, timeout: float = 60.0, need_key: bool = True) -> None:
        if not config.api_url:
            raise not_logged_in("API URL")
        if need_key and not config.api_key:
            raise not_logged_in("API key")
        self.config = config
        self.base = config.api_url
        headers = {"User-Agent": USER_AGENT}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self.http = httpx.Client(base_url=f"{self.base}/v1", headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Any answer, error statuses included; only an API not reached raises."""
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise unreachable(self.base, exc) from exc

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The whole success body ({"success": true, "data": ..., "pagination"?})."""
        response = self.send(method, path, **kwargs)
        if response.is_error:
            raise error_from(response)
        try:
            body = response.json()
        except ValueError as exc:
            raise CliError(
                "INTERNAL_ERROR", f"{method} {path}: the answer is not JSON", exit_code=1
            ) from exc
        if not isinstance(body, dict):
            raise CliError("INTERNAL_ERROR", f"{method} {path}: unexpected answer", exit_code=1)
        return body

    def data(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, **kwargs).get("data")

    def raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A non-JSON answer (an archive, a log), read whole; errors as in call()."""
        response = self.send(method, path, **kwargs)
        if response.is_error:
            raise error_from(response)
        return response

    @contextlib.contextmanager
    def stream(self, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A streamed GET (SSE, followed logs, downloads): no read timeout, since a
        quiet run sends only keep-alives; errors as in call()."""
        timeout = httpx.Timeout(30.0, read=None)
        try:
            with self.http.stream("GET", path, timeout=timeout, **kwargs) as response:
                if response.is_error:
                    response.read()
                    raise error_from(response)
                yield response
        except httpx.TransportError as exc:
            raise unreachable(self.base, exc) from exc


def unreachable(base: str, exc: Exception) -> CliError:
    return CliError(
        "UNREACHABLE",
        f"cannot reach the API at {base}: {exc.__class__.__name__}"
        + (f" ({exc})" if str(exc) else ""),
        {"apiUrl": base},
        exit_code=EXIT_UNREACHABLE,
    )


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Server-sent events as {"id", "eventType", "data"}; comments (keep-alives) skipped."""
    event_id: str | None = None
    event_type: str | None = None
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data:
                try:
                    payload = json.loads("\n".join(data))
                except ValueError:
                    payload = {"raw": "\n".join(data)}
                yield {"id": event_id, "eventType": event_type, "data": payload}
            event_id, event_type, data = None, None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            event_id = value
        elif name == "event":
            event_type = value
        elif name == "data":
            data.append(value)

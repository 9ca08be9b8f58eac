"""POST a JSON body with bounded retries; every error message masks the API key.

429 and 5xx answers (529 "overloaded" included) and transport errors are
retried with exponential backoff; a ``Retry-After`` header is honoured, capped
at :data:`MAX_RETRY_AFTER` seconds. Other 4xx answers fail at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx

from prazium_operator.agents.base import AgentError

MAX_RETRY_AFTER = 30.0
ERROR_BODY_CHARS = 300


def endpoint_from_env(env: Mapping[str, str], *, agent: str, error: type[AgentError],
                      model: str | None, key_env: str, model_env: str, base_url_env: str,
                      default_base_url: str, timeout_env: str, attempts_env: str
                      ) -> dict[str, Any]:
    """base_url, api_key, model, timeout and max_attempts of an agent's endpoint, read
    from the environment (never from a CR); a clear ``error`` when one is missing."""
    api_key = env.get(key_env, "").strip()
    if not api_key:
        raise error(
            f"the {agent} agent needs an API key: set {key_env} in the operator's and"
            " workers' environment (for example from the Secret named by"
            " spec.agent.credentialsSecret)")
    chosen = (model or env.get(model_env, "")).strip()
    if not chosen:
        raise error(f"the {agent} agent needs a model: set spec.agent.model or {model_env}")
    try:
        timeout = float(env.get(timeout_env) or 120)
        attempts = int(env.get(attempts_env) or 4)
    except ValueError as exc:
        raise error(f"{timeout_env}/{attempts_env}: {exc}") from exc
    return {"base_url": (env.get(base_url_env) or default_base_url).strip().rstrip("/"),
            "api_key": api_key, "model": chosen, "timeout": timeout,
            "max_attempts": max(1, attempts)}


def mask(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def post_json(url: str, body: dict[str, Any], headers: dict[str, str], *, secret: str,
              timeout: float, max_attempts: int, backoff: float, error: type[AgentError],
              log: logging.Logger) -> Any:
    """The decoded JSON of a 2xx answer; ``error`` (its message masked) otherwise."""
    try:
        return _post(url, body, headers, timeout=timeout, max_attempts=max_attempts,
                     backoff=backoff, error=error, log=log, secret=secret)
    except AgentError as exc:
        raise error(mask(str(exc), secret)) from None


def _post(url: str, body: dict[str, Any], headers: dict[str, str], *, secret: str,
          timeout: float, max_attempts: int, backoff: float, error: type[AgentError],
          log: logging.Logger) -> Any:
    attempts = max(1, max_attempts)
    with httpx.Client(timeout=timeout) as http:
        for attempt in range(1, attempts + 1):
            delay = backoff * 2 ** (attempt - 1)
            try:
                response = http.post(url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    try:
                        return response.json()
                    except ValueError:
                        raise error(
                            f"{url} answered {response.status_code} with a body that is"
                            f" not JSON: {response.text[:ERROR_BODY_CHARS]!r}") from None
                problem = (f"{url} answered {response.status_code}:"
                           f" {response.text[:ERROR_BODY_CHARS]!r}")
                if response.status_code != 429 and response.status_code < 500:
                    raise error(problem)
                delay = retry_after(response, delay)
            if attempt == attempts:
                raise error(f"giving up after {attempts} attempts: {problem}")
            log.warning("endpoint attempt %s/%s failed, retrying in %.1fs: %s",
                        attempt, attempts, delay, mask(problem, secret))
            time.sleep(delay)
    raise AssertionError("unreachable")


def retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after")
    if value is None:
        return default
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return default

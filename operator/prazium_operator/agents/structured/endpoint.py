"""What the provider clients share: settings from the environment, masked errors.

The HTTP work (retries with backoff on 429/5xx and transport errors, timeouts,
``Retry-After``) is the providers' SDKs'; this module reads an endpoint's
settings from the environment and turns an SDK's failure into one line of text
that never shows the API key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prazium_operator.agents.base import AgentError

if TYPE_CHECKING:
    import httpx2

ERROR_BODY_CHARS = 300
# Both SDKs number the attempts of one call in this request header (0 on the first).
RETRY_COUNT_HEADER = "x-stainless-retry-count"


def endpoint_from_env(
    env: Mapping[str, str],
    *,
    agent: str,
    error: type[AgentError],
    model: str | None,
    key_env: str,
    model_env: str,
    base_url_envs: tuple[str, ...],
    default_base_url: str,
    timeout_env: str,
    attempts_env: str,
) -> dict[str, Any]:
    """base_url, api_key, model, timeout and max_attempts of an agent's endpoint, read
    from the environment (never from a CR); a clear ``error`` when one is missing.

    The base URL is the first of ``base_url_envs`` that is set (Prazium's own
    variable, then the SDK's, such as ``OPENAI_BASE_URL``), else the default.
    """
    api_key = env.get(key_env, "").strip()
    if not api_key:
        raise error(
            f"the {agent} agent needs an API key: set {key_env} in the operator's and"
            " workers' environment (for example from the Secret named by"
            " spec.agent.credentialsSecret)"
        )
    chosen = (model or env.get(model_env, "")).strip()
    if not chosen:
        raise error(f"the {agent} agent needs a model: set spec.agent.model or {model_env}")
    try:
        timeout = float(env.get(timeout_env) or 120)
        attempts = int(env.get(attempts_env) or 4)
    except ValueError as exc:
        raise error(f"{timeout_env}/{attempts_env}: {exc}") from exc
    base_url = next(
        (env[name] for name in base_url_envs if env.get(name, "").strip()), default_base_url
    )
    return {
        "base_url": base_url.strip().rstrip("/"),
        "api_key": api_key,
        "model": chosen,
        "timeout": timeout,
        "max_attempts": max(1, attempts),
    }


def mask(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def attempts_made(request: httpx2.Request) -> int:
    """How many attempts the SDK had made when it gave up with this (last) request."""
    try:
        return int(request.headers.get(RETRY_COUNT_HEADER) or 0) + 1
    except ValueError:
        return 1


def status_problem(response: httpx2.Response) -> str:
    """``<url> answered <status>: '<start of the body>'``."""
    return (
        f"{response.request.url} answered {response.status_code}:"
        f" {response.text[:ERROR_BODY_CHARS]!r}"
    )


def transport_problem(exc: BaseException, request: httpx2.Request) -> str:
    """What went wrong on the way to the endpoint (refused, timed out...)."""
    cause = exc.__cause__ or exc
    return f"{request.url}: {type(cause).__name__}: {cause or type(exc).__name__}"


def unreadable(url: str, answer: object, secret: str) -> str:
    """A 2xx answer the SDK could not read as its response type (not JSON, or not an
    object): the SDK hands back the text, or raises a ValueError, instead of failing."""
    text = str(answer)[:ERROR_BODY_CHARS]
    return mask(f"{url} answered a body that is not a JSON response: {text!r}", secret)


def failure(problem: str, attempts: int, secret: str) -> str:
    """The one-line error for a call that failed after ``attempts`` attempts, key masked."""
    text = f"giving up after {attempts} attempts: {problem}" if attempts > 1 else problem
    return mask(text, secret)

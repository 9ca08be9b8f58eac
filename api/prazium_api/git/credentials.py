"""Credentials for git over HTTP: the API key as a Basic password, or a bearer header.

A git client sends Basic credentials only after a 401 that asks for them
(`WWW-Authenticate: Basic realm="prazium"`), then takes the password from the
clone URL (http://any:pzm_...@host/...), a credential helper or a prompt. Any
user name is accepted; the key is the password. `git -c http.extraHeader=
"Authorization: Bearer pzm_..."` sends the key with the first request.

The key is then checked and counted exactly as on every other route
(authn.authenticate: the gate, the per-key rate limit, X-RateLimit-* headers).
"""

from __future__ import annotations

import base64
import binascii

from fastapi import Request

from prazium_api.auth import authn
from prazium_api.auth.keys import Principal
from prazium_api.contract.errors import ApiError

REALM = 'Basic realm="prazium"'
CHALLENGE = {"www-authenticate": REALM}


def basic_password(header: bytes) -> str | None:
    """The password of an `Authorization: Basic ...` header value, else None."""
    text = header.decode("latin-1")
    if text[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(text[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, sep, password = decoded.partition(":")
    return password if sep and password else None


def _as_bearer(request: Request) -> None:
    """Present a Basic password to authn as the bearer key it is."""
    headers = list(request.scope["headers"])
    for index, (name, value) in enumerate(headers):
        if name == b"authorization":
            password = basic_password(value)
            if password is not None:
                headers[index] = (name, b"Bearer " + password.encode("latin-1", "replace"))
                request.scope["headers"] = headers
            return


async def git_caller(request: Request) -> Principal:
    """The caller of a git request; 401 with the Basic challenge git understands."""
    _as_bearer(request)
    try:
        return await authn.authenticate(request)
    except ApiError as exc:
        if exc.code != "UNAUTHORIZED":
            raise
        raise ApiError(
            "UNAUTHORIZED",
            f"{exc.message}; git: use the API key as the password (any user name),"
            " or the header Authorization: Bearer pzm_...",
            exc.details,
            headers=CHALLENGE,
        ) from exc

"""Web UI sessions: exchange an API key for a session (the cookie is the router's),
end one, say who the credentials belong to."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import anyio

from prazium_api.auth import sessions
from prazium_api.auth.authn import csrf_token, rate_limited_error
from prazium_api.auth.gate import Gate
from prazium_api.auth.keys import Principal
from prazium_api.contract.errors import ApiError
from prazium_api.contract.responses import LoggedOut, Me, Session
from prazium_api.db import Database
from prazium_kit.timefmt import iso_z


@dataclass(frozen=True)
class LoggedIn:
    token: str  # the session cookie's value
    answer: Session


async def login(
    gate: Gate,
    database: Database,
    api_key: str,
    client_ip: str,
    ttl_seconds: int,
    *,
    cross_origin: bool,
) -> LoggedIn:
    """A session for a valid key. Refused from another site's page (a login the
    browser's user did not ask for); a failed attempt spends the failure budget of
    that key from that address, and a login counts as a request of the key."""
    if cross_origin:
        raise ApiError("FORBIDDEN", "log in from the API's own origin")
    outcome = await gate.login_attempt(api_key, client_ip)
    verdict, principal = outcome.verdict, outcome.principal
    if verdict is not None and not verdict.allowed:
        what = "requests" if principal else "failed checks of this credential from this address"
        error = rate_limited_error(verdict, what)
        # Public route: the headers are not added by the middleware (no verdict recorded).
        error.headers = {
            **(error.headers or {}),
            **{k.decode(): v.decode() for k, v in verdict.headers()},
        }
        raise error
    if principal is None:
        raise ApiError("UNAUTHORIZED", "invalid or revoked API key")

    def created() -> tuple[str, dt.datetime]:
        with database.connection() as conn:
            return sessions.create_session(conn, principal.key_id, ttl_seconds)

    token, expires_at = await anyio.to_thread.run_sync(created)
    answer = Session(
        keyId=principal.key_id,
        tenant=principal.tenant,
        tier=principal.tier,
        expiresAt=iso_z(expires_at),
        csrfToken=csrf_token(token),
    )
    return LoggedIn(token, answer)


def logout(database: Database, session: str | None) -> LoggedOut:
    if session:
        with database.connection() as conn:
            sessions.delete_session(conn, session)
    return LoggedOut(loggedOut=True)


def me(caller: Principal, bearer: str | None, session: str | None) -> Me:
    """With the session cookie alone, also the CSRF token its writes need."""
    return Me(
        keyId=caller.key_id,
        tenant=caller.tenant,
        tier=caller.tier,
        admin=caller.is_admin,
        csrfToken=csrf_token(session) if session and not bearer else None,
    )

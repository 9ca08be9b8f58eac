"""The WebSocket conversation of /v1/ws (routers/ws.py accepts the socket): auth,
subscribe / unsubscribe to run channels, event messages.

Client -> server (parsed as wsmessages.ClientMessage, a union on "type"):
                   {"type": "auth", "token": "pzm_..."}
                   {"type": "subscribe", "channel": "run:run_x", "lastEventId": "evt_7"?}
                   {"type": "unsubscribe", "channel": "run:run_x"}   {"type": "ping"}
Server -> client:  {"type": "authenticated", ...}  {"type": "subscribed", "channel"}
                   {"type": "event", "channel", "data": {eventType, taskId, payload,
                    timestamp, id}}   {"type": "unsubscribed", "channel"}
                   {"type": "error", "error": {code, message, details}}
A session cookie or Authorization header on the handshake also authenticates.
Subscribing replays the run's journal (after lastEventId) and then follows it.

Rate limits: a connection may send ws_messages_per_minute messages a minute;
once authenticated, each message also counts against the key's per-minute
budget, like a REST request (shared by replicas). A message over either limit is
dropped and answered {"type": "error", "error": {"code": "RATE_LIMITED",
"details": {"limit", "retryAfter"}}}. A failed auth spends the failure budget of
that token from the client address; past it, auth answers RATE_LIMITED and the socket is closed
(4429) without the token being looked at. A key whose tenant was removed gets
UNAUTHORIZED (details.reason TENANT_REMOVED) and 4401; while the database is
down, auth answers INTERNAL_ERROR (reason DATABASE_UNAVAILABLE) and closes with
1013 (try again later).

Credentials end while a socket is open too: a key is revoked, a session logs out or
expires, a tenant is removed. Each subscribe checks them again (as a REST request
would: a key verified less than PRAZIUM_KEY_CACHE_SECONDS ago is trusted), and an
authenticated socket has them checked in PostgreSQL at least every key cache
interval even when it sends nothing; once they are gone it gets UNAUTHORIZED and is
closed with 4401, its subscriptions with it. A check the database cannot answer is
no verdict: the socket stays open until the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from typing import Any

import anyio
from fastapi import WebSocket, WebSocketDisconnect

from prazium_api.auth.authn import client_ip
from prazium_api.auth.gate import Gate
from prazium_api.auth.keys import Principal
from prazium_api.cluster import lookup
from prazium_api.contract.errors import ApiError, envelope
from prazium_api.db import Database
from prazium_api.server import metrics
from prazium_api.streams import events
from prazium_api.streams.follower import JournalHub
from prazium_api.streams.wsmessages import (
    AuthMessage,
    ClientMessage,
    PingMessage,
    SubscribeMessage,
    UnsubscribeMessage,
    parse_message,
)
from prazium_kit import ids, logs
from prazium_kit.types import JsonObject

AUTH_CLOSE_CODE = 4401
RATE_LIMIT_CLOSE_CODE = 4429
UNAVAILABLE_CLOSE_CODE = 1013  # RFC 6455 "Try Again Later"
# Open sockets re-check their credentials at least this often even with the key
# cache off (PRAZIUM_KEY_CACHE_SECONDS=0), so a quiet socket costs a query a second
# at most.
MIN_RECHECK_SECONDS = 1.0


def recheck_seconds(key_cache_seconds: float) -> float:
    """How often an authenticated socket's credentials are checked in PostgreSQL: as
    often as a replica re-checks a cached key, so a revocation reaches an open socket
    no later than it reaches REST requests."""
    return max(key_cache_seconds, MIN_RECHECK_SECONDS)


class MessageWindow:
    """Messages of one connection in fixed one-minute windows."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.started = time.monotonic()
        self.count = 0

    def admit(self) -> int | None:
        """None when the message may go on, else seconds until the window ends."""
        now = time.monotonic()
        if now - self.started >= 60:
            self.started, self.count = now, 0
        self.count += 1
        if self.count > self.limit:
            return max(1, math.ceil(60 - (now - self.started)))
        return None


class Connection:
    def __init__(self, socket: WebSocket, hub: JournalHub, gate: Gate, database: Database) -> None:
        self.socket = socket
        self.hub = hub
        self.gate = gate
        self.database = database
        self.principal: Principal | None = None
        # What authenticated it (bearer key, session token), checked again later.
        self.credentials: tuple[str | None, str | None] = (None, None)
        self.subscriptions: dict[str, asyncio.Task[None]] = {}
        self.ended = False  # closed by us because its credentials are gone
        self._send_lock = asyncio.Lock()

    async def send(self, message: JsonObject) -> None:
        async with self._send_lock:
            await self.socket.send_text(json.dumps(message))

    async def error(self, code: str, message: str, **details: Any) -> None:
        await self.send(
            {
                "type": "error",
                **{k: v for k, v in envelope(code, message, details).items() if k == "error"},
            }
        )

    async def rate_limited(self, limit: int, retry_after: int, what: str) -> None:
        await self.error(
            "RATE_LIMITED",
            f"rate limit of {limit} {what} per minute exceeded; retry after {retry_after} s",
            limit=limit,
            retryAfter=retry_after,
        )

    async def authenticate(self, token: str | None, session: str | None = None) -> bool | int:
        """True when authenticated; False on bad credentials; otherwise the code to
        close the socket with, after an error message was sent: rate limited, the
        key's tenant removed (401 TENANT_REMOVED), the database down (503: 1013,
        "try again later" - not a verdict on the key)."""
        try:
            outcome = await self.gate.check(token, session, client_ip(self.socket.scope))
        except ApiError as exc:
            await self.error(exc.code, exc.message, **exc.details)
            return UNAVAILABLE_CLOSE_CODE if exc.status == 503 else AUTH_CLOSE_CODE
        principal, verdict = outcome.principal, outcome.verdict
        if verdict is not None and not verdict.allowed:
            await self.rate_limited(
                verdict.limit,
                verdict.retry_after,
                "requests" if principal else "failed checks of this credential from this address",
            )
            return RATE_LIMIT_CLOSE_CODE
        if principal is None:
            return False
        self.principal = principal
        self.credentials = (token, session)
        logs.context().update(tenant=principal.tenant, keyId=principal.key_id)
        await self.send(
            {"type": "authenticated", "keyId": principal.key_id, "tenant": principal.tenant}
        )
        return True

    async def still_valid(self, use_cache: bool) -> bool:
        """Whether the credentials this socket authenticated with still hold. When
        they do not (revoked key, ended session, removed tenant), the client is told
        UNAUTHORIZED and the socket is closed with 4401 (False). A database that
        cannot answer is no verdict (True: checked again later)."""
        if self.principal is None:
            return False
        bearer, session = self.credentials
        try:
            principal = await self.gate.verify(bearer, session, use_cache)
        except ApiError as exc:
            if exc.code == "INTERNAL_ERROR":
                return True
            await self._end(exc.code, exc.message, **exc.details)
            return False
        if principal is None:
            what = "API key was revoked" if bearer else "session has ended (logged out or expired)"
            await self._end("UNAUTHORIZED", f"the {what}; authenticate again")
            return False
        return True

    async def _end(self, code: str, message: str, **details: Any) -> None:
        """Tell the client why, then close the socket with 4401; its subscriptions
        stop with it (the receive loop's close_all)."""
        if self.ended:
            return
        self.principal, self.ended = None, True
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self.error(code, message, **details)
            await self.socket.close(AUTH_CLOSE_CODE)

    async def subscribe(self, channel: str, last_event_id: str | None) -> None:
        assert self.principal is not None
        if channel in self.subscriptions:
            await self.send({"type": "subscribed", "channel": channel})
            return
        kind, _, run_id = channel.partition(":")
        try:
            if kind != "run":
                raise ids.InvalidId(channel)
            run_name = ids.run_name(run_id)
            # Live or pruned (archived): a finished run's events stay readable.
            await anyio.to_thread.run_sync(
                lookup.run_of_tenant, self.principal.tenant, run_id, self.database
            )
        except (ids.InvalidId, ApiError):
            await self.error("NOT_FOUND", f"channel {channel} not found", channel=channel)
            return
        try:
            after = events.parse_event_id(last_event_id, "lastEventId")
        except ApiError as exc:
            await self.error(exc.code, exc.message, **exc.details)
            return
        key = (self.principal.tenant, run_name)
        self.subscriptions[channel] = asyncio.get_running_loop().create_task(
            self._pump(channel, key, after)
        )
        await self.send({"type": "subscribed", "channel": channel})

    async def _pump(self, channel: str, key: tuple[str, str], after: int) -> None:
        try:
            events_of_run = self.hub.follow(key, after, 30.0)
            async for event in metrics.tracked(metrics.WEBSOCKET_SUBSCRIPTIONS, events_of_run):
                if event is not None:
                    await self.send(events.ws_message(channel, event))
        except (WebSocketDisconnect, RuntimeError):
            pass  # the socket closed under us; the receive loop cleans up

    async def unsubscribe(self, channel: str) -> None:
        task = self.subscriptions.pop(channel, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.send({"type": "unsubscribed", "channel": channel})

    async def close_all(self) -> None:
        for task in self.subscriptions.values():
            task.cancel()
        for task in self.subscriptions.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def watch_credentials(conn: Connection, interval: float) -> None:
    """Check an authenticated socket's credentials in PostgreSQL every interval
    seconds, whether or not it sends anything; return once they are gone (the
    socket is closed then)."""
    while True:
        await asyncio.sleep(interval)
        if conn.principal is not None and not await conn.still_valid(use_cache=False):
            return


async def converse(conn: Connection, messages_per_minute: int, recheck_every: float) -> None:
    """Answer the client's messages until it goes (or is closed): each message counted
    against the connection's window and, once authenticated, the key's budget; the
    credentials re-checked on every subscribe and every recheck_every seconds."""
    socket = conn.socket
    window = MessageWindow(messages_per_minute)
    watcher = asyncio.get_running_loop().create_task(watch_credentials(conn, recheck_every))
    try:
        while True:
            text = await socket.receive_text()
            if conn.ended:  # a message that crossed our close: nobody to answer
                return
            retry_after = window.admit()
            if retry_after is not None:
                await conn.rate_limited(window.limit, retry_after, "messages on a connection")
                continue
            try:
                raw = json.loads(text)
                if not isinstance(raw, dict):
                    raise ValueError("not an object")
            except ValueError:
                await conn.error("VALIDATION_ERROR", "messages are JSON objects with a type")
                continue
            # Every message after auth counts against the key, whatever its type.
            if conn.principal is not None and raw.get("type") != "auth":
                verdict = await conn.gate.count_key(conn.principal)
                if not verdict.allowed:
                    await conn.rate_limited(verdict.limit, verdict.retry_after, "requests")
                    continue
            message = parse_message(raw)
            if message is None:
                await conn.error(
                    "VALIDATION_ERROR", f"unknown message type {raw.get('type')!r}", field="type"
                )
            elif not await _handle(conn, message):
                return
    except WebSocketDisconnect:
        pass
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await conn.close_all()


async def _handle(conn: Connection, message: ClientMessage) -> bool:
    """Answer one message; False when the socket was closed."""
    match message:
        case AuthMessage(token=token):
            authenticated = await conn.authenticate(token) if token is not None else False
            if authenticated is not True and authenticated is not False:
                await conn.socket.close(authenticated)  # the error message went out
                return False
            if not authenticated:
                await conn.error("UNAUTHORIZED", "invalid or revoked API key")
                await conn.socket.close(AUTH_CLOSE_CODE)
                return False
        case PingMessage():
            await conn.send({"type": "pong"})
        case SubscribeMessage() | UnsubscribeMessage() if conn.principal is None:
            await conn.error("UNAUTHORIZED", 'send {"type": "auth"} first')
        case SubscribeMessage(channel=None) | UnsubscribeMessage(channel=None):
            await conn.error("VALIDATION_ERROR", "channel is required", field="channel")
        case SubscribeMessage(channel=str(channel), lastEventId=last):
            if not await conn.still_valid(use_cache=True):
                return False
            await conn.subscribe(channel, last)
        case UnsubscribeMessage(channel=str(channel)):
            await conn.unsubscribe(channel)
    return True

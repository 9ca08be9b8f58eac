"""WebSocket /v1/ws: auth, subscribe / unsubscribe to run channels, event messages.

Client -> server:  {"type": "auth", "token": "pzm_..."}
                   {"type": "subscribe", "channel": "run:run_x", "lastEventId": "evt_7"?}
                   {"type": "unsubscribe", "channel": "run:run_x"}   {"type": "ping"}
Server -> client:  {"type": "authenticated", ...}  {"type": "subscribed", "channel"}
                   {"type": "event", "channel", "data": {eventType, taskId, payload,
                    timestamp, id}}   {"type": "unsubscribed", "channel"}
                   {"type": "error", "error": {code, message, details}}
A session cookie or Authorization header on the handshake also authenticates.
Subscribing replays the run's journal (after lastEventId) and then follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from prazium_api import crs, events, gate
from prazium_api.errors import ApiError, envelope
from prazium_api.follower import JournalHub
from prazium_api.keys import Principal
from prazium_api.middleware import client_ip, credentials
from prazium_operator import ids
from prazium_operator.kube import RUNS

router = APIRouter(tags=["websocket"])
log = logging.getLogger(__name__)
AUTH_CLOSE_CODE = 4401


class Connection:
    def __init__(self, socket: WebSocket, hub: JournalHub) -> None:
        self.socket = socket
        self.hub = hub
        self.principal: Principal | None = None
        self.subscriptions: dict[str, asyncio.Task[None]] = {}
        self._send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.socket.send_text(json.dumps(message))

    async def error(self, code: str, message: str, **details: Any) -> None:
        await self.send({"type": "error", **{k: v for k, v in envelope(
            code, message, details).items() if k == "error"}})

    async def authenticate(self, token: str | None, session: str | None = None) -> bool:
        try:
            outcome = await gate.check(token, session, client_ip(self.socket.scope))
        except ApiError:
            return False
        principal = outcome.principal
        if principal is None:
            return False
        self.principal = principal
        await self.send({"type": "authenticated", "keyId": principal.key_id,
                         "tenant": principal.tenant})
        return True

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
            await anyio.to_thread.run_sync(crs.get, self.principal.tenant, RUNS, run_name,
                                           f"run {run_id}")
        except (ids.InvalidId, ApiError):
            await self.error("NOT_FOUND", f"channel {channel} not found", channel=channel)
            return
        key = (self.principal.tenant, run_name)
        after = events.parse_event_id(last_event_id)
        self.subscriptions[channel] = asyncio.get_running_loop().create_task(
            self._pump(channel, key, after))
        await self.send({"type": "subscribed", "channel": channel})

    async def _pump(self, channel: str, key: tuple[str, str], after: int) -> None:
        try:
            async for event in self.hub.follow(key, after, 30.0):
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


@router.websocket("/ws")
async def websocket_endpoint(socket: WebSocket) -> None:
    await socket.accept()
    conn = Connection(socket, socket.app.state.journal_hub)
    bearer, session = credentials(socket.scope["headers"])
    if bearer or session:
        await conn.authenticate(bearer, session)
    try:
        while True:
            text = await socket.receive_text()
            try:
                message = json.loads(text)
                if not isinstance(message, dict):
                    raise ValueError("not an object")
            except ValueError:
                await conn.error("VALIDATION_ERROR", "messages are JSON objects with a type")
                continue
            kind = message.get("type")
            if kind == "auth":
                token = message.get("token")
                if not isinstance(token, str) or not await conn.authenticate(token):
                    await conn.error("UNAUTHORIZED", "invalid or revoked API key")
                    await socket.close(AUTH_CLOSE_CODE)
                    return
            elif kind == "ping":
                await conn.send({"type": "pong"})
            elif kind in ("subscribe", "unsubscribe"):
                channel = message.get("channel")
                if conn.principal is None:
                    await conn.error("UNAUTHORIZED", "send {\"type\": \"auth\"} first")
                elif not isinstance(channel, str):
                    await conn.error("VALIDATION_ERROR", "channel is required", field="channel")
                elif kind == "subscribe":
                    last = message.get("lastEventId")
                    await conn.subscribe(channel, last if isinstance(last, str) else None)
                else:
                    await conn.unsubscribe(channel)
            else:
                await conn.error("VALIDATION_ERROR", f"unknown message type {kind!r}",
                                 field="type")
    except WebSocketDisconnect:
        pass
    finally:
        await conn.close_all()

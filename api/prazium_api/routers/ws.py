"""WebSocket /v1/ws: the handshake (a session cookie or Authorization header on it also
authenticates), then the conversation of streams/websocket.py."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from prazium_api.auth.authn import credentials, cross_origin
from prazium_api.settings import ApiSettings
from prazium_api.streams import websocket

router = APIRouter(tags=["WebSocket"])


@router.websocket("/ws")
async def websocket_endpoint(socket: WebSocket) -> None:
    await socket.accept()
    state = socket.app.state
    settings: ApiSettings = state.settings
    conn = websocket.Connection(socket, state.journal_hub, state.gate, state.database)
    bearer, session = credentials(socket.scope["headers"])
    if session and not bearer and cross_origin(socket.scope):
        session = None  # another site's page: the browser's cookie is not its credential
    if bearer or session:
        await conn.authenticate(bearer, session)
    await websocket.converse(
        conn,
        settings.ws_messages_per_minute,
        websocket.recheck_seconds(settings.key_cache_seconds),
    )

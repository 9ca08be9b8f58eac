"""The client messages of WebSocket /v1/ws, as one pydantic union discriminated by
"type" (see websocket.py for the conversation)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, TypeAdapter, ValidationError

from prazium_kit.types import JsonObject


def _string_or_none(value: Any) -> Any:
    return value if isinstance(value, str) else None


# A field of the wrong JSON type reads as absent, so the handler answers it as it
# answers a missing one (a token that is not a string authenticates nobody; a
# channel that is not a string is "channel is required").
OptionalText = Annotated[str | None, BeforeValidator(_string_or_none)]


class AuthMessage(BaseModel):
    type: Literal["auth"]
    token: OptionalText = None


class SubscribeMessage(BaseModel):
    type: Literal["subscribe"]
    channel: OptionalText = None
    lastEventId: OptionalText = None


class UnsubscribeMessage(BaseModel):
    type: Literal["unsubscribe"]
    channel: OptionalText = None


class PingMessage(BaseModel):
    type: Literal["ping"]


ClientMessage = Annotated[
    AuthMessage | SubscribeMessage | UnsubscribeMessage | PingMessage, Field(discriminator="type")
]
_CLIENT_MESSAGE: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


def parse_message(raw: JsonObject) -> ClientMessage | None:
    """The message, or None when its type is missing or unknown."""
    try:
        return _CLIENT_MESSAGE.validate_python(raw)
    except ValidationError:
        return None

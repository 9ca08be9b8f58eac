"""Journal events in the contract's shapes: REST list items, SSE frames and the SSE
stream of a run, WS messages."""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import AsyncIterator

from prazium_api.contract import responses, views
from prazium_api.contract.errors import invalid
from prazium_api.streams.follower import JournalHub, RunKey
from prazium_kit import ids
from prazium_kit.journal import Event
from prazium_kit.timefmt import iso_z
from prazium_kit.types import JsonObject


def event_id(event: Event) -> str:
    return f"evt_{event.id}"


# evt_123 or 123; ids are bigserials, so at most 18 digits fit one.
_EVENT_ID = re.compile(r"(?:evt_)?([0-9]{1,18})")


def parse_event_id(text: str | None, field: str) -> int:
    """evt_123 (or 123) -> 123; absent or empty -> 0 (from the beginning). Anything
    else is 400 VALIDATION_ERROR naming field: silently replaying from the start
    would hand a resuming client every event again."""
    if text is None or not text.strip():
        return 0
    match = _EVENT_ID.fullmatch(text.strip())
    if match is None:
        raise invalid(f"{field} must be an event id like evt_42", field)
    return int(match.group(1))


def list_item(event: Event) -> responses.Event:
    return responses.Event(
        id=event_id(event),
        runId=ids.run_id(event.run),
        taskId=views.task_api_id(event.task),
        eventType=event.event_type,
        payload=event.payload,
        createdAt=iso_z(event.created_at),
    )


class FrameCache:
    """The SSE frame of recent events, rendered and encoded once for all
    subscribers of a run (1,000 subscribers on one run: one json.dumps and one
    encode per event, not 1,000); frames with and without the event's time apart."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._frames: OrderedDict[tuple[int, bool], bytes] = OrderedDict()

    def frame(self, event: Event, timestamps: bool = False) -> bytes:
        key = (event.id, timestamps)
        cached = self._frames.get(key)
        if cached is None:
            cached = self._frames[key] = sse_frame(event, timestamps).encode()
            if len(self._frames) > self.size:
                self._frames.popitem(last=False)
        return cached


def sse_frame(event: Event, timestamps: bool = False) -> str:
    """The contract's frame: the payload with the taskId; with timestamps (an opt-in
    extension) also the event's createdAt, as the list and the WebSocket give it."""
    data: JsonObject = {}
    task = views.task_api_id(event.task)
    if task is not None:
        data["taskId"] = task
    data.update(event.payload)
    if timestamps:
        data.setdefault("createdAt", iso_z(event.created_at))
    return (
        f"id: {event_id(event)}\nevent: {event.event_type}\n"
        f"data: {json.dumps(data, separators=(',', ':'))}\n\n"
    )


async def sse_stream(
    hub: JournalHub, key: RunKey, after_id: int, keepalive: float, timestamps: bool = False
) -> AsyncIterator[bytes]:
    """The SSE body for a run's events after after_id: a retry hint, then frames as
    the journal gets them (a subscriber that fell behind gets what it missed in one
    write, not one each), keep-alive comments while the run is quiet; ends after the
    run's final event."""
    yield b"retry: 2000\n\n"
    async for batch in hub.follow_batches(key, after_id, keepalive):
        if batch is None:
            yield b": keep-alive\n\n"
        else:
            yield b"".join([frames.frame(event, timestamps) for event in batch])


def ws_message(channel: str, event: Event) -> JsonObject:
    return {
        "type": "event",
        "channel": channel,
        "data": {
            "id": event_id(event),
            "eventType": event.event_type,
            "taskId": views.task_api_id(event.task),
            "payload": event.payload,
            "timestamp": iso_z(event.created_at),
        },
    }


frames = FrameCache()

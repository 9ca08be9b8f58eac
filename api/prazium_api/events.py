"""Journal events in the contract's shapes: REST list items, SSE frames, WS messages."""

from __future__ import annotations

import json
from typing import Any

from prazium_api import views
from prazium_kit import ids
from prazium_kit.journal import Event
from prazium_kit.timefmt import iso_z


def event_id(event: Event) -> str:
    return f"evt_{event.id}"


def parse_event_id(text: str | None) -> int:
    """evt_123 (or 123) -> 123; anything else starts from the beginning (0)."""
    if not text:
        return 0
    value = text.strip().removeprefix("evt_")
    return int(value) if value.isdigit() else 0


def list_item(event: Event) -> dict[str, Any]:
    return {
        "id": event_id(event),
        "runId": ids.run_id(event.run),
        "taskId": views.task_api_id(event.task),
        "eventType": event.event_type,
        "payload": event.payload,
        "createdAt": iso_z(event.created_at),
    }


def sse_frame(event: Event) -> str:
    data: dict[str, Any] = {}
    task = views.task_api_id(event.task)
    if task is not None:
        data["taskId"] = task
    data.update(event.payload)
    return (f"id: {event_id(event)}\nevent: {event.event_type}\n"
            f"data: {json.dumps(data, separators=(',', ':'))}\n\n")


def ws_message(channel: str, event: Event) -> dict[str, Any]:
    return {"type": "event", "channel": channel, "data": {
        "id": event_id(event), "eventType": event.event_type,
        "taskId": views.task_api_id(event.task), "payload": event.payload,
        "timestamp": iso_z(event.created_at)}}

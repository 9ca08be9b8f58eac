"""A small SSE reader over httpx for tests: frames as dicts, comments counted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx


@dataclass
class Frame:
    id: str | None = None
    event: str | None = None
    data: dict = field(default_factory=dict)


def frames(response: httpx.Response, comments: list[str] | None = None) -> Iterator[Frame]:
    current = Frame()
    has_data = False
    for line in response.iter_lines():
        if line == "":
            if has_data:
                yield current
            current, has_data = Frame(), False
        elif line.startswith(":"):
            if comments is not None:
                comments.append(line)
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                current.id = value
            elif name == "event":
                current.event = value
            elif name == "data":
                current.data = json.loads(value)
                has_data = True

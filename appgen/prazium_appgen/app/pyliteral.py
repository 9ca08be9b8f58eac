"""Python source literals for JSON-like values, byte-stable for deterministic output."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence


def literal(value: object) -> str:
    """One-line Python literal; strings use JSON escaping, which Python also accepts."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    raise TypeError(f"no literal for {type(value).__name__}")


def block_literal(value: Mapping[str, object] | Sequence[object], indent: str = "") -> str:
    """A dict or list with one entry per line (keeps generated lines short)."""
    inner = indent + "    "
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        entries = [f"{inner}{literal(key)}: {literal(item)}," for key, item in value.items()]
        return "{\n" + "\n".join(entries) + f"\n{indent}}}"
    if not value:
        return "[]"
    return "[\n" + "\n".join(f"{inner}{literal(item)}," for item in value) + f"\n{indent}]"

"""Characters user text may not carry, checked as request bodies are validated.

Raising ValueError inside a pydantic validator makes the request a 400
VALIDATION_ERROR whose details name the field (errors.py).
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The same, apart from the line breaks and tabs that multi-line text needs.
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Bidi embeddings and overrides (U+202A-U+202E) and isolates (U+2066-U+2069):
# they make a name display in another order than it is stored ("Trojan Source").
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _refuse(pattern: re.Pattern[str], text: str, what: str) -> None:
    found = pattern.search(text)
    if found is not None:
        raise ValueError(
            f"must not contain {what} (U+{ord(found.group()):04X} at position {found.start()})"
        )


def single_line(text: str) -> str:
    """A name: no control character at all (no line breaks either), no bidi control."""
    _refuse(_CONTROL, text, "control characters")
    _refuse(_BIDI_CONTROL, text, "bidirectional text controls")
    return text


def multi_line(text: str) -> str:
    """Free text: line breaks and tabs, no other control character."""
    _refuse(_CONTROL_BUT_LINES, text, "control characters other than newline and tab")
    return text


def optional_multi_line(text: str | None) -> str | None:
    return None if text is None else multi_line(text)

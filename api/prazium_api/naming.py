"""Names derived from what users type: CR names for new Projects, file-name slugs."""

from __future__ import annotations

import re
import secrets
import string

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
SLUG_MAX = 33
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits


def slug(text: str, max_len: int = SLUG_MAX, fallback: str = "project") -> str:
    """Lower-case ASCII letters and digits joined by single dashes."""
    value = _NON_ALNUM.sub("-", text.lower()).strip("-")[:max_len].strip("-")
    return value or fallback


def new_project_name(display_name: str) -> str:
    """slug (<= 33) + "-" + 6 random [a-z0-9]: at most 40, the Project name limit."""
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(6))
    return f"{slug(display_name)}-{suffix}"

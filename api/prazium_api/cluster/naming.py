"""Names derived from what users type: CR names for new Projects, file-name slugs."""

from __future__ import annotations

import re
import secrets
import string

from prazium_kit import ids

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
SUFFIX_LEN = 6
# slug + "-" + suffix fits the Project name limit (33 + 1 + 6 = 40).
SLUG_MAX = ids.PROJECT_NAME_MAX - 1 - SUFFIX_LEN
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits


def slug(text: str, max_len: int = SLUG_MAX, fallback: str = "project") -> str:
    """Lower-case ASCII letters and digits joined by single dashes."""
    value = _NON_ALNUM.sub("-", text.lower()).strip("-")[:max_len].strip("-")
    return value or fallback


def new_project_name(display_name: str) -> str:
    """slug + "-" + 6 random [a-z0-9]: a DNS-1123 label within ids.PROJECT_NAME_MAX."""
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(SUFFIX_LEN))
    return f"{slug(display_name)}-{suffix}"

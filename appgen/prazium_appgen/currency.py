"""The currency of money amounts: named in the description, or asked for.

A description that writes ``€``, ``$`` or ``£``, a currency's name (``euros``)
or its ISO code (``CHF``) names the currency of all its amounts; otherwise the
clarifying questions ask, offering the common codes and plain amounts.
"""

from __future__ import annotations

import re

PLAIN_AMOUNTS = "Plain amounts (no currency)"
CURRENCY_OPTIONS = (PLAIN_AMOUNTS, "EUR", "USD", "GBP", "CHF", "CAD", "AUD", "JPY", "INR", "SEK")
"""The single choice offered; the first is what an unanswered question keeps."""
_SIGNS = (("€", "EUR"), ("£", "GBP"), ("¥", "JPY"), ("₹", "INR"), ("$", "USD"))
_NAMES = (
    (r"euros?", "EUR"),
    (r"(?:us |american )?dollars?", "USD"),
    (r"(?:pounds? sterling|british pounds?|sterling)", "GBP"),
    (r"swiss francs?", "CHF"),
    (r"canadian dollars?", "CAD"),
    (r"australian dollars?", "AUD"),
    (r"yen", "JPY"),
    (r"rupees?", "INR"),
    (r"(?:swedish )?kronor|krona", "SEK"),
)
_CODES = frozenset(code for code in CURRENCY_OPTIONS[1:]) | {"NZD", "NOK", "DKK", "PLN", "CZK"}


def currency_code(text: str) -> str:
    """The ISO code ``text`` names (a sign, a name or a code), or ''."""
    for code in re.findall(r"\b[A-Za-z]{3}\b", text):
        if code.upper() in _CODES and (code.isupper() or text.strip().upper() == code.upper()):
            return code.upper()
    lowered = text.lower()
    for pattern, code in reversed(_NAMES):
        if re.search(rf"\b{pattern}\b", lowered):
            return code
    for sign, code in _SIGNS:
        if sign in text:
            return code
    return ""

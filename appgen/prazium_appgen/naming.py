"""English noun inflection and identifier spelling for generated names.

Entity names are CamelCase (``TimeEntry``); tables and modules use the snake_case
plural (``time_entries``); URLs and task slugs use the kebab-case plural
(``time-entries``). Only the last word of a compound is inflected, with the
``inflect`` library.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

import typeguard


def _unchecked(target: Callable[..., Any] | None = None, **_options: Any) -> Any:
    """typeguard's @typechecked, with or without options, as a no-op."""
    return target if target is not None else _unchecked


# inflect decorates its engine's methods with typeguard's @typechecked, which re-compiles
# each of them at import: 1.3 CPU-seconds, paid by every worker process that is not
# forked from a server that has it imported (a spawned worker, a worker Pod) and by the
# operator's start, and most of what a template task cost besides its coder. The checks
# only reject arguments that are not non-empty strings, which the functions below never
# pass, so inflect is imported with the decorator left out (for this import only;
# typeguard is put back at once).
_typechecked = typeguard.typechecked
typeguard.typechecked = _unchecked  # type: ignore[assignment]
try:
    import inflect
finally:
    typeguard.typechecked = _typechecked

_ENGINE = inflect.engine()
# inflect reads a final "s" of Latin and Greek singulars as a plural ending
# ("status" -> "statu", "analysis" -> "analysi"); such words are kept as they are.
# Words in -us are checked against a list, since "menus" and "emus" are plurals.
_SINGULAR_ENDINGS = ("ss", "is")
_SINGULAR_US = frozenset(
    {"status", "bus", "campus", "bonus", "virus", "cactus", "focus", "census", "corpus",
     "genus", "apparatus", "circus", "chorus", "citrus", "octopus", "surplus", "syllabus",
     "walrus", "fungus", "nucleus", "radius", "stimulus", "abacus", "lotus", "prospectus",
     "consensus", "platypus", "asparagus", "hummus", "thesaurus", "terminus", "impetus",
     "sinus", "onus", "minus", "plus", "us", "hippopotamus", "calculus", "exodus", "nexus",
     "stylus"}
)  # fmt: skip


@cache
def pluralize(word: str) -> str:
    """Plural of a lower-case English noun (``entry`` -> ``entries``)."""
    if not word.isalpha():
        return word + "s"
    return str(_ENGINE.plural_noun(word)) or word


@cache
def singularize(word: str) -> str:
    """Singular of a lower-case English noun (``entries`` -> ``entry``); idempotent."""
    if not word.isalpha() or word.endswith(_SINGULAR_ENDINGS) or word in _SINGULAR_US:
        return word
    singular = _ENGINE.singular_noun(word)
    return singular if isinstance(singular, str) and singular else word


def with_article(phrase: str) -> str:
    """``a pet``, ``an owner``: the indefinite article inflect picks for the phrase."""
    return str(_ENGINE.a(phrase)) if phrase else phrase


def words_of(text: str) -> list[str]:
    """Lower-case ASCII words of any spelling: ``TimeEntry``, ``time_entry``, ``Time entry``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return [word.lower() for word in re.findall(r"[A-Za-z][A-Za-z0-9]*", spaced)]


def camel_case(words: list[str]) -> str:
    return "".join(word[:1].upper() + word[1:] for word in words)


def snake_case(words: list[str]) -> str:
    return "_".join(words)


def kebab_case(words: list[str]) -> str:
    return "-".join(words)


def plural_words(words: list[str]) -> list[str]:
    return [*words[:-1], pluralize(words[-1])] if words else words

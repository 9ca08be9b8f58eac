"""English noun inflection and identifier spelling for generated names.

Entity names are CamelCase (``TimeEntry``); tables and modules use the snake_case
plural (``time_entries``); URLs and task slugs use the kebab-case plural
(``time-entries``). Only the last word of a compound is inflected.
"""

from __future__ import annotations

import re

# Irregular plurals likely to show up in app descriptions; keys are singular.
_IRREGULAR = {
    "person": "people",
    "child": "children",
    "man": "men",
    "woman": "women",
    "mouse": "mice",
    "datum": "data",
    "criterion": "criteria",
    "analysis": "analyses",
    "status": "statuses",
}
_IRREGULAR_SINGULAR = {plural: singular for singular, plural in _IRREGULAR.items()}
# Words whose plural only adds "s" although they end like an "es" word.
_PLAIN_S = {"cafe", "movie", "recipe", "cookie", "employee", "message", "page", "course"}


def pluralize(word: str) -> str:
    """Plural of a lower-case English noun (``entry`` -> ``entries``)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def singularize(word: str) -> str:
    """Singular of a lower-case English noun (``entries`` -> ``entry``); idempotent."""
    if word in _IRREGULAR_SINGULAR:
        return _IRREGULAR_SINGULAR[word]
    if word in _IRREGULAR or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 3:
        return word[:-3] + "y"
    if word.endswith("es") and word[:-1] not in _PLAIN_S:
        stem = word[:-2]
        if stem.endswith(("s", "x", "z", "ch", "sh")):
            return stem
    if word.endswith("s"):
        return word[:-1]
    return word


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


def singular_words(words: list[str]) -> list[str]:
    return [*words[:-1], singularize(words[-1])] if words else words

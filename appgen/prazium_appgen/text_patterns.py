"""What the reader takes from the raw text with patterns rather than noun phrases.

Closed sets (``paid/unpaid``, ``priority (low, medium, high)``, ``check-in/out
dates``), yes/no facts (``marked as returned``, ``whether it is paid``), counts
(``number of guests``), required fields (``each pet must have a birthday``) and
what deleting a parent does (``deleting a project deletes its tasks``). Each
finding carries its offset, so the reader can give it to the record mentioned
nearest before it.
"""

from __future__ import annotations

import re

from prazium_appgen.attributes import ENUM_WORDS
from prazium_appgen.entities import RESERVED_FIELDS, Field
from prazium_appgen.lexicon import FUNCTION_WORDS
from prazium_appgen.mentions import ATTRIBUTE, RECORD, Mention, record_words
from prazium_appgen.naming import camel_case, singularize, snake_case, words_of

SET_PATTERN = re.compile(r"\b([a-z][a-z-]*)((?:\s*/\s*[a-z][a-z-]*)+)", re.I)
ENUM_PATTERN = re.compile(
    r"\b(?P<name>statuse?s?|priorit(?:y|ies)|severit(?:y|ies)|stages?|states?|levels?|"
    r"types?|kinds?)\s*(?:\(|:|such as|like|either|can be|is one of|one of|are)\s*"
    r"(?P<values>[a-z][a-z -]*(?:\s*(?:,|/|\bor\b|\band\b)\s*[a-z][a-z -]*)+)",
    re.I,
)
BOOLEAN_PATTERNS = (
    re.compile(r"\b(?:mark|marks|marked|marking|flag|flags|flagged)\s+(?:\w+\s+){0,2}?as\s+"
               r"(?P<word>[a-z]+)\b(?!\s*/)", re.I),
    re.compile(r"\bwhether\s+(?:\w+\s+){0,4}?(?:is|are|was|were|has been|have been)\s+"
               r"(?P<word>[a-z]+)", re.I),
    re.compile(r"\b(?:is|are)\s+(?P<word>[a-z]+)\s+or\s+not\b", re.I),
)  # fmt: skip
COUNT_PATTERN = re.compile(r"\bnumber of (?P<word>[a-z]+)", re.I)
REQUIRED_PATTERNS = (
    re.compile(r"\b(?:must have|must include|requires?|required)\s+(?:an?\s+|the\s+|a\s+)?"
               r"(?P<words>[a-z]+(?:[ -][a-z]+)?)", re.I),
    re.compile(r"\b(?P<words>[a-z]+(?:[ -][a-z]+)?)\s+(?:is|are)\s+(?:required|mandatory)\b",
               re.I),
)  # fmt: skip
CASCADE_PATTERN = re.compile(
    r"\bdelet\w*\s+(?:an?\s+|the\s+)?(?P<parent>[a-z]+)\s+(?:also\s+)?(?:deletes|removes|"
    r"delete|remove|erases)\s+(?:all\s+)?(?:of\s+)?(?:its\s+|their\s+|the\s+)?(?P<child>[a-z]+)",
    re.I,
)
RESTRICT_PATTERN = re.compile(
    r"\b(?:can ?not|can't|never|must not)\s+(?:be\s+)?delet\w*\s+(?:an?\s+|the\s+)?"
    r"(?P<parent>[a-z]+)\s+(?:that|which|while it|while they|with)\s+(?:still\s+)?"
    r"(?:has|have)\s+(?:\w+\s+)?(?P<child>[a-z]+)",
    re.I,
)
SET_NAME_WORDS = ENUM_WORDS | {"type", "kind", "level", "category", "condition"}
"""Words that name a closed set written next to it ("a size: s/m/l")."""


def pattern_fields(text: str) -> list[tuple[int, Field]]:
    """(offset, field) for every closed set, yes/no fact and count in ``text``."""
    found: list[tuple[int, Field]] = []
    for match in SET_PATTERN.finditer(text):
        found += [(match.start(), new) for new in _closed_set(text, match)]
    for match in ENUM_PATTERN.finditer(text):
        values = _values(match.group("values"))
        if len(values) >= 2:
            name = singularize(match.group("name").lower())
            found.append((match.start(), Field(name, "string", choices=values)))
    for pattern in BOOLEAN_PATTERNS:
        for match in pattern.finditer(text):
            word = match.group("word").lower()
            if word.isalpha() and word not in FUNCTION_WORDS | RESERVED_FIELDS:
                found.append((match.start(), Field(word, "boolean")))
    for match in COUNT_PATTERN.finditer(text):
        counted = record_words([match.group("word").lower()])
        found.append((match.start(), Field(snake_case([*counted, "count"]), "integer", minimum=0)))
    return found


def required_hints(text: str) -> list[tuple[int, str]]:
    """(offset, field name) for each field the text says is required."""
    hints = []
    for pattern in REQUIRED_PATTERNS:
        for match in pattern.finditer(text):
            words = [singularize(word) for word in words_of(match.group("words"))]
            hints.append((match.start(), snake_case(words)))
    return hints


def delete_rules(text: str) -> list[tuple[str, str, str]]:
    """(parent, child, ``cascade`` or ``restrict``) for each sentence about deleting."""
    rules = []
    for pattern, rule in ((CASCADE_PATTERN, "cascade"), (RESTRICT_PATTERN, "restrict")):
        for match in pattern.finditer(text):
            parent = camel_case(list(record_words([match.group("parent").lower()])))
            child = camel_case(list(record_words([match.group("child").lower()])))
            rules.append((parent, child, rule))
    return rules


def read_by_pattern(text: str, mention: Mention) -> bool:
    """Phrases a pattern reads instead: the words of a closed set and what follows it
    ("check-in/out dates"), and what is counted ("the number of guests")."""
    if mention.kind == ATTRIBUTE:
        for match in SET_PATTERN.finditer(text):
            after = re.match(r"\s*\w+", text[match.end() :])
            end = match.end() + (after.end() if after else 0)
            if match.start() <= mention.offset < end:
                return True
    before = text[max(0, mention.offset - 12) : mention.offset].lower()
    return mention.kind == RECORD and bool(re.search(r"number of\s+$", before))


def _closed_set(text: str, match: re.Match[str]) -> list[Field]:
    first = match.group(1).lower()
    others = [word.strip().lower() for word in match.group(2).split("/") if word.strip()]
    if first.endswith(("-in", "-out")) and others and others[0] in ("in", "out"):
        # check-in/out dates: two fields sharing the words after the set
        base = first.rsplit("-", 1)[0]
        after = text[match.end() : match.end() + 40].split()
        kind = "date" if after and after[0].lower().startswith("date") else "datetime"
        suffix = ["date"] if kind == "date" else []
        return [
            Field(snake_case([*words_of(base), part, *suffix]), "string", format=kind)
            for part in (first.rsplit("-", 1)[1], others[0])
        ]
    values = tuple(dict.fromkeys([first, *others]))
    if len(values) < 2 or any(value in FUNCTION_WORDS for value in values):
        return []
    window = text[max(0, match.start() - 40) : match.start()].lower()
    before = re.findall(r"[a-z]+", window)
    after = re.findall(r"[a-z]+", text[match.end() : match.end() + 20].lower())
    named = [singularize(word) for word in before[-3:] + after[:1]]
    name = next((word for word in reversed(named) if word in SET_NAME_WORDS), "status")
    return [Field(name, "string", choices=values)]


def _values(text: str) -> tuple[str, ...]:
    parts = re.split(r"\s*(?:,|/|\bor\b|\band\b)\s*", text.strip().lower())
    values = [part.strip() for part in parts if part.strip()]
    if not values or any(len(value.split()) > 2 for value in values):
        return ()
    if any(value.split()[0] in FUNCTION_WORDS - {"in", "on"} for value in values):
        return ()
    return tuple(dict.fromkeys(values))

"""What each noun phrase of a description names: a record, an attribute or a capability.

A phrase's head decides: ``line items`` names a record ``LineItem``, ``due
dates`` an attribute, ``reminders`` a capability, ``app`` nothing. Words that
describe the app itself (``expense tracker``, ``recipe app``) leave the record
in front of them. A compound whose first word is itself a record the text names
elsewhere is two mentions (``pet visits`` with ``pets`` elsewhere: Pet, Visit).
"""

from __future__ import annotations

from dataclasses import dataclass

from prazium_appgen.attributes import is_attribute
from prazium_appgen.lexicon import (
    ACTOR_NOUNS,
    CAPABILITY_MODIFIERS,
    CAPABILITY_NOUNS,
    FUNCTION_WORDS,
    UNIT_NOUNS,
    VAGUE_NOUNS,
)
from prazium_appgen.naming import camel_case, pluralize, singularize, words_of
from prazium_appgen.phrases import Phrase
from prazium_appgen.vocabulary import KNOWN_BY_NAME, known_phrase_entity

RECORD, ATTRIBUTE, CAPABILITY, ACTOR = "record", "attribute", "capability", "actor"
DESCRIPTOR_HEADS = frozenset(
    {"app", "apps", "application", "tool", "system", "platform", "software", "website", "site",
     "service", "portal", "management", "tracking", "tracker", "organizer", "organiser",
     "planner", "manager", "solution", "database", "directory", "catalog", "catalogue", "log"}
)  # fmt: skip
"""Heads that describe the app rather than name a record: "an *expense* tracker"."""


@dataclass(frozen=True)
class Mention:
    kind: str
    words: tuple[str, ...]
    """For a record: the singular name words (``line``, ``item``); for an attribute or
    capability: the phrase's words as written."""
    sentence: int
    start: int
    end: int
    offset: int
    plural: bool
    """The text names several of them (a plural, or an app "for" them)."""
    describes_app: bool = False
    """Read from a phrase naming the app ("a museum catalogue"): what follows such a
    phrase ("... of artworks") is about the app, not about this record."""

    @property
    def name(self) -> str:
        return camel_case(list(self.words))


def record_words(words: list[str]) -> tuple[str, ...]:
    """Singular name words of a record phrase (``line items`` -> ``line``, ``item``)."""
    split = [part for word in words for part in words_of(word)]
    return tuple([*split[:-1], singularize(split[-1])]) if split else ()


def classify(phrase: Phrase, sentence: int, offset: int, known_records: set[str]) -> list[Mention]:
    """Mentions for one phrase; ``known_records`` holds record names the text uses in
    the plural anywhere (to split compounds such as ``pet visits``)."""
    known_phrase = known_phrase_entity(" ".join(phrase.words))
    if known_phrase is not None:
        words_ = tuple(words_of(known_phrase))
        return [Mention(RECORD, words_, sentence, phrase.start, phrase.end, offset, True)]
    words = list(phrase.words)
    descriptor = False
    while len(words) > 1 and words[-1] in DESCRIPTOR_HEADS:
        words.pop()
        descriptor = True
    while len(words) > 1 and (words[0] in VAGUE_NOUNS or words[0] in FUNCTION_WORDS):
        words.pop(0)
    start = phrase.start + phrase.words.index(words[0]) if words[0] in phrase.words else 0

    def mention(kind: str, mention_words: tuple[str, ...], plural: bool) -> Mention:
        return Mention(kind, mention_words, sentence, start, phrase.end, offset, plural, descriptor)

    head = words[-1]
    modifiers = words[:-1]
    name = camel_case(list(record_words(words)))
    if descriptor and name not in KNOWN_BY_NAME and name not in known_records:
        return []
    # "an expense tracker" names records, "a vet clinic app" only the user's business.
    # A plural, a noun without one ("fish", "equipment"), or the app's subject
    plural = (
        singularize(head) != head
        or (head.isalpha() and pluralize(head) == head)
        or (descriptor and name in KNOWN_BY_NAME)
    )
    modifier_name = camel_case(list(record_words(modifiers)))
    both_known = modifier_name in KNOWN_BY_NAME and camel_case(list(record_words([head]))) in (
        KNOWN_BY_NAME
    )
    if modifiers and (modifier_name in known_records or both_known):
        owner = mention(RECORD, record_words(modifiers), True)
        rest = classify(Phrase((head,), phrase.end - 1, phrase.end), sentence, offset, set())
        return [owner, *rest]
    if is_attribute(words) and not descriptor:
        return [mention(ATTRIBUTE, tuple(words), plural)]
    capability = head in CAPABILITY_NOUNS or singularize(head) in CAPABILITY_NOUNS
    if capability and all(word in CAPABILITY_NOUNS | CAPABILITY_MODIFIERS for word in modifiers):
        return [mention(CAPABILITY, record_words(words), plural)]
    if head in UNIT_NOUNS and not modifiers:
        return []
    if head in ACTOR_NOUNS and not modifiers:
        return [mention(ACTOR, record_words(words), plural)]
    if head in VAGUE_NOUNS and not modifiers:
        return []
    return [mention(RECORD, record_words(words), plural)]

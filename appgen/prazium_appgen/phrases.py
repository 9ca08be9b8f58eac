"""Noun phrases of a sentence: runs of words that can name a record or an attribute.

A phrase is a maximal run of words that are not function words, adjectives,
adverbs, numbers or verbs; a word spelled like both a noun and a verb
(``visits``, ``orders``) is read as a verb only when its position says so
("staff *record* visits", "members *book* a room"). The last word is the head.
"""

from __future__ import annotations

from dataclasses import dataclass

from prazium_appgen.lexicon import (
    ADJECTIVES,
    CAPABILITY_NOUNS,
    DETERMINERS,
    FUNCTION_WORDS,
    GERUND_NOUNS,
    LY_NOUNS,
    NOUN_VERBS,
    VAGUE_NOUNS,
    VERBS,
)
from prazium_appgen.naming import singularize
from prazium_appgen.tokens import Token

MAX_PHRASE_WORDS = 3
ED_NOUNS = frozenset({"bed", "beds", "seed", "seeds", "speed", "feed", "feeds", "shed", "sheds",
                      "breed", "breeds", "need", "needs", "weed", "weeds", "red", "sled", "steed",
                      "hundred", "hundreds"})  # fmt: skip
SUBJECT_WORDS = frozenset({"i", "we", "you", "they", "to", "can", "could", "will", "would",
                           "should", "must", "may", "might", "also", "then", "who", "that",
                           "which", "let", "lets", "help", "helps"})  # fmt: skip
"""A noun-or-verb word right after one of these is a verb: "we *plan* meals"."""
OBJECT_STARTS = DETERMINERS | frozenset({"them", "it", "him", "me", "us", "new", "up"})


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]
    start: int
    """Index of the first word in the sentence's tokens."""
    end: int
    """Index after the last word."""

    @property
    def head(self) -> str:
        return self.words[-1]


def phrases(tokens: list[Token]) -> list[Phrase]:
    """The noun phrases of one sentence, in order."""
    result: list[Phrase] = []
    run: list[int] = []
    for index, token in enumerate(tokens):
        if token.is_word and _is_noun(tokens, index):
            run.append(index)
            continue
        _close(tokens, run, result)
        run = []
    _close(tokens, run, result)
    return result


def _close(tokens: list[Token], run: list[int], result: list[Phrase]) -> None:
    """Add the run as phrases; a plural inside a run is a subject and ends a phrase, and
    the word after it is the subject's verb ("members *propose* movies")."""
    if not run:
        return
    for position, index in enumerate(run[:-1]):
        word = tokens[index].text
        if not (word.endswith("s") and singularize(word) != word):
            continue
        verb = tokens[run[position + 1]].text
        if verb.endswith("s") or verb in VAGUE_NOUNS or verb in CAPABILITY_NOUNS:
            continue  # a noun: "notes app", "sales reports"
        after = run[-1] + 1
        followed_by_function = after < len(tokens) and tokens[after].text in FUNCTION_WORDS
        if position + 2 < len(run) or followed_by_function:
            _close(tokens, run[: position + 1], result)
            _close(tokens, run[position + 2 :], result)
            return
    kept = run[-MAX_PHRASE_WORDS:]
    result.append(Phrase(tuple(tokens[i].text for i in kept), kept[0], kept[-1] + 1))


def _is_noun(tokens: list[Token], index: int) -> bool:
    word = tokens[index].text
    if word in FUNCTION_WORDS or word in ADJECTIVES:
        return False
    if word in GERUND_NOUNS and _gerund_verb(tokens, index):
        return False
    if word in GERUND_NOUNS or word in ED_NOUNS or word in LY_NOUNS:
        return True
    if len(word) > 4 and word.endswith("ing"):
        return _modifies_next(tokens, index)
    if len(word) > 4 and word.endswith("ly"):
        return False
    if len(word) > 4 and word.endswith("ed"):
        return False
    if index == 0 and (word in VERBS or word in NOUN_VERBS) and not word.endswith("s"):
        return False  # an instruction: "Schedule nurses", "Plan my garden"
    if word in NOUN_VERBS:
        return not _reads_as_verb(tokens, index)
    return word not in VERBS


def _gerund_verb(tokens: list[Token], index: int) -> bool:
    """ "for *booking* appointments": after for/by/about, an -ing word before a noun is a verb."""
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    return (
        index > 0
        and tokens[index - 1].text in ("for", "by", "about", "from")
        and following is not None
        and following.is_word
        and following.text not in FUNCTION_WORDS
    )


MODIFIER_CONTEXT = DETERMINERS | frozenset({"and", "or", ",", "with", "my", "of"})


def _modifies_next(tokens: list[Token], index: int) -> bool:
    """An -ing word names a kind of thing before a noun in a list or after a determiner
    ("plants and *watering* logs"), but is a verb after "for", "by" or a subject
    ("for *tracking* expenses")."""
    if index == 0 or index + 1 >= len(tokens):
        return False
    following = tokens[index + 1]
    if not following.is_word or following.text in FUNCTION_WORDS:
        return False
    return tokens[index - 1].text in MODIFIER_CONTEXT


def _reads_as_verb(tokens: list[Token], index: int) -> bool:
    previous = tokens[index - 1].text if index > 0 else ""
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if following is not None and following.is_word and following.text in OBJECT_STARTS:
        return True
    if (
        tokens[index].text.endswith("s")
        and following is not None
        and following.is_word
        and following.text not in FUNCTION_WORDS
        and index > 0
        and tokens[index - 1].is_word
        and previous not in FUNCTION_WORDS | ADJECTIVES
    ):
        # Between two nouns a noun-or-verb in -s is the sentence's verb: "staff records visits".
        return True
    if tokens[index].text.endswith("s"):
        return False
    # "we *plan* meals", "members *book* classes": a base form after a subject is a verb.
    after_plural = index > 0 and tokens[index - 1].is_word and previous.endswith("s")
    return previous in SUBJECT_WORDS or (after_plural and previous not in FUNCTION_WORDS)

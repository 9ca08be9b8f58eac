"""Splitting a description into sentences of word and punctuation tokens.

Possessives become their own token (``owner's`` -> ``owner`` + ``'s``) so the
reader can see "the owner's pets" as a relation; hyphenated words stay whole
(``check-in``, ``to-do``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN_PATTERN = re.compile(
    r"(?P<word>[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)(?P<possessive>'s\b|'(?=\s|$))?"
    r"|(?P<number>\d+(?:[.,]\d+)?)"
    r"|(?P<punct>[,;:.!?()/&\n])"
)
SENTENCE_ENDS = frozenset({".", "!", "?", ";", ":", "\n"})
POSSESSIVE = "'s"


@dataclass(frozen=True)
class Token:
    text: str
    """Lower-case word, ``'s`` for a possessive, a digit string or a punctuation mark."""
    kind: str
    """``word``, ``possessive``, ``number`` or ``punct``."""
    start: int = 0
    """Offset of the token in the text, to place patterns found by regular expressions."""

    @property
    def is_word(self) -> bool:
        return self.kind == "word"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    for match in TOKEN_PATTERN.finditer(text.replace("\u2019", "'")):
        if match.group("word"):
            tokens.append(Token(match.group("word").lower(), "word", match.start()))
            if match.group("possessive"):
                tokens.append(Token(POSSESSIVE, "possessive", match.start("possessive")))
        elif match.group("number"):
            tokens.append(Token(match.group("number"), "number", match.start()))
        else:
            tokens.append(Token(match.group("punct"), "punct", match.start()))
    return tokens


def sentences(text: str) -> list[list[Token]]:
    """Token lists split at sentence and clause ends (``.``, ``;``, ``:``, line breaks).

    Commas, brackets and slashes stay inside a sentence: they join enumerations
    and closed sets such as ``paid/unpaid``.
    """
    result: list[list[Token]] = []
    current: list[Token] = []
    for token in tokenize(text):
        if token.kind == "punct" and token.text in SENTENCE_ENDS:
            if current:
                result.append(current)
            current = []
        else:
            current.append(token)
    if current:
        result.append(current)
    return result

"""Reading a description: its records, their fields and the relations between them.

The reader walks each sentence's noun phrases (see :mod:`mentions`) and the
words between consecutive ones:

* ``orders with line items``, ``the owner's pets``, ``owners have pets``:
  the second is a child of the first;
* ``visits of pets``, ``budgets per category``, ``tickets assigned to agents``,
  ``tasks in projects``: the first is a child of the second;
* ``visits with dates and fees``, ``prices of products``: attributes become
  fields of the record they are attached to (else of the nearest record before);
* a singular record after ``has a`` (``each pet has an owner``) is a parent
  when the text names it as a record elsewhere, else a text field.

Closed sets, yes/no facts, counts, required fields and what a delete does are
read with patterns over the raw text (:mod:`text_patterns`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from prazium_appgen.attributes import attribute_field
from prazium_appgen.entities import RESERVED_FIELDS, Field
from prazium_appgen.lexicon import DETERMINERS, PEOPLE_NOUNS
from prazium_appgen.mentions import (
    ACTOR,
    ATTRIBUTE,
    CAPABILITY,
    RECORD,
    Mention,
    classify,
    record_words,
)
from prazium_appgen.naming import snake_case
from prazium_appgen.phrases import phrases
from prazium_appgen.text_patterns import (
    delete_rules,
    pattern_fields,
    read_by_pattern,
    required_hints,
)
from prazium_appgen.tokens import Token, sentences

CASCADE, RESTRICT = "cascade", "restrict"

FILLER = DETERMINERS | frozenset(
    {"or", "more", "one", "many", "multiple", "several", "also", "is", "are", "was", "were",
     "be", "been", "being", "can", "will", "should", "must", "may", "usually", "always",
     "then", "get", "gets", "got", "other", "another"}
)  # fmt: skip
CHILD_AFTER = {
    "with": CASCADE, "containing": CASCADE, "contain": CASCADE, "contains": CASCADE,
    "including": CASCADE, "'s": CASCADE, "has": CASCADE, "have": CASCADE, "can have": CASCADE,
    "made of": CASCADE, "consisting of": CASCADE, "and": RESTRICT, ",": RESTRICT,
}  # fmt: skip
"""Connector -> the second mention is a child of the first (``and`` only as ``and their``)."""
CHILD_BEFORE = frozenset(
    {"of", "for", "per", "in", "on", "at", "from", "to", "under", "within", "by", "belong to",
     "belongs to", "belonging to", "that belong to", "which belong to", "that belongs to",
     "which belongs to", "for each", "for every"}
)  # fmt: skip
"""Connector -> the first mention is a child of the second."""
PARTICIPLE = re.compile(r"^(?:\w+(?:ed|en)|held|run|made|sold|kept|taught|led|paid|bought|"
                        r"sent|built|won|given|done|set|put|left|lent|owned|split) "
                        r"(?:by|to|for|in|at|on|under|from|with)$")  # fmt: skip
LIST_JOINERS = frozenset({"", ",", "and", ", and", "as well as"})


@dataclass(frozen=True)
class Relation:
    child: str
    parent: str
    on_delete: str
    required: bool


@dataclass
class Reading:
    """What a description says about its data."""

    records: list[str] = field(default_factory=list)
    """Record names in order of first mention."""
    fields: dict[str, list[Field]] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    """Capability words as written (``reminders``, ``push notifications``)."""


def read(text: str) -> Reading:
    # Names are ASCII: "naïve cafés" is read as "naive cafes".
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    token_sentences = sentences(text)
    known = _plural_records(token_sentences)
    mentions = [
        mention
        for index, tokens in enumerate(token_sentences)
        for phrase in phrases(tokens)
        for mention in classify(phrase, index, tokens[phrase.start].start, known)
    ]
    mentions = _coordinated([m for m in mentions if not read_by_pattern(text, m)], token_sentences)
    builder = _Builder(text, token_sentences, mentions, known)
    return builder.build()


def _coordinated(mentions: list[Mention], token_sentences: list[list[Token]]) -> list[Mention]:
    """ "start and end dates": the first word shares the second phrase's attribute head."""
    result = list(mentions)
    for index in range(len(result) - 1):
        first, second = result[index], result[index + 1]
        if (
            first.sentence == second.sentence
            and len(first.words) == 1
            and second.kind == ATTRIBUTE
            and len(second.words) > 1
            and [t.text for t in token_sentences[first.sentence][first.end : second.start]]
            in (["and"], ["or"], ["/"])
        ):
            words = (first.words[0], second.words[-1])
            result[index] = Mention(ATTRIBUTE, words, first.sentence, first.start, first.end,
                                    first.offset, second.plural)  # fmt: skip
    return result


def _plural_records(token_sentences: list[list[Token]]) -> set[str]:
    names = set()
    for index, tokens in enumerate(token_sentences):
        for phrase in phrases(tokens):
            for mention in classify(phrase, index, 0, set()):
                if mention.kind == RECORD and mention.plural:
                    names.add(mention.name)
    return names


class _Builder:
    def __init__(
        self,
        text: str,
        token_sentences: list[list[Token]],
        mentions: list[Mention],
        known: set[str],
    ) -> None:
        self.text = text
        self.sentences = token_sentences
        self.mentions = mentions
        self.known = known
        self.reading = Reading()
        self.related: set[str] = set()
        self.parents: dict[str, set[str]] = {}
        self.required_hints: list[tuple[int, str]] = []
        # Records named after a preposition ("visits of *pets*") -> the record they
        # qualify: what follows ("... have dates") is about the latter.
        self.objects: dict[tuple[int, int], Mention] = {}
        self.extra_records: list[Mention] = []

    def build(self) -> Reading:
        self._walk_sentences()
        self._read_patterns()
        self._apply_delete_rules()
        mentions = sorted(self.mentions + self.extra_records, key=lambda m: m.offset)
        records = [
            mention.name
            for mention in mentions
            if (mention.kind == RECORD and (mention.plural or mention.name in self.related))
            or (mention.kind == ACTOR and mention.name in self.related)
        ]
        self.reading.records = list(dict.fromkeys(records))
        kept = set(self.reading.records)
        self.reading.relations = [
            relation
            for relation in self.reading.relations
            if relation.child in kept and relation.parent in kept
        ]
        self.reading.fields = {
            name: fields for name, fields in self.reading.fields.items() if name in kept
        }
        self._apply_required_hints()
        return self.reading

    # ----------------------------------------------------------- sentence walk

    def _walk_sentences(self) -> None:
        by_sentence: dict[int, list[Mention]] = {}
        for mention in self.mentions:
            by_sentence.setdefault(mention.sentence, []).append(mention)
            if mention.kind == CAPABILITY:
                self.reading.capabilities.append(" ".join(mention.words))
        last_record: Mention | None = None
        for index, sentence_mentions in sorted(by_sentence.items()):
            last_record = self._walk_sentence(sentence_mentions, self.sentences[index], last_record)

    def _walk_sentence(
        self, sentence_mentions: list[Mention], tokens: list[Token], last_record: Mention | None
    ) -> Mention | None:
        """Relate one sentence's mentions in order; the last record seen, for the next."""
        owner: Mention | None = None  # the record a "with ..." list belongs to
        for position, mention in enumerate(sentence_mentions):
            previous = sentence_mentions[position - 1] if position else None
            connector = _connector(tokens, previous.end, mention.start) if previous else ""
            if self._continues_list(owner, previous, mention, connector):
                continue
            if owner is not None and previous is not None and _qualifies(connector):
                # "orders with line items placed by customers": the list's owner is meant
                previous = owner
            owner = None
            if previous is not None and self._relate(previous, mention, connector, tokens):
                if connector in CHILD_AFTER and connector not in ("and", ","):
                    owner = self.objects.get((previous.sentence, previous.start), previous)
                    if owner.kind == CAPABILITY:
                        owner = self.extra_records[-1]
                if mention.kind in (RECORD, ACTOR):
                    last_record = mention
                continue
            last_record = self._place_unrelated(mention, sentence_mentions, last_record)
        return last_record

    def _continues_list(
        self, owner: Mention | None, previous: Mention | None, mention: Mention, connector: str
    ) -> bool:
        """A mention joined to the list an owner's "with" opened: attached to the owner."""
        joined = previous is not None and connector in LIST_JOINERS
        # "runs with distance and pace, and races": a record after the owner's
        # fields continues the outer list, not the owner's.
        if joined and previous is not None and previous.kind == mention.kind:
            if owner is not None:
                self._attach(owner, mention, CHILD_AFTER["with"], connector)
                return True
        elif joined and owner is not None and mention.kind == ATTRIBUTE:
            self._attach(owner, mention, CHILD_AFTER["with"], connector)
            return True
        return False

    def _place_unrelated(
        self, mention: Mention, sentence_mentions: list[Mention], last_record: Mention | None
    ) -> Mention | None:
        """An attribute no connector relates goes to the nearest record; a record becomes
        the last one seen."""
        if mention.kind == ATTRIBUTE:
            candidates = [m for m in sentence_mentions if not self._is_object(m)]
            target = _nearest_record(candidates, candidates.index(mention)) or last_record
            if target is not None:
                self._add_field(target.name, attribute_field(list(mention.words)))
        elif mention.kind in (RECORD, ACTOR):
            return mention
        return last_record

    def _relate(self, first: Mention, second: Mention, connector: str, tokens: list[Token]) -> bool:
        """Apply the relation the words between two mentions express; False if none."""
        if connector in CHILD_AFTER and connector != "'s":
            first = self.objects.get((first.sentence, first.start), first)
        if first.kind == CAPABILITY and second.kind == ATTRIBUTE and connector in CHILD_AFTER:
            # "reminders with a date and a message": the text treats them as records
            first = Mention(RECORD, first.words, first.sentence, first.start, first.end,
                            first.offset, True)  # fmt: skip
            self.extra_records.append(first)
        if connector in CHILD_AFTER and first.kind in (RECORD, ACTOR):
            return self._relate_owner_first(first, second, connector, tokens)
        if connector == "per" and first.kind == ATTRIBUTE and first.plural:
            # "budgets per category": one record per parent, not a field
            first = Mention(RECORD, record_words(list(first.words)), first.sentence,
                            first.start, first.end, first.offset, True)  # fmt: skip
            self.extra_records.append(first)
        if connector in CHILD_BEFORE or PARTICIPLE.match(connector):
            return self._relate_owner_second(first, second, connector, tokens)
        return False

    def _relate_owner_first(
        self, first: Mention, second: Mention, connector: str, tokens: list[Token]
    ) -> bool:
        """ "owners with pets", "a booking has dates": first owns what follows."""
        records = (RECORD, ACTOR)
        if connector in ("and", ",") and not _followed_by_their(tokens, first.end):
            return False
        if second.kind == ATTRIBUTE:
            # "a booking has start and end dates": the text treats it as a record
            self.related.add(first.name)
            self._add_field(first.name, attribute_field(list(second.words)))
            return True
        if second.kind not in records:
            return False
        if not second.plural and connector in ("has", "have"):
            return self._has_one(first, second)
        if not second.plural and second.name not in self.known and connector != "'s":
            return False
        if connector == "with" and _is_person(second) and not _is_person(first):
            # "appointments with clients": an appointment refers to a client
            return self._add_relation(first.name, second.name, RESTRICT, False)
        return self._add_relation(second.name, first.name, CHILD_AFTER[connector], True)

    def _relate_owner_second(
        self, first: Mention, second: Mention, connector: str, tokens: list[Token]
    ) -> bool:
        """ "visits of pets", "tickets assigned to agents": second owns first."""
        records = (RECORD, ACTOR)
        if first.kind == ATTRIBUTE and second.kind in records:
            self._add_field(second.name, attribute_field(list(first.words)))
            return True
        if first.kind in records and second.kind in records:
            if first.describes_app:
                return False
            if not first.plural and first.name not in self.known:
                return False  # "... and sit at tables": a singular word is no record here
            if not second.plural and _owned_by_writer(tokens, second.start):
                return False  # "the yarns in my stash": the user's one stash
            required = connector in ("of", "per") or connector.startswith(("for", "belong"))
            self.objects[(second.sentence, second.start)] = first
            return self._add_relation(first.name, second.name, RESTRICT, required)
        return False

    def _has_one(self, owner: Mention, other: Mention) -> bool:
        """``each pet has an owner``: a parent if ``owners`` are records, else a text field."""
        if other.name in self.known:
            return self._add_relation(owner.name, other.name, RESTRICT, True)
        name = snake_case(list(other.words))
        if name not in RESERVED_FIELDS:
            self._add_field(owner.name, Field(name, "string"))
        return True

    def _attach(self, owner: Mention, mention: Mention, on_delete: str, connector: str) -> None:
        if mention.kind == ATTRIBUTE:
            self._add_field(owner.name, attribute_field(list(mention.words)))
        elif mention.kind in (RECORD, ACTOR) and mention.plural:
            self._add_relation(mention.name, owner.name, on_delete, True)

    def _add_relation(self, child: str, parent: str, on_delete: str, required: bool) -> bool:
        if child == parent or self._depends_on(parent, child):
            return False
        if any({r.child, r.parent} == {child, parent} for r in self.reading.relations):
            return True
        self.reading.relations.append(Relation(child, parent, on_delete, required))
        self.parents.setdefault(child, set()).add(parent)
        self.related.update((child, parent))
        return True

    def _depends_on(self, child: str, parent: str) -> bool:
        """Whether ``child`` already refers (transitively) to ``parent``."""
        pending, seen = [child], set()
        while pending:
            current = pending.pop()
            if current == parent:
                return True
            if current not in seen:
                seen.add(current)
                pending.extend(self.parents.get(current, ()))
        return False

    def _add_field(self, record: str, new: Field | None) -> None:
        if new is None or new.name in RESERVED_FIELDS:
            return
        fields = self.reading.fields.setdefault(record, [])
        for index, existing in enumerate(fields):
            if existing.name == new.name:
                if new.choices and not existing.choices:
                    fields[index] = new
                return
        fields.append(new)

    # ---------------------------------------------------------------- patterns

    def _read_patterns(self) -> None:
        for offset, new in pattern_fields(self.text):
            self._field_at(offset, new)
        self.required_hints = required_hints(self.text)

    def _field_at(self, offset: int, new: Field) -> None:
        """Give a pattern's field to the record mentioned last before ``offset`` (same
        sentence first), else to the next record mentioned after it."""
        records = [
            m
            for m in self.mentions
            if m.kind in (RECORD, ACTOR)
            and (m.plural or m.name in self.related)
            and not self._is_object(m)
        ]
        before = [m for m in records if m.offset <= offset]
        after = [m for m in records if m.offset > offset]
        sentence = self._sentence_at(offset)
        same_before = [m for m in before if m.sentence == sentence]
        same_after = [m for m in after if m.sentence == sentence]
        for candidates, pick in ((same_before, -1), (same_after, 0), (before, -1), (after, 0)):
            if candidates:
                self._add_field(candidates[pick].name, new)
                return

    def _is_object(self, mention: Mention) -> bool:
        return (mention.sentence, mention.start) in self.objects

    def _sentence_at(self, offset: int) -> int:
        index = 0
        for number, tokens in enumerate(self.sentences):
            if tokens and tokens[0].start <= offset:
                index = number
        return index

    def _apply_delete_rules(self) -> None:
        """``deleting a property deletes its units`` (cascade), ``a project that still has
        tasks cannot be deleted`` (restrict); a relation the text did not state otherwise
        is created by such a sentence."""
        named = {m.name for m in self.mentions if m.kind in (RECORD, ACTOR)}
        for parent, child, rule in delete_rules(self.text):
            if {parent, child} <= named:
                self._add_relation(child, parent, rule, True)
            self.reading.relations = [
                Relation(r.child, r.parent, rule, r.required)
                if (r.child, r.parent) == (child, parent)
                else r
                for r in self.reading.relations
            ]

    def _apply_required_hints(self) -> None:
        for offset, name in self.required_hints:
            for record, fields in self.reading.fields.items():
                for index, existing in enumerate(fields):
                    if existing.name == name and _mentioned_near(self.mentions, record, offset):
                        fields[index] = Field(
                            existing.name,
                            existing.type,
                            True,
                            existing.format,
                            existing.choices,
                            existing.minimum,
                        )


def _connector(tokens: list[Token], start: int, end: int) -> str:
    words = [token.text for token in tokens[start:end] if token.text not in FILLER]
    return " ".join(words).replace(" ,", ",").strip()


def _is_person(mention: Mention) -> bool:
    return bool(mention.words) and mention.words[-1] in PEOPLE_NOUNS


def _qualifies(connector: str) -> bool:
    return connector in CHILD_BEFORE or bool(PARTICIPLE.match(connector))


def _owned_by_writer(tokens: list[Token], index: int) -> bool:
    return index > 0 and tokens[index - 1].text in ("my", "our")


def _followed_by_their(tokens: list[Token], index: int) -> bool:
    return any(token.text in ("their", "its") for token in tokens[index : index + 3])


def _nearest_record(mentions: list[Mention], position: int) -> Mention | None:
    for mention in reversed(mentions[:position]):
        if mention.kind in (RECORD, ACTOR):
            return mention
    for mention in mentions[position + 1 :]:
        if mention.kind in (RECORD, ACTOR):
            return mention
    return None


def _mentioned_near(mentions: list[Mention], record: str, offset: int) -> bool:
    before = [m for m in mentions if m.kind in (RECORD, ACTOR) and m.offset <= offset]
    return bool(before) and before[-1].name == record

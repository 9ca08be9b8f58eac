"""Links between records: stated by the text, implied by known records, or likely.

A link makes its child record refer to its parent (a visit's ``pet_id``). Links
are gathered in this order of trust, each kept only if it joins two records the
model holds, is the first link between them and closes no cycle:

* **stated**: the description says so ("visits of pets", "owners with pets");
* **known**: a known kind of record refers to another one the model holds (an
  order to its customer, see :mod:`vocabulary`);
* **likely**: a record that stands for one thing happening between others (a
  loan, a visit, an order: :data:`~lexicon.TRANSACTION_NOUNS`) refers to the
  other records it involves, at most two more: a loan to the book and the
  member, an order to the product. The most specific record comes first and
  implies what it belongs to (a visit refers to the pet, whose owner follows);
  a person implies nothing (an inspection's driver does not say which van);
* **placed**: a record still linked to nothing (when there are others) goes
  under the record most others are linked to (ingredients under the recipe), or
  above it when it holds things or is a person (a room holds the items); a person
  and something many people take part in (a rehearsal) stay apart.

Each link the description leads to is a clarifying question; answering no
refuses it in either direction, and no later rule adds it back.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from prazium_appgen.lexicon import (
    CONTAINER_NOUNS,
    GATHERING_NOUNS,
    PEOPLE_NOUNS,
    TRANSACTION_NOUNS,
)
from prazium_appgen.naming import camel_case, words_of
from prazium_appgen.reader import RESTRICT, Relation
from prazium_appgen.vocabulary import KNOWN_BY_NAME

STATED, KNOWN, LIKELY, PLACED = "stated", "known", "likely", "placed"
MAX_LIKELY_PARENTS = 2


@dataclass(frozen=True)
class Link:
    child: str
    parent: str
    on_delete: str = RESTRICT
    required: bool = False
    origin: str = STATED

    @property
    def pair(self) -> tuple[str, str]:
        return (self.child, self.parent)


def head_word(name: str) -> str:
    words = words_of(name)
    return words[-1] if words else ""


def is_transaction(name: str) -> bool:
    return head_word(name) in TRANSACTION_NOUNS


def is_person(name: str) -> bool:
    return head_word(name) in PEOPLE_NOUNS


def is_gathering(name: str) -> bool:
    return head_word(name) in GATHERING_NOUNS


def is_container(name: str) -> bool:
    return head_word(name) in CONTAINER_NOUNS


def known_parents(name: str) -> list[tuple[str, bool]]:
    """(parent, required) for each ``<parent>_id`` field of a known record."""
    known = KNOWN_BY_NAME.get(name)
    if known is None:
        return []
    return [
        (camel_case(words_of(field.name)[:-1]), field.required)
        for field in known.fields
        if field.type == "integer" and field.name.endswith("_id")
    ]


class _Graph:
    def __init__(self, names: list[str], refused: Collection[tuple[str, str]]) -> None:
        self.names = names
        self.refused = {frozenset(pair) for pair in refused}
        self.links: list[Link] = []

    def parents(self, name: str) -> list[str]:
        return [link.parent for link in self.links if link.child == name]

    def degree(self, name: str) -> int:
        return sum(name in link.pair for link in self.links)

    def related(self, first: str, second: str) -> bool:
        return any({first, second} == set(link.pair) for link in self.links)

    def ancestors(self, name: str) -> set[str]:
        found: set[str] = set()
        pending = self.parents(name)
        while pending:
            current = pending.pop()
            if current not in found:
                found.add(current)
                pending.extend(self.parents(current))
        return found

    def depth(self, name: str, seen: frozenset[str] = frozenset()) -> int:
        parents = [parent for parent in self.parents(name) if parent not in seen]
        return 1 + max((self.depth(p, seen | {name}) for p in parents), default=-1)

    def add(self, link: Link) -> bool:
        names = set(self.names)
        if link.child == link.parent or not {link.child, link.parent} <= names:
            return False
        if frozenset(link.pair) in self.refused or self.related(link.child, link.parent):
            return False
        if link.child in self.ancestors(link.parent) | {link.parent}:
            return False  # the parent already refers (through others) to the child
        self.links.append(link)
        return True


def record_links(
    relations: Iterable[Relation],
    names: list[str],
    refused: Collection[tuple[str, str]] = (),
) -> list[Link]:
    """The links between ``names`` (stated, known, likely, placed; see the module)."""
    graph = _Graph(names, refused)
    for relation in relations:
        graph.add(
            Link(relation.child, relation.parent, relation.on_delete, relation.required, STATED)
        )
    for name in names:
        for parent, required in known_parents(name):
            graph.add(Link(name, parent, RESTRICT, required, KNOWN))
    for name in names:
        if is_transaction(name):
            _add_likely(graph, name)
    for name in names:
        if graph.degree(name) == 0:
            _place(graph, name)
    return graph.links


def _add_likely(graph: _Graph, record: str) -> None:
    candidates = [
        name
        for name in graph.names
        if name != record and not is_transaction(name) and not graph.related(record, name)
    ]
    # The most specific first: a pet before the owner it belongs to.
    candidates.sort(key=graph.depth, reverse=True)
    implied: set[str] = set()
    for parent in graph.parents(record):
        if not is_person(parent):
            implied |= graph.ancestors(parent)
    chosen = 0
    for candidate in candidates:
        if chosen == MAX_LIKELY_PARENTS:
            return
        if candidate in implied:
            continue
        if graph.add(Link(record, candidate, RESTRICT, False, LIKELY)):
            chosen += 1
            if not is_person(candidate):
                implied |= graph.ancestors(candidate)


def _place(graph: _Graph, record: str) -> None:
    others = [name for name in graph.names if name != record]
    if not others:
        return
    hub = max(others, key=lambda name: (graph.degree(name), -others.index(name)))
    if (is_person(record) and is_gathering(hub)) or (is_gathering(record) and is_person(hub)):
        return  # many people take part in it: neither is one of the other's
    if is_container(record) or is_person(record):
        graph.add(Link(hub, record, RESTRICT, False, PLACED))
    else:
        graph.add(Link(record, hub, RESTRICT, False, PLACED))

"""Which entities a spec describes, decided from description, answers and feedback.

This runs only while writing the spec; afterwards DATA.md is the single source
of truth (the decomposer and coder parse it), so a user who edits DATA.md by
hand or supplies it through GitOps gets exactly the entities written there.
"""

from __future__ import annotations

import re

from prazium_operator.agents.template.entities import FALLBACK_ENTITY, Entity, entity_name, fields
from prazium_operator.agents.template.features import AUTHENTICATION, TEAMS
from prazium_operator.agents.template.naming import singular_words, words_of
from prazium_operator.agents.template.vocabulary import (
    KNOWN_BY_NAME,
    find_known_entities,
    lookup_known_entity,
)

# Fields for an entity the vocabulary does not know: enough for a useful CRUD resource.
CUSTOM_ENTITY_FIELDS = ("name:string!", "description:string", "active:boolean")
MAX_ENTITY_WORDS = 4


def entities_for_description(text: str, feature_keys: set[str]) -> list[Entity]:
    """Entities named in the text, plus Team/User implied by the chosen features."""
    return _with_feature_entities(find_known_entities(text), feature_keys)


def entities_from_answer(answer: str) -> list[Entity]:
    """Entities from a free-text list such as ``"Recipes, meal plans and shopping lists"``.

    Known phrases map to vocabulary entities; anything else becomes a custom entity
    with generic fields, so users can name records the vocabulary has never seen.
    """
    result: list[Entity] = []
    for phrase in re.split(r"[,;/\n]|\band\b|&", answer):
        if not phrase.strip():
            continue
        entity = lookup_known_entity(phrase) or _custom_entity(phrase)
        if entity is not None:
            result.append(entity)
    return _unique(result)


def select_entities(
    description_text: str,
    feature_keys: set[str],
    entities_answer: str,
    feedback: str | None,
) -> list[Entity]:
    """The spec's entity list: the answer (if given) overrides the description's
    nouns; entities named in regenerate feedback are added; never empty."""
    if entities_answer.strip():
        chosen = _with_feature_entities(entities_from_answer(entities_answer), feature_keys)
    else:
        chosen = entities_for_description(description_text, feature_keys)
    if feedback:
        chosen = _unique(chosen + find_known_entities(feedback))
    return chosen or [FALLBACK_ENTITY]


def _with_feature_entities(found: list[Entity], feature_keys: set[str]) -> list[Entity]:
    extra = []
    if TEAMS in feature_keys:
        extra.append(KNOWN_BY_NAME["Team"])
    if AUTHENTICATION in feature_keys:
        extra.append(KNOWN_BY_NAME["User"])
    return _unique(found + extra)


def _custom_entity(phrase: str) -> Entity | None:
    words = [word for word in words_of(phrase) if word not in {"a", "an", "the", "some"}]
    if not words or len(words) > MAX_ENTITY_WORDS:
        return None
    return Entity(entity_name(" ".join(singular_words(words))), fields(*CUSTOM_ENTITY_FIELDS))


def _unique(entities: list[Entity]) -> list[Entity]:
    """Drop later entities sharing a name or table with an earlier one (order kept)."""
    seen: set[str] = set()
    result = []
    for entity in entities:
        if entity.name in seen or entity.table in seen:
            continue
        seen.update((entity.name, entity.table))
        result.append(entity)
    return result

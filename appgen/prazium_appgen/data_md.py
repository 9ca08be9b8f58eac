"""DATA.md: the entity catalogue, written for people and parsed back by the agent.

Format (one section per entity; other headings and prose are ignored)::

    ## Entity: Task

    | Field | Type | Required | Rules |
    |-------|------|----------|-------|
    | title | string | yes | |
    | due | string | no | date (YYYY-MM-DD) |
    | project_id | integer | yes | references Project (on delete: cascade) |

Parsing is lenient because DATA.md may be hand-written (GitOps): entity names
and field names are normalized (``Time entry`` -> ``TimeEntry``, ``Due Date`` ->
``due_date``), type synonyms are accepted, unknown types become ``string``,
rows for ``id`` are skipped (the server assigns ids), duplicate entities or
fields keep their first definition, and an entity without usable fields gets a
required ``name`` string. The optional Rules column holds a format (``date``,
``date and time``, ``time``, ``email``), a closed set (``one of: a, b``), a
minimum (``at least 0``) and references (``references Pet (on delete:
cascade)``; ``restrict``, refusing to delete a parent with children, is the
default); a reference to an entity the document does not declare is dropped.
"""

from __future__ import annotations

import re

from prazium_appgen.entities import (
    FALLBACK_ENTITY,
    FIELD_NAME_PATTERN,
    ON_DELETE_RULES,
    RESERVED_FIELDS,
    Entity,
    Field,
    entity_name,
    fields,
)
from prazium_appgen.markdown import is_separator, render_table, split_row
from prazium_appgen.naming import snake_case, with_article, words_of

ENTITY_HEADING = re.compile(r"^#{2,3}\s*Entity\s*:\s*(?P<name>.+?)\s*#*\s*$", re.I)
OTHER_HEADING = re.compile(r"^#{1,6}\s")

TYPE_SYNONYMS = {
    "string": "string", "str": "string", "text": "string", "varchar": "string",
    "date": "string", "datetime": "string", "timestamp": "string", "email": "string",
    "url": "string", "uuid": "string",
    "integer": "integer", "int": "integer", "bigint": "integer", "smallint": "integer",
    "number": "number", "float": "number", "double": "number", "decimal": "number",
    "real": "number", "numeric": "number", "money": "number",
    "boolean": "boolean", "bool": "boolean", "flag": "boolean",
}  # fmt: skip
TRUE_WORDS = {"yes", "y", "true", "required", "x", "✓", "✔", "1", "mandatory"}


FORMAT_RULES = {
    "date": "date (YYYY-MM-DD)",
    "datetime": "date and time (ISO 8601)",
    "time": "time (HH:MM)",
    "email": "email address",
}
REFERENCE_RULE = re.compile(
    r"references\s+(?P<name>[A-Za-z][A-Za-z0-9 ]*?)\s*(?:\(on delete:\s*(?P<rule>\w+)\s*\)|$|;)",
    re.I,
)
CHOICES_RULE = re.compile(r"one of:\s*(?P<values>[^;]+)", re.I)
MINIMUM_RULE = re.compile(r"at least\s+(?P<minimum>-?\d+(?:\.\d+)?)", re.I)


def render_data_md(entities: list[Entity]) -> str:
    parts = [
        "# Data model\n",
        "Every entity is stored in its own SQLite table with an integer `id` primary key",
        "assigned by the server. Field types are JSON types: `string`, `integer`, `number`",
        "(integer or decimal) and `boolean`. Required fields must be present on create;",
        "the app rejects values that break a field's rules with 400.\n",
    ]
    for entity in entities:
        parts.append(f"## Entity: {entity.name}\n")
        parts.append(f"Table `{entity.table}`, served at `{entity.collection_path}`.\n")
        rows = [
            (field.name, field.type, "yes" if field.required else "no", render_rules(field))
            for field in entity.fields
        ]
        parts.append(render_table(("Field", "Type", "Required", "Rules"), rows))
        parts.extend(f"- {sentence}" for sentence in relation_sentences(entity))
        if entity.references:
            parts.append("")
    return "\n".join(parts)


def render_rules(field: Field) -> str:
    rules = []
    if field.format:
        rules.append(FORMAT_RULES[field.format])
    if field.choices:
        rules.append("one of: " + ", ".join(field.choices))
    if field.minimum is not None:
        rules.append(f"at least {field.minimum:g}")
    if field.references:
        rules.append(f"references {field.references} (on delete: {field.on_delete or 'restrict'})")
    return "; ".join(rules)


def relation_sentences(entity: Entity) -> list[str]:
    """What each reference of ``entity`` means for clients, in words."""
    sentences = []
    for field in entity.references:
        parent = " ".join(words_of(field.references))
        need = "must belong to" if field.required else "may belong to"
        effect = (
            f"deleting {with_article(parent)} also deletes its {entity.plural_label}"
            if field.on_delete == "cascade"
            else f"deleting {with_article(parent)} that still has {entity.plural_label}"
            " is refused (409)"
        )
        sentences.append(
            f"Each {entity.label} {need} {with_article(parent)} (`{field.name}`; a missing"
            f" {parent} is refused with 400); list one {parent}'s {entity.plural_label} with"
            f" `GET {entity.collection_path}?{field.name}=<id>`; {effect}."
        )
    return sentences


def parse_data_md(text: str) -> list[Entity]:
    """Entities declared in DATA.md; ``[Item(name: string, required)]`` when there are none."""
    sections = _entity_sections(text)
    entities: list[Entity] = []
    seen: set[str] = set()
    for raw_name, lines in sections:
        name = entity_name(raw_name)
        if not name or name in seen:
            continue
        parsed = _parse_fields(lines) or fields("name:string!")
        entity = Entity(name, parsed)
        if entity.table in seen:
            continue
        seen.update((name, entity.table))
        entities.append(entity)
    declared = {entity.name for entity in entities}
    entities = [_without_dangling_references(entity, declared) for entity in entities]
    return entities or [FALLBACK_ENTITY]


def _without_dangling_references(entity: Entity, declared: set[str]) -> Entity:
    kept = tuple(
        field
        if not field.references or field.references in declared
        else Field(field.name, field.type, field.required)
        for field in entity.fields
    )
    return Entity(entity.name, kept)


def _entity_sections(text: str) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        heading = ENTITY_HEADING.match(line.strip())
        if heading:
            current = []
            sections.append((heading.group("name"), current))
        elif OTHER_HEADING.match(line.strip()):
            current = None
        elif current is not None:
            current.append(line)
    return sections


def _parse_fields(lines: list[str]) -> tuple[Field, ...]:
    rows = [cells for line in lines if (cells := split_row(line)) is not None]
    header_index = next(
        (
            index
            for index, cells in enumerate(rows)
            if any(cell.lower() in ("field", "name") for cell in cells)
        ),
        None,
    )
    if header_index is None:
        return ()
    header = [cell.lower() for cell in rows[header_index]]
    name_col = header.index("field") if "field" in header else header.index("name")
    type_col = header.index("type") if "type" in header else None
    required_col = header.index("required") if "required" in header else None
    rules_col = header.index("rules") if "rules" in header else None

    result: list[Field] = []
    names: set[str] = set()
    for cells in rows[header_index + 1 :]:
        if is_separator(cells) or len(cells) <= name_col:
            continue
        name = snake_case(words_of(cells[name_col]))
        if not FIELD_NAME_PATTERN.match(name) or name in RESERVED_FIELDS or name in names:
            continue
        raw_type = _cell(cells, type_col).lower()
        field_type = TYPE_SYNONYMS.get(raw_type.split("(")[0].strip(), "string")
        required = _cell(cells, required_col).lower() in TRUE_WORDS
        names.add(name)
        result.append(_with_rules(Field(name, field_type, required), _cell(cells, rules_col)))
    return tuple(result)


def _with_rules(field: Field, rules: str) -> Field:
    """The field with the rules its Rules cell states; rules that do not fit its type are
    ignored (a hand-written table may say anything)."""
    text = rules.strip()
    if not text:
        return field
    format_ = ""
    if field.type == "string":
        lowered = text.lower()
        if "date and time" in lowered or "datetime" in lowered:
            format_ = "datetime"
        elif re.search(r"\bdate\b", lowered):
            format_ = "date"
        elif re.search(r"\btime\b", lowered):
            format_ = "time"
        elif "email" in lowered:
            format_ = "email"
    choices: tuple[str, ...] = ()
    if field.type == "string" and (found := CHOICES_RULE.search(text)):
        choices = tuple(
            dict.fromkeys(v.strip() for v in found.group("values").split(",") if v.strip())
        )
    minimum = None
    if field.type in ("integer", "number") and (found := MINIMUM_RULE.search(text)):
        minimum = float(found.group("minimum"))
        minimum = int(minimum) if minimum.is_integer() else minimum
    references, on_delete = "", ""
    if field.type == "integer" and (found := REFERENCE_RULE.search(text)):
        references = entity_name(found.group("name"))
        rule = (found.group("rule") or "restrict").lower()
        on_delete = rule if rule in ON_DELETE_RULES else "restrict"
    return Field(
        field.name,
        field.type,
        field.required,
        format_,
        choices,
        minimum,
        references,
        on_delete if references else "",
    )


def _cell(cells: list[str], column: int | None) -> str:
    if column is None or column >= len(cells):
        return ""
    return cells[column]

"""DATA.md: the entity catalogue, written for people and parsed back by the agent.

Format (one section per entity; other headings and prose are ignored)::

    ## Entity: Task

    | Field | Type | Required |
    |-------|------|----------|
    | title | string | yes |
    | done | boolean | no |

Parsing is lenient because DATA.md may be hand-written (GitOps): entity names
and field names are normalized (``Time entry`` -> ``TimeEntry``, ``Due Date`` ->
``due_date``), type synonyms are accepted, unknown types become ``string``,
rows for ``id`` are skipped (the server assigns ids), duplicate entities or
fields keep their first definition, and an entity without usable fields gets a
required ``name`` string.
"""

from __future__ import annotations

import re

from prazium_operator.agents.template.entities import (
    FALLBACK_ENTITY,
    FIELD_NAME_PATTERN,
    RESERVED_FIELDS,
    Entity,
    Field,
    entity_name,
    fields,
)
from prazium_operator.agents.template.markdown import is_separator, render_table, split_row
from prazium_operator.agents.template.naming import snake_case, words_of

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


def render_data_md(entities: list[Entity]) -> str:
    parts = [
        "# Data model\n",
        "Every entity is stored in its own SQLite table with an integer `id` primary key",
        "assigned by the server. Field types are JSON types: `string`, `integer`, `number`",
        "(integer or decimal) and `boolean`. Required fields must be present on create.\n",
    ]
    for entity in entities:
        parts.append(f"## Entity: {entity.name}\n")
        parts.append(f"Table `{entity.table}`, served at `{entity.collection_path}`.\n")
        rows = [
            (field.name, field.type, "yes" if field.required else "no") for field in entity.fields
        ]
        parts.append(render_table(("Field", "Type", "Required"), rows))
    return "\n".join(parts)


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
    return entities or [FALLBACK_ENTITY]


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
        result.append(Field(name, field_type, required))
    return tuple(result)


def _cell(cells: list[str], column: int | None) -> str:
    if column is None or column >= len(cells):
        return ""
    return cells[column]

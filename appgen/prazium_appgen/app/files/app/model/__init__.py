"""The data model: entity definitions (from DATA.md), validation and relations."""

from app.model.relations import delete_with_children, ensure_tables, missing_parents
from app.model.schema import (
    ENTITIES,
    RESOURCE_MODULES,
    Entity,
    Field,
    children_of,
    entity_of_module,
)
from app.model.validation import ValidationError, from_row, to_row, validate

__all__ = [
    "ENTITIES",
    "RESOURCE_MODULES",
    "Entity",
    "Field",
    "ValidationError",
    "children_of",
    "delete_with_children",
    "ensure_tables",
    "entity_of_module",
    "from_row",
    "missing_parents",
    "to_row",
    "validate",
]

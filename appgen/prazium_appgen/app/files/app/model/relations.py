"""Integrity of references between records: parents must exist, children follow deletes.

SQLite foreign keys are not used because each resource creates its own table
when its module loads; checking here gives clients clear JSON errors instead.
"""

from __future__ import annotations

from app.model.schema import ENTITIES, Entity, children_of
from app.storage import Database, Row, integer


class DeleteRefused(Exception):
    """A record still has children whose reference says ``restrict``."""

    def __init__(self, child: Entity, count: int) -> None:
        super().__init__(f"{count} {child.name} record(s) still refer to it")
        self.child = child
        self.count = count


def ensure_tables(database: Database, entity: Entity) -> None:
    """Create the entity's table and those of its parents and children.

    Related tables must exist before the first integrity check, whichever
    resource module happens to load first.
    """
    related = {entity.name: entity}
    for field in entity.references():
        parent = ENTITIES.get(field.references)
        if parent is not None:
            related[parent.name] = parent
    for child, _ in children_of(entity):
        related[child.name] = child
    for item in related.values():
        database.ensure_table(item.table, item.columns())


def missing_parents(database: Database, entity: Entity, values: Row) -> dict[str, str]:
    """Reference fields in ``values`` naming a parent that does not exist, with reasons."""
    errors = {}
    for field in entity.references():
        value = values.get(field.name)
        parent = ENTITIES.get(field.references)
        if value is None or parent is None:
            continue
        # Validation made a reference an integer id; anything else names no parent.
        if not isinstance(value, int) or database.get(parent.table, value) is None:
            errors[field.name] = f"no {parent.name} with id {value}"
    return errors


def delete_with_children(database: Database, entity: Entity, record_id: int) -> None:
    """Delete a record and, for ``cascade`` references, its children (recursively).

    Everything that would be deleted is collected first, so a ``restrict``
    anywhere below refuses the whole delete and nothing is removed.
    """
    doomed: list[tuple[str, int]] = []
    _collect(database, entity, record_id, doomed, set())
    for table, row_id in reversed(doomed):
        database.delete(table, row_id)


def _collect(
    database: Database,
    entity: Entity,
    record_id: int,
    doomed: list[tuple[str, int]],
    seen: set[tuple[str, int]],
) -> None:
    if (entity.table, record_id) in seen:
        return
    seen.add((entity.table, record_id))
    doomed.append((entity.table, record_id))
    for child, field in children_of(entity):
        rows = database.find_all(child.table, field.name, record_id)
        if rows and field.on_delete != "cascade":
            raise DeleteRefused(child, len(rows))
        for row in rows:
            _collect(database, child, integer(row, "id"), doomed, seen)

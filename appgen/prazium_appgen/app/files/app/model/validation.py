"""Checking request bodies against an entity and converting to and from table rows."""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

from app.model.schema import Entity, Field
from app.storage import Row

READ_ONLY_FIELDS = frozenset({"id"})
"""Accepted in bodies (clients often send back what they read) but never written."""

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FORMAT_HINTS = {
    "date": "YYYY-MM-DD",
    "datetime": "an ISO 8601 date and time",
    "time": "HH:MM",
    "email": "an email address",
}


class ValidationError(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("invalid fields: " + ", ".join(sorted(fields)))
        self.fields = fields


def type_matches(field: Field, value: Any) -> bool:
    # bool is a subclass of int in Python; JSON true/false must not pass as numbers.
    if field.type == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if field.type == "integer":
        return isinstance(value, int)
    if field.type == "number":
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, str)


def format_matches(kind: str, value: str) -> bool:
    """Whether a string has the field's format; unknown formats accept any string."""
    parsers = {
        "date": datetime.date.fromisoformat,
        "datetime": datetime.datetime.fromisoformat,
        "time": datetime.time.fromisoformat,
    }
    if kind == "email":
        return bool(EMAIL_PATTERN.match(value))
    if kind not in parsers:
        return True
    try:
        parsers[kind](value)
    except ValueError:
        return False
    return True


def rule_error(field: Field, value: Any) -> str | None:
    """Why a value of the right type still breaks one of the field's rules, if it does."""
    if field.choices and value not in field.choices:
        return "must be one of: " + ", ".join(field.choices)
    if field.format and isinstance(value, str) and not format_matches(field.format, value):
        return "must be " + FORMAT_HINTS.get(field.format, field.format)
    if field.minimum is not None and isinstance(value, int | float) and value < field.minimum:
        return f"must be at least {field.minimum:g}"
    if field.references and isinstance(value, int) and value < 1:
        return f"must be the id of a {field.references}"
    return None


def validate(entity: Entity, payload: Any, *, partial: bool = False) -> Row:
    """The writable fields of ``payload``; ValidationError maps each bad field to a reason.

    ``partial`` (updates) skips the required-field check for absent fields.
    """
    if not isinstance(payload, dict):
        raise ValidationError({"body": "must be a JSON object"})
    known = {field.name for field in entity.fields}
    errors = {
        name: "unknown field"
        for name in sorted(payload)
        if name not in known and name not in READ_ONLY_FIELDS
    }
    clean: Row = {}
    for field in entity.fields:
        if field.name not in payload:
            if field.required and not partial:
                errors[field.name] = "required"
            continue
        value = payload[field.name]
        if value is None:
            if field.required:
                errors[field.name] = "required; must not be null"
            else:
                clean[field.name] = None
        elif not type_matches(field, value):
            errors[field.name] = f"must be of type {field.type}"
        elif field.required and field.type == "string" and not value.strip():
            errors[field.name] = "must not be empty"
        elif (reason := rule_error(field, value)) is not None:
            errors[field.name] = reason
        else:
            clean[field.name] = value
    if errors:
        raise ValidationError(errors)
    return clean


def to_row(entity: Entity, values: Row) -> Row:
    types = {field.name: field.type for field in entity.fields}
    return {
        name: int(value) if types.get(name) == "boolean" and isinstance(value, bool) else value
        for name, value in values.items()
    }


def from_row(entity: Entity, row: Row) -> Row:
    record: Row = {"id": row["id"]}
    for field in entity.fields:
        value = row.get(field.name)
        if value is not None and field.type == "boolean":
            value = bool(value)
        record[field.name] = value
    return record

"""Strict JSON schemas for the four structured answers, shared by every provider.

They serve as OpenAI "structured outputs" schemas and as Anthropic tool input
schemas alike. OpenAI's strict mode wants every object closed
(``additionalProperties: false``) with every property required, so optional
values are expressed as empty strings or lists. The spec documents travel under
plain keys (``SPEC`` for ``SPEC.md``, ...).
"""

from __future__ import annotations

from prazium_kit.types import JsonObject
from prazium_operator.agents.base import QUESTION_TYPES, SPEC_DOCUMENTS

DOCUMENT_KEYS = {name: name.removesuffix(".md") for name in SPEC_DOCUMENTS}
"""Spec document file name -> the property that carries it on the wire."""


def _object(properties: JsonObject) -> JsonObject:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_STRINGS = {"type": "array", "items": {"type": "string"}}

QUESTIONS = _object(
    {
        "questions": {
            "type": "array",
            "items": _object(
                {
                    "id": {"type": "string"},
                    "question": {"type": "string"},
                    "type": {"type": "string", "enum": list(QUESTION_TYPES)},
                    "options": _STRINGS,
                }
            ),
        }
    }
)

SPEC = _object({key: {"type": "string"} for key in DOCUMENT_KEYS.values()})

PLAN = _object(
    {
        "tasks": {
            "type": "array",
            "items": _object(
                {
                    "id": {"type": "string"},
                    "slug": {"type": "string"},
                    "description": {"type": "string"},
                    "instructions": {"type": "string"},
                    "dependencies": _STRINGS,
                    "pathScope": _STRINGS,
                    "expectedOutputs": _STRINGS,
                    # Strict mode wants every property: [] when the task has no tests.
                    "testCommand": _STRINGS,
                }
            ),
        },
        "mergeOrder": _STRINGS,
        "verifyCommand": _STRINGS,
    }
)

FILES = _object(
    {
        "files": {
            "type": "array",
            "items": _object(
                {
                    "path": {"type": "string"},
                    "content": {"type": "string"},
                    "executable": {"type": "boolean"},
                }
            ),
        }
    }
)

NAMES = {"questions": QUESTIONS, "spec_documents": SPEC, "plan": PLAN, "files": FILES}

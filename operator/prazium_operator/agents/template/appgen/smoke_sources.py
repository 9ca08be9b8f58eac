"""Generated-app sources owned by the final smoke-test task, which runs after every merge."""

from __future__ import annotations

from string import Template

from prazium_operator.agents.template.appgen.pyliteral import block_literal

_TEST_SMOKE_PY = Template('''\
"""Whole-app checks: every planned resource is present and works end to end.

These catch a resource branch that was never merged: the health route lists
the resource modules actually loaded.
"""

from __future__ import annotations

from typing import Any

from app.model import ENTITIES, Entity
from tests.harness import ServerTestCase

EXPECTED_RESOURCE_MODULES = $modules
SAMPLES: dict[str, Any] = {"string": "smoke", "integer": 1, "number": 0.5, "boolean": False}


def sample(entity: Entity) -> dict[str, Any]:
    return {field.name: SAMPLES[field.type] for field in entity.fields}


class SmokeTest(ServerTestCase):
    def test_every_planned_resource_is_loaded(self) -> None:
        status, body = self.request("GET", "/health")
        self.assertEqual(status, 200)
        self.assertEqual(body["resources"], EXPECTED_RESOURCE_MODULES)

    def test_every_entity_round_trips(self) -> None:
        for entity in ENTITIES.values():
            with self.subTest(entity=entity.name):
                status, created = self.request("POST", entity.path, sample(entity))
                self.assertEqual(status, 201, created)
                item = f"{entity.path}/{created['id']}"
                self.assertEqual(self.request("GET", item), (200, created))
                _, listing = self.request("GET", entity.path + "?limit=1000")
                self.assertIn(created, listing["items"])
                self.assertEqual(self.request("DELETE", item), (204, None))
                self.assertEqual(self.request("GET", item)[0], 404)
''')


def render_test_smoke_py(expected_modules: list[str]) -> str:
    return _TEST_SMOKE_PY.substitute(modules=block_literal(sorted(expected_modules)))

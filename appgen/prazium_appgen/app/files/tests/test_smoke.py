"""Whole-app checks: every planned resource is present and works end to end.

These catch a resource branch that was never merged: the health route lists
the resource modules actually loaded, and app/model/model.json the planned ones.
"""

from __future__ import annotations

from app.model import ENTITIES, RESOURCE_MODULES
from tests.harness import ServerTestCase
from tests.records import create


class SmokeTest(ServerTestCase):
    def test_every_planned_resource_is_loaded(self) -> None:
        status, body = self.request("GET", "/health")
        self.assertEqual(status, 200)
        self.assertEqual(body["resources"], RESOURCE_MODULES)

    def test_every_entity_round_trips(self) -> None:
        for entity in ENTITIES.values():
            with self.subTest(entity=entity.name):
                created = create(self, entity)
                item = f"{entity.path}/{created['id']}"
                self.assertEqual(self.request("GET", item), (200, created))
                _, listing = self.request("GET", entity.path + "?limit=1000")
                self.assertIn(created, listing["items"])
                self.assertEqual(self.request("DELETE", item), (204, None))
                self.assertEqual(self.request("GET", item)[0], 404)

"""The web interface: its page, assets and data model answer, same origin only."""

from __future__ import annotations

import html
import json
import re

from app import APP_NAME
from app.model import ENTITIES
from tests.harness import ServerTestCase

ASSET_TYPES = {
    "/": "text/html",
    "/ui/app.js": "text/javascript",
    "/ui/app.css": "text/css",
    "/ui/model.json": "application/json",
}


class UiTest(ServerTestCase):
    def text(self, path: str) -> tuple[int, dict[str, str], str]:
        status, headers, body = self.fetch(path)
        return status, headers, body.decode("utf-8")

    def test_every_ui_route_answers_with_its_content_type(self) -> None:
        for path, content_type in ASSET_TYPES.items():
            with self.subTest(path=path):
                status, headers, body = self.text(path)
                self.assertEqual(status, 200)
                self.assertEqual(headers["content-type"].split(";")[0], content_type)
                self.assertEqual(headers["x-content-type-options"], "nosniff")
                self.assertTrue(body.strip())

    def test_the_page_lists_every_record_type(self) -> None:
        _, _, page = self.text("/")
        self.assertIn(f"<title>{html.escape(APP_NAME)}</title>", page)
        for entity in ENTITIES.values():
            segment = entity.path.rsplit("/", 1)[-1]
            with self.subTest(entity=entity.name):
                self.assertIn(f'href="#/{segment}"', page)
        self.assertIn('src="/ui/app.js"', page)
        self.assertIn('href="/ui/app.css"', page)
        self.assertIn('name="viewport"', page)

    def test_nothing_is_loaded_from_another_origin(self) -> None:
        _, headers, _ = self.text("/")
        self.assertIn("default-src 'self'", headers["content-security-policy"])
        for path in ("/", "/ui/app.js", "/ui/app.css"):
            with self.subTest(path=path):
                _, _, body = self.text(path)
                self.assertIsNone(re.search(r"(?:src|href)=[\"']?(?:https?:)?//", body))
                self.assertNotIn("import(", body)

    def test_the_model_describes_every_field_for_the_forms(self) -> None:
        _, _, text = self.text("/ui/model.json")
        model = json.loads(text)
        self.assertEqual(model["app"], APP_NAME)
        described = {item["name"]: item for item in model["entities"]}
        self.assertEqual(list(described), list(ENTITIES))
        for entity in ENTITIES.values():
            item = described[entity.name]
            with self.subTest(entity=entity.name):
                self.assertEqual(item["path"], entity.path)
                self.assertTrue(item["label"] and item["plural"])
                names = [field.name for field in entity.fields]
                self.assertEqual([shown["name"] for shown in item["fields"]], names)
                for field, shown in zip(entity.fields, item["fields"], strict=True):
                    self.assertEqual(shown["type"], field.type)
                    self.assertEqual(shown["required"], field.required)
                    self.assertEqual(shown.get("references", ""), field.references)
                    self.assertEqual(tuple(shown.get("choices", ())), field.choices)
                    self.assertEqual(shown.get("format", ""), field.format)
                    self.assertTrue(shown["label"])

    def test_other_methods_on_the_page_are_refused(self) -> None:
        status, body = self.request("POST", "/", {})
        self.assertEqual(status, 405)
        self.assertEqual(body["error"]["code"], "method_not_allowed")

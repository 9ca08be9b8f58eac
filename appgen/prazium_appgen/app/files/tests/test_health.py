"""The service-level routes and error handling."""

from __future__ import annotations

from tests.harness import ServerTestCase


class HealthTest(ServerTestCase):
    def test_health_reports_ok(self) -> None:
        status, body = self.request("GET", "/health")
        self.assertEqual(status, 200)
        self.assertEqual(body["status"], "ok")
        self.assertIn("health", body["resources"])

    def test_unknown_path_returns_404_json(self) -> None:
        status, body = self.request("GET", "/no/such/path")
        self.assertEqual(status, 404)
        self.assertEqual(body["error"]["code"], "not_found")

    def test_wrong_method_returns_405_json(self) -> None:
        status, body = self.request("DELETE", "/health")
        self.assertEqual(status, 405)
        self.assertEqual(body["error"]["code"], "method_not_allowed")

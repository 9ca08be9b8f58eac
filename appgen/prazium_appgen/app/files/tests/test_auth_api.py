"""HTTP tests for every account route."""

from __future__ import annotations

import itertools

from app.routing import JsonObject
from tests.harness import ServerTestCase

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


def new_email() -> str:
    return f"user{next(_numbers)}@example.com"


class AuthApiTest(ServerTestCase):
    def register(self, email: str) -> JsonObject:
        status, body = self.request(
            "POST", "/api/auth/register", {"email": email, "password": PASSWORD}
        )
        self.assertEqual(status, 201, body)
        account: JsonObject = body
        return account

    def login(self, email: str) -> str:
        status, body = self.request(
            "POST", "/api/auth/login", {"email": email, "password": PASSWORD}
        )
        self.assertEqual(status, 200, body)
        token: str = body["token"]
        return token

    def test_register_creates_account(self) -> None:
        email = new_email()
        account = self.register(email)
        self.assertEqual(account["email"], email)
        self.assertNotIn("password_hash", account)

    def test_register_rejects_duplicate_email(self) -> None:
        email = new_email()
        self.register(email)
        status, body = self.request(
            "POST", "/api/auth/register", {"email": email.upper(), "password": PASSWORD}
        )
        self.assertEqual(status, 409)
        self.assertEqual(body["error"]["code"], "conflict")

    def test_register_validates_payload(self) -> None:
        status, body = self.request(
            "POST", "/api/auth/register", {"email": "not-an-email", "password": "short"}
        )
        self.assertEqual(status, 400)
        self.assertEqual(sorted(body["error"]["fields"]), ["email", "password"])

    def test_login_returns_token(self) -> None:
        email = new_email()
        self.register(email)
        self.assertTrue(self.login(email))

    def test_login_rejects_wrong_password(self) -> None:
        email = new_email()
        self.register(email)
        status, _ = self.request(
            "POST", "/api/auth/login", {"email": email, "password": "wrong password"}
        )
        self.assertEqual(status, 401)
        status, _ = self.request(
            "POST", "/api/auth/login", {"email": new_email(), "password": PASSWORD}
        )
        self.assertEqual(status, 401)

    def test_me_returns_account_of_token(self) -> None:
        email = new_email()
        account = self.register(email)
        token = self.login(email)
        status, body = self.request(
            "GET", "/api/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        self.assertEqual((status, body), (200, account))

    def test_me_requires_valid_token(self) -> None:
        status, _ = self.request("GET", "/api/auth/me")
        self.assertEqual(status, 401)
        status, _ = self.request("GET", "/api/auth/me", headers={"Authorization": "Bearer nope"})
        self.assertEqual(status, 401)

    def test_logout_revokes_token(self) -> None:
        email = new_email()
        self.register(email)
        headers = {"Authorization": f"Bearer {self.login(email)}"}
        status, _ = self.request("POST", "/api/auth/logout", headers=headers)
        self.assertEqual(status, 204)
        status, _ = self.request("GET", "/api/auth/me", headers=headers)
        self.assertEqual(status, 401)

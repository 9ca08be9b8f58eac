"""Generated-app sources owned by the auth task: accounts, login and bearer tokens."""

AUTH_PY = '''"""Accounts: register, log in, identify the caller and log out with bearer tokens.

Passwords are stored as salted PBKDF2-SHA256 hashes and tokens only as SHA-256
digests, so a copy of the database reveals neither.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from app.routing import HttpError, Request, Response, Router
from app.storage import ConflictError, Database

ACCOUNTS = "auth_accounts"
TOKENS = "auth_tokens"
PBKDF2_ITERATIONS = 100_000
MIN_PASSWORD_LENGTH = 8
EMAIL_PATTERN = re.compile(r"^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$")
# Compared against when the email is unknown, so both failures cost the same time.
_DUMMY_SALT = "0" * 32


def hash_password(password: str, salt: str) -> str:
    salt_bytes = bytes.fromhex(salt)
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt_bytes, PBKDF2_ITERATIONS).hex()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def credentials(body: Any) -> tuple[str, str]:
    """Normalized email and password from a request body; 400 naming bad fields."""
    if not isinstance(body, dict):
        raise HttpError(
            400,
            "validation_failed",
            "body must be a JSON object",
            {"body": "must be a JSON object"},
        )
    email, password = body.get("email"), body.get("password")
    errors = {}
    if not isinstance(email, str) or not EMAIL_PATTERN.match(email.strip()):
        errors["email"] = "must be an email address"
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = f"must be a string of at least {MIN_PASSWORD_LENGTH} characters"
    if errors or not isinstance(email, str) or not isinstance(password, str):
        raise HttpError(400, "validation_failed", "invalid credentials payload", errors)
    return email.strip().lower(), password


def public(account: dict[str, Any]) -> dict[str, Any]:
    return {"id": account["id"], "email": account["email"]}


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HttpError(401, "unauthorized", "missing bearer token")
    return token.strip()


def register(router: Router, database: Database) -> None:
    database.ensure_table(
        ACCOUNTS, {"email": "TEXT", "password_hash": "TEXT", "salt": "TEXT"}, unique=["email"]
    )
    database.ensure_table(
        TOKENS, {"token_hash": "TEXT", "account_id": "INTEGER"}, unique=["token_hash"]
    )

    def token_row(request: Request) -> dict[str, Any]:
        row = database.find(TOKENS, "token_hash", token_digest(bearer_token(request)))
        if row is None:
            raise HttpError(401, "unauthorized", "invalid or revoked token")
        return row

    def register_account(request: Request) -> Response:
        email, password = credentials(request.body)
        salt = secrets.token_hex(16)
        values = {"email": email, "password_hash": hash_password(password, salt), "salt": salt}
        try:
            account = database.insert(ACCOUNTS, values)
        except ConflictError as error:
            raise HttpError(409, "conflict", "an account with this email exists") from error
        return Response(201, public(account))

    def login(request: Request) -> Response:
        email, password = credentials(request.body)
        account = database.find(ACCOUNTS, "email", email)
        salt = account["salt"] if account else _DUMMY_SALT
        candidate = hash_password(password, salt)
        if account is None or not hmac.compare_digest(candidate, account["password_hash"]):
            raise HttpError(401, "invalid_credentials", "email or password is wrong")
        token = secrets.token_urlsafe(32)
        database.insert(TOKENS, {"token_hash": token_digest(token), "account_id": account["id"]})
        return Response(200, {"token": token, "tokenType": "Bearer", "account": public(account)})

    def me(request: Request) -> Response:
        account = database.get(ACCOUNTS, token_row(request)["account_id"])
        if account is None:
            raise HttpError(401, "unauthorized", "account no longer exists")
        return Response(200, public(account))

    def logout(request: Request) -> Response:
        database.delete(TOKENS, token_row(request)["id"])
        return Response(204)

    router.add("POST", "/api/auth/register", register_account)
    router.add("POST", "/api/auth/login", login)
    router.add("GET", "/api/auth/me", me)
    router.add("POST", "/api/auth/logout", logout)
'''

TEST_AUTH_PY = '''"""HTTP tests for every account route."""

from __future__ import annotations

import itertools
from typing import Any

from tests.harness import ServerTestCase

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


def new_email() -> str:
    return f"user{next(_numbers)}@example.com"


class AuthApiTest(ServerTestCase):
    def register(self, email: str) -> dict[str, Any]:
        status, body = self.request(
            "POST", "/api/auth/register", {"email": email, "password": PASSWORD}
        )
        self.assertEqual(status, 201, body)
        account: dict[str, Any] = body
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
'''

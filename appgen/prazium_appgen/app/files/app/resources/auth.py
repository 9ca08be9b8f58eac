"""Accounts: register, log in, identify the caller and log out with bearer tokens.

Passwords are stored as salted PBKDF2-SHA256 hashes and tokens only as SHA-256
digests, so a copy of the database reveals neither.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from app.routing import HttpError, JsonObject, Request, Response, Router
from app.storage import ConflictError, Database, Row, integer, text

ACCOUNTS = "auth_accounts"
TOKENS = "auth_tokens"
PBKDF2_ITERATIONS = 100_000
MIN_PASSWORD_LENGTH = 8
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
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


def public(account: Row) -> JsonObject:
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

    def token_row(request: Request) -> Row:
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
        salt = text(account, "salt") if account else _DUMMY_SALT
        candidate = hash_password(password, salt)
        if account is None or not hmac.compare_digest(candidate, text(account, "password_hash")):
            raise HttpError(401, "invalid_credentials", "email or password is wrong")
        token = secrets.token_urlsafe(32)
        database.insert(TOKENS, {"token_hash": token_digest(token), "account_id": account["id"]})
        return Response(200, {"token": token, "tokenType": "Bearer", "account": public(account)})

    def me(request: Request) -> Response:
        account = database.get(ACCOUNTS, integer(token_row(request), "account_id"))
        if account is None:
            raise HttpError(401, "unauthorized", "account no longer exists")
        return Response(200, public(account))

    def logout(request: Request) -> Response:
        database.delete(TOKENS, integer(token_row(request), "id"))
        return Response(204)

    router.add("POST", "/api/auth/register", register_account)
    router.add("POST", "/api/auth/login", login)
    router.add("GET", "/api/auth/me", me)
    router.add("POST", "/api/auth/logout", logout)

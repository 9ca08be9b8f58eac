"""What a failed command prints and the exit code it ends with.

Exit codes (stable, documented in the README):
  0 success; 1 any other failure (server error, a watched run that did not
  succeed, an export that failed, a preview not live with --wait, TIMEOUT);
  2 wrong usage (Typer's own); 3 not logged in,
  UNAUTHORIZED or FORBIDDEN; 4 NOT_FOUND; 5 VALIDATION_ERROR; 6 CONFLICT;
  7 RATE_LIMITED; 8 the API could not be reached.
"""

from __future__ import annotations

from typing import Any

EXIT_BY_CODE = {
    "UNAUTHORIZED": 3,
    "FORBIDDEN": 3,
    "NOT_FOUND": 4,
    "VALIDATION_ERROR": 5,
    "CONFLICT": 6,
    "RATE_LIMITED": 7,
}
EXIT_FAILED = 1
EXIT_UNREACHABLE = 8


class CliError(Exception):
    """A failure shown as the contract's error envelope ({"error": {code, message,
    details}}) with --output json, else as one line on stderr."""

    def __init__(
        self,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        exit_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.exit_code = exit_code if exit_code is not None else EXIT_BY_CODE.get(code, EXIT_FAILED)

    def envelope(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def not_logged_in(what: str) -> CliError:
    return CliError(
        "UNAUTHORIZED",
        f"no {what}: run `prazium login` or set PRAZIUM_API_URL and PRAZIUM_API_KEY",
        exit_code=3,
    )

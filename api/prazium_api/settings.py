"""API settings (PRAZIUM_ prefix), on top of the settings every process shares."""

from __future__ import annotations

from functools import lru_cache

from prazium_operator.settings import Settings


class ApiSettings(Settings):
    host: str = "127.0.0.1"
    port: int = 3001
    # Largest request body accepted, in bytes; larger ones get 413.
    max_body_bytes: int = 1_048_576
    # An operator whose heartbeat is older than this counts as down.
    operator_stale_seconds: float = 30.0


@lru_cache(maxsize=1)
def get_api_settings() -> ApiSettings:
    return ApiSettings()

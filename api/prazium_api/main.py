"""`python -m prazium_api`: serve the API with uvicorn."""

from __future__ import annotations

import uvicorn

from prazium_api.settings import get_api_settings


def main() -> None:
    settings = get_api_settings()
    uvicorn.run(
        "prazium_api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
        # Open SSE streams never end on their own; clients resume with Last-Event-ID.
        timeout_graceful_shutdown=3,
    )


if __name__ == "__main__":
    main()

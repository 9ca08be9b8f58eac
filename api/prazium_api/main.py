"""`python -m prazium_api`: serve the API with uvicorn.

Logging (PRAZIUM_LOG_FORMAT, PRAZIUM_LOG_LEVEL) is configured through uvicorn's
log_config, so uvicorn's own lines go through the same formatter as the app's
(prazium_kit.logs). uvicorn's access log is off: its lines carry the query
string and no duration; the API writes its own access line per request
(prazium_api.requestlog: method, path, status, durationMs, client, requestId,
tenant, keyId).
"""

from __future__ import annotations

import uvicorn

from prazium_api.settings import get_api_settings
from prazium_kit import logs


def main() -> None:
    settings = get_api_settings()
    uvicorn.run(
        "prazium_api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=logs.dict_config(settings.log_level, settings.log_format),
        access_log=False,
        # X-Forwarded-For is believed only from the configured proxies (settings.py):
        # anyone else could otherwise pick the address they are counted under.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        # Open SSE streams never end on their own; clients resume with Last-Event-ID.
        timeout_graceful_shutdown=3,
    )


if __name__ == "__main__":
    main()

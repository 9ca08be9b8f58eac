"""The web dashboard: a static single-page app served at / that talks to /v1 with
the session cookie, and the API docs (Swagger UI, ReDoc) on vendored assets.

Everything the browser loads comes from here (static/, with static/vendor/ filled
by scripts/web-assets.sh from the npm lockfile next to this file): no CDN, so the
pages work on an air-gapped cluster.
"""

from prazium_api.web.routes import install

__all__ = ["install"]

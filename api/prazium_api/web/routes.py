"""Routes of the dashboard (/, /static/...) and of the API docs (/v1/docs, /v1/redoc)."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

STATIC = Path(__file__).resolve().parent / "static"
VENDOR = "/static/vendor"
DOCS_URL, REDOC_URL, OAUTH2_REDIRECT_URL = "/v1/docs", "/v1/redoc", "/v1/docs/oauth2-redirect"
# The app itself runs no inline script or style and talks to its own origin only.
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI and ReDoc pages start with an inline script (FastAPI's) and ReDoc
# injects styles and runs a worker from a blob: still nothing from another origin.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:;"
    " object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")

router = APIRouter(include_in_schema=False)


def _secured(response: Response, csp: str) -> Response:
    response.headers.update(_HEADERS)
    response.headers["Content-Security-Policy"] = csp
    return response


@router.get("/")
def index() -> Response:
    response = FileResponse(STATIC / "index.html", media_type="text/html")
    response.headers["Cache-Control"] = "no-cache"
    return _secured(response, APP_CSP)


@router.get("/static/{path:path}")
def static(path: str) -> Response:
    """A file under static/ (never outside it); a plain 404 otherwise."""
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC) or not target.is_file():
        missing = "vendor/" in path and not (STATIC / "vendor").is_dir()
        hint = " (run scripts/web-assets.sh: vendored assets missing)" if missing else ""
        return PlainTextResponse(f"not found{hint}\n", status_code=404, headers=_HEADERS)
    response = FileResponse(target)
    # The app's own modules change with the code; revalidate, 304 when unchanged.
    response.headers["Cache-Control"] = "no-cache"
    return _secured(response, APP_CSP)


@router.get(DOCS_URL)
def swagger_ui() -> Response:
    page = get_swagger_ui_html(
        openapi_url="/v1/openapi.json",
        title="Prazium API - Swagger UI",
        swagger_js_url=f"{VENDOR}/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR}/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
        oauth2_redirect_url=OAUTH2_REDIRECT_URL,
    )
    return _secured(page, DOCS_CSP)


@router.get(OAUTH2_REDIRECT_URL)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get(REDOC_URL)
def redoc() -> Response:
    page = get_redoc_html(
        openapi_url="/v1/openapi.json",
        title="Prazium API - ReDoc",
        redoc_js_url=f"{VENDOR}/redoc.standalone.js",
        redoc_favicon_url="/static/favicon.svg",
        with_google_fonts=False,
    )
    return _secured(page, DOCS_CSP)


def install(app: FastAPI) -> None:
    """Serve the dashboard and the docs from app (create the app with docs_url=None)."""
    app.include_router(router)

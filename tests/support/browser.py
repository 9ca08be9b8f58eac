"""Debian's headless Chromium driven by Playwright (never a browser Playwright
downloads), with everything but the API's loopback address refused, axe-core
loaded into every page, and screenshots kept under .dev/test-artifacts/web; those
the documentation shows are written to docs/images as well, and no screenshot is
taken of a page that shows an error."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".dev" / "web-test" / "axe.min.js"  # scripts/web-assets.sh puts it there
ARTIFACTS = Path(os.environ.get("PRAZIUM_TEST_ARTIFACTS", ROOT / ".dev" / "test-artifacts")) / "web"
# The documentation's screenshots (README.md and docs/ show them): taken by the browser
# tests, so they show the dashboard as it is now.
DOCS_IMAGES = ROOT / "docs" / "images"
# Where the dashboard reports an error: the page-wide notice in its error style
# (dom.js notify(..., "error")), and a task panel whose log could not be read (run.js).
ERROR_NOTICE = "#notice.error"
LOG_STATE = "#task-log-state"
LOG_ERRORS = ("No log", "Log unavailable")
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 375, "height": 812}  # a small phone (iPhone SE/mini widths)


def chromium_path() -> str:
    found = os.environ.get("PRAZIUM_TEST_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise RuntimeError("the browser tests need Debian's chromium (make setup installs it)")
    return found


@dataclass
class Offline:
    """Requests to anything but the API's host:port, aborted and remembered."""

    allowed: str
    refused: list[str] = field(default_factory=list)

    def __call__(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc in ("", self.allowed) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.refused.append(url)
            route.abort("internetdisconnected")


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def context(
    browser: Browser, base: str, viewport: dict[str, int] = LAPTOP
) -> Iterator[tuple[BrowserContext, Offline]]:
    offline = Offline(urlsplit(base).netloc)
    ctx = browser.new_context(base_url=base, viewport=viewport, accept_downloads=True)
    ctx.route("**/*", offline)
    # An init script is not subject to the page's Content-Security-Policy.
    ctx.add_init_script(path=str(AXE))
    ctx.set_default_timeout(30_000)
    try:
        yield ctx, offline
    finally:
        ctx.close()


def error_banners(page: Page) -> list[str]:
    """The errors the page shows now (empty for a healthy page)."""
    shown = [
        text.strip()
        for text in page.locator(ERROR_NOTICE).all_inner_texts()
        if page.locator(ERROR_NOTICE).is_visible()
    ]
    log_state = page.locator(LOG_STATE)
    if log_state.count() and log_state.first.is_visible():
        state = log_state.first.inner_text().strip()
        if state.startswith(LOG_ERRORS):
            shown.append(state)
    return shown


def screenshot(
    page: Page, name: str, docs_name: str | None = None, allow_errors: bool = False
) -> Path:
    """A full-page screenshot in ARTIFACTS, and in DOCS_IMAGES as docs_name.png when the
    documentation shows it. A page that shows an error is not photographed as if it
    were healthy: the test fails (allow_errors: a failure's own screenshot)."""
    if not allow_errors:
        errors = error_banners(page)
        assert errors == [], f"{name}: the page shows an error: {errors}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if docs_name:
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMAGES / f"{docs_name}.png")
    return path


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now."""
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def no_horizontal_overflow(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def in_view(locator: Locator) -> bool:
    """Whether the element's box lies wholly inside the viewport as it is scrolled now:
    on screen, nothing of it cut off to any side."""
    return bool(
        locator.evaluate(
            "e => { const r = e.getBoundingClientRect();"
            " return r.width > 0 && r.height > 0 && r.left >= -1 && r.top >= -1"
            " && r.right <= window.innerWidth + 1 && r.bottom <= window.innerHeight + 1; }"
        )
    )

"""The web dashboard in a real browser (Debian's Chromium, headless) against the
real API and operator: sign in, create a project, answer, approve, start a run,
watch the graph's nodes turn succeeded without a reload - through an API restart
that drops the event stream, resumed with Last-Event-ID - with each event's time
and each task's duration; open a task's panel at its own URL, its log as lines
(raw JSON behind a toggle), a generated file in the tree of the run's commit;
download the export, find it and the preview again after a reload; a phone's
width; the archived filter and unarchive; previews listed, stopped and expired;
see the admin stats, sign out; and what a page asks of the shell (redraw, an
error, signing out on a 401). Nothing but the API's address is reachable from the
browser; axe-core finds no serious or critical violation on any page; screenshots
of each page land in .dev/test-artifacts/web (those the documentation shows in
docs/images), none of a page that shows an error."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, Route, expect
from websockets.sync.client import connect as ws_connect

from tests.support import apistate, browser
from tests.support.services import ServiceProcess, Stack, start_api

pytestmark = pytest.mark.integration

DESCRIPTION = (
    "A todo list for small teams: users sign in, see live updates, get email"
    " notifications and connect Slack integrations."
)
RUN_TIMEOUT_MS = 420_000  # the template agent's whole build on a loaded machine
# Clarifying and writing the spec wait for the operator: generous on a loaded machine.
expect.set_options(timeout=60_000)


def _accessible(page: Page, what: str) -> None:
    violations = browser.serious_violations(page)
    assert violations == [], f"{what}: {violations}"


def _until_shown(page: Page, button: str, shown: Locator, tries: int = 4) -> None:
    """Click button until shown appears: on a loaded machine the API may answer that
    the operator is late (the page then shows that message and the button again)."""
    for attempt in range(tries):
        page.get_by_role("button", name=button).click()
        try:
            expect(shown).to_be_visible(timeout=90_000)
            return
        except AssertionError:
            if attempt == tries - 1:
                raise
            expect(page.get_by_role("button", name=button)).to_be_enabled()


def _shot(page: Page, name: str, docs_name: str | None = None) -> None:
    _accessible(page, name)
    browser.screenshot(page, name, docs_name)


def _seconds(text: str) -> float:
    """A duration as the dashboard writes it ("0.17 s", "4.2 s", "38 s") in seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?) s", text.strip())
    assert match, f"not a duration in seconds: {text!r}"
    return float(match.group(1))


# One browser session through the whole flow, a template build included: longer than
# pytest-timeout's default on a loaded machine.
@pytest.mark.timeout(1200)
def test_dashboard_end_to_end(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
    operator: ServiceProcess,
    make_key: Callable[..., str],
) -> None:
    key = make_key(namespace, "enterprise")
    admin_key = make_key(namespace, "enterprise", admin=True)
    logs = tmp_path / "logs"
    api, base = start_api(stack, data_dir, logs)
    port = int(base.rsplit(":", 1)[1])
    try:
        with browser.chromium() as chromium, browser.context(chromium, base) as (ctx, offline):
            page = ctx.new_page()
            csp_errors: list[str] = []
            page_errors: list[str] = []
            page.on(
                "console",
                lambda m: (
                    csp_errors.append(m.text) if "Content Security Policy" in m.text else None
                ),
            )
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            try:
                # Sign in: the key becomes an HttpOnly cookie; nothing lands in storage.
                page.goto("/")
                expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
                _shot(page, "01-sign-in")
                page.get_by_label("API key").fill(key)
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
                cookies = {c["name"]: c for c in ctx.cookies()}
                assert cookies["prazium_session"]["httpOnly"] is True
                stored = page.evaluate("JSON.stringify([localStorage, sessionStorage])")
                assert key not in stored and key not in page.content()
                assert page.locator("#nav-stats").is_hidden()  # not an admin key

                # Create a project from the list page.
                page.get_by_label("Name").fill("Team Todo")
                page.get_by_label("Describe the app").fill(DESCRIPTION)
                page.get_by_role("button", name="Create project").click()
                expect(page.get_by_role("heading", name="Team Todo")).to_be_visible()
                # All four question types as form controls.
                form = page.locator("#questions")
                _until_shown(page, "Get clarifying questions", form)
                for kind in ("single_choice", "multi_choice", "boolean", "text"):
                    expect(form.locator(f".question[data-type={kind}]").first).to_be_visible()
                form.locator(".question[data-type=multi_choice] input[type=checkbox]").first.check()
                form.locator(".question[data-type=text] textarea").first.fill("Slack")
                count = form.locator(".question").count()
                expect(page.locator("#questions-count")).to_have_text(
                    f"{count} {'question' if count == 1 else 'questions'} before the spec is"
                    " written."
                )
                _shot(page, "02-questions", "dashboard-questions")
                # The four documents as Markdown, with the version; regenerate; approve.
                _until_shown(page, "Submit answers", page.locator("#spec-version"))
                expect(page.locator("#spec-version")).to_have_text("Spec version 1")
                tabs = page.get_by_role("tab")
                expect(tabs).to_have_count(4)
                expect(page.locator("#doc-view h1").first).to_be_visible()
                # Keyboard: the tabs move with the arrows. The page redraws when the
                # project's status moves on (the spec settling), which resets the tabs,
                # so a press that lands just before a redraw is tried again.
                for attempt in range(3):
                    tabs.nth(1).focus()
                    page.keyboard.press("ArrowRight")
                    try:
                        expect(tabs.nth(2)).to_have_attribute(
                            "aria-selected", "true", timeout=10_000
                        )
                        break
                    except AssertionError:
                        if attempt == 2:
                            raise
                _shot(page, "03-spec", "dashboard-spec")
                page.get_by_label("Feedback for a new version").fill("Mention due dates.")
                _until_shown(
                    page,
                    "Regenerate spec",
                    page.locator("#spec-version:not(:text-is('Spec version 1'))"),
                )
                page.get_by_role("button", name="Approve spec").click()
                expect(page.get_by_role("button", name="Start a run")).to_be_visible()

                # Start a run; the page is never reloaded from here on (the marker stays).
                page.get_by_role("button", name="Start a run").click()
                expect(page.get_by_role("heading", name="Run #1")).to_be_visible()
                page.evaluate("window.__sameDocument = true")
                expect(page.locator("#stream-state")).to_have_text("live", timeout=30_000)
                nodes = page.locator("#graph g.node")
                expect(nodes.first).to_be_visible(timeout=120_000)
                total = nodes.count()
                assert total >= 2
                expect(page.locator("#merge-order li")).to_have_count(total)

                # Drop the stream: restart the API on the same port once a task runs.
                expect(page.locator("#timeline .ev-TASK_STARTED").first).to_be_attached(
                    timeout=120_000
                )
                # A redraw asked for around a restart may get no answer at all: the
                # browser's next request for the run fails as if the API were down, and
                # the page must catch up without showing that blip as an error.
                refused: list[str] = []

                def refuse_once(route: Route) -> None:
                    if refused:
                        route.continue_()
                    else:
                        refused.append(route.request.url)
                        route.abort("connectionrefused")

                run_url = re.compile(r"/v1/projects/[^/]+/runs/[^/?]+$")
                page.route(run_url, refuse_once)
                api.stop()
                api, _ = start_api(stack, data_dir, logs, port=port)

                expect(page.locator('#graph g.node[data-phase="succeeded"]')).to_have_count(
                    total, timeout=RUN_TIMEOUT_MS
                )
                expect(page.locator("#run-status")).to_have_text("succeeded", timeout=60_000)
                assert len(refused) == 1  # the refused redraw was tried again, and drew
                page.unroute(run_url, refuse_once)
                # The run's last journal event is written after its final status: compare
                # the timeline with the journal once that event is shown.
                expect(page.locator("#timeline .ev-RUN_COMPLETED")).to_be_attached(timeout=60_000)
                assert page.evaluate("window.__sameDocument") is True
                project_id, run_id = page.url.split("#/projects/")[1].split("/runs/")
                with httpx.Client(
                    base_url=f"{base}/v1", headers={"Authorization": f"Bearer {key}"}
                ) as http:
                    journal = http.get(
                        f"/projects/{project_id}/runs/{run_id}/events", params={"limit": 1000}
                    ).json()["data"]
                shown = page.locator("#timeline li").evaluate_all(
                    "items => items.map(i => i.dataset.eventId)"
                )
                # Resumed after the drop: every event once, in order, none lost.
                assert shown == [e["id"] for e in journal]
                # Each event with its time, the journal's.
                times = page.locator("#timeline li time").evaluate_all(
                    "items => items.map(t => t.getAttribute('datetime'))"
                )
                assert times == [e["createdAt"] for e in journal]
                expect(page.locator("#verification")).to_contain_text("passed")
                # Each node says how long its task took: the attempt as its worker
                # measured it (TASK_COMPLETED's durationSeconds).
                measured = {
                    e["taskId"]: e["payload"]["durationSeconds"]
                    for e in journal
                    if e["eventType"] == "TASK_COMPLETED"
                }
                assert len(measured) == total
                for task_id, worker_seconds in measured.items():
                    node = page.locator(f'#graph g.node[data-task-id="{task_id}"]')
                    shown_duration = node.get_attribute("data-duration") or ""
                    # Shown to 0.01 s below 1 s, 0.1 s below 10 s, whole seconds above.
                    tolerance = 0.51 if worker_seconds >= 9.95 else 0.051
                    assert abs(_seconds(shown_duration) - worker_seconds) <= tolerance, (
                        task_id,
                        shown_duration,
                        worker_seconds,
                    )
                    expect(node.locator(".node-phase")).to_have_text(
                        f"succeeded · {shown_duration}"
                    )
                expect(page.locator("#run-spec-version")).to_have_text("spec version 2")
                _shot(page, "04-run")

                # A task's panel by keyboard, at its own URL, with its log and its files.
                first_task = nodes.first.get_attribute("data-task-id")
                node_duration = nodes.first.get_attribute("data-duration")
                nodes.first.focus()
                page.keyboard.press("Enter")
                panel = page.locator("#task-panel")
                expect(panel).to_be_visible()
                expect(page).to_have_url(
                    re.compile(f"#/projects/{project_id}/runs/{run_id}/tasks/{first_task}$")
                )
                expect(panel.locator("#task-status")).to_have_text("succeeded")
                expect(panel).to_contain_text("feat/")
                # One source for the duration: the node's, and the log's last line.
                expect(panel.locator("#task-duration")).to_have_text(node_duration or "")
                commit = panel.locator("#task-commit")
                assert len(commit.inner_text()) == 12
                assert len(commit.get_attribute("title") or "") == 40
                log = panel.locator("#task-log")
                expect(log.locator("li").first).to_be_visible(timeout=30_000)
                # time · level · message, the raw JSON behind the toggle.
                expect(log.locator("li").first).to_have_text(
                    re.compile(r"^\d\d:\d\d:\d\d\.\d{3} · INFO · task ")
                )
                expect(log).to_contain_text(f"succeeded · took {node_duration}")
                raw = panel.locator("#task-log-raw")
                expect(raw).to_be_hidden()
                panel.get_by_role("button", name="Show raw JSON").click()
                expect(raw).to_be_visible()
                expect(log).to_be_hidden()
                first_line = raw.inner_text().splitlines()[0]
                assert json.loads(first_line)["level"] == "INFO"
                _shot(page, "05b-task-log-raw")
                panel.get_by_role("button", name="Show as lines").click()
                expect(log).to_be_visible()
                _shot(page, "05-task-panel", "dashboard-run")
                # The panel's URL opens it: after a reload, and closed with the URL.
                page.reload()
                expect(panel).to_be_visible()
                expect(page.locator("#task-title")).to_be_visible()
                expect(panel.locator("#task-status")).to_have_text("succeeded")
                panel.get_by_role("link", name="Close the task panel").click()
                expect(panel).to_be_hidden()
                expect(page).to_have_url(re.compile(f"/runs/{run_id}$"))
                page.go_back()
                expect(panel).to_be_visible()

                # A file from the panel: the whole tree at the run's merged commit,
                # the run kept in the breadcrumb.
                with httpx.Client(
                    base_url=f"{base}/v1", headers={"Authorization": f"Bearer {key}"}
                ) as http:
                    run_detail = http.get(f"/projects/{project_id}/runs/{run_id}").json()["data"]
                merged = run_detail["mergedCommit"]
                first_file = panel.locator(
                    "#files-created a", has_text=re.compile(r"[a-z]\.py$")
                ).first
                file_name = first_file.inner_text()
                first_file.click()
                viewer = page.locator("#file-content")
                expect(viewer).to_be_visible()
                expect(page.locator("#viewer-title")).to_have_text(file_name)
                assert viewer.inner_text().strip()
                expect(viewer.locator("span[class^=hljs-]").first).to_be_attached()
                expect(page.locator("#files-crumbs")).to_contain_text("Run #1")
                files_commit = page.locator("#files-commit")
                expect(files_commit).to_have_text(merged[:12])
                expect(files_commit).to_have_attribute("title", merged)
                # The root of the merged tree: every task's files, not the first's only.
                page.locator(".tree-path a", has_text="/").first.click()
                expect(page.locator("#tree")).to_contain_text("README.md")
                expect(page.locator("#tree")).to_contain_text("tests/")
                expect(page.locator("#viewer-title")).to_have_text(file_name)  # still open
                page.locator("#tree").get_by_role("link", name="tests/").click()
                expect(page.locator("#tree")).to_contain_text("test_smoke.py")
                expect(page.locator("#viewer-title")).to_have_text(file_name)  # still open
                expect(page.locator("#files-crumbs")).to_contain_text("Run #1")
                _shot(page, "06-file", "dashboard-files")
                page.get_by_role("link", name="Run #1").click()

                # Export and download; deploy a preview (no kubelet here: it stays
                # "deploying"); after a reload both are still shown.
                expect(page.get_by_role("button", name="Export")).to_be_visible()
                page.get_by_role("button", name="Export").click()
                download_link = page.locator("#download")
                expect(download_link).to_be_visible(timeout=120_000)
                with page.expect_download() as info:
                    download_link.click()
                archive = info.value
                assert archive.suggested_filename == "team-todo-run-1.zip"
                saved = tmp_path / archive.suggested_filename
                archive.save_as(saved)
                with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as unpacked:
                    assert "team-todo-run-1/README.md" in unpacked.namelist()
                page.get_by_role("button", name="Deploy a preview").click()
                previews = page.locator("#previews-table tbody tr")
                expect(previews).to_have_count(1)
                expect(previews.first).to_have_attribute("data-status", "deploying")
                page.reload()
                expect(page.locator("#export-list li a.download")).to_have_count(1)
                expect(page.locator("#export-list")).to_contain_text("Download zip")
                expect(previews).to_have_count(1)
                expect(previews.first).to_contain_text("deploying")

                # The files tree at the run's commit.
                page.get_by_role("link", name="Browse files at this run's commit").click()
                expect(page.locator("#tree")).to_contain_text("README.md")
                page.locator("#tree").get_by_role("link", name="README.md").click()
                expect(page.locator("#file-content")).to_contain_text("python -m app")

                # The project page: each run's duration, the previews with their run.
                page.goto(f"/#/projects/{project_id}")
                run_row = page.locator(f'#runs-table tr[data-run-id="{run_id}"]')
                expect(run_row.locator(".run-duration")).to_have_text(re.compile(r"^\d"))
                expect(page.locator("#previews-table tbody tr")).to_have_count(1)
                expect(page.locator("#previews-table")).to_contain_text("Run #1")
                expect(page.locator("#spec-version")).to_have_text("Spec version 2")

                # The projects list: search, filter, archive.
                page.goto("/#/projects")
                page.get_by_label("Search").fill("no such project")
                page.get_by_role("button", name="Filter").click()
                expect(page.locator("#project-list")).to_contain_text("No projects match")
                page.get_by_label("Search").fill("Team")
                page.get_by_role("button", name="Filter").click()
                expect(page.locator("#project-list tbody tr")).to_have_count(1)
                expect(page.locator("#project-count")).to_have_text("Page 1 of 1 (1 project)")
                _shot(page, "07-projects", "dashboard-projects")

                # On a phone: the run page and the projects list fit the width, the
                # projects' actions and the task panel stay on screen.
                phone = chromium.new_context(
                    base_url=base, viewport=browser.PHONE, storage_state=ctx.storage_state()
                )
                phone.route("**/*", browser.Offline(offline.allowed))
                phone.add_init_script(path=str(browser.AXE))
                small = phone.new_page()
                small.goto(f"/#/projects/{project_id}/runs/{run_id}")
                expect(small.locator('#graph g.node[data-phase="succeeded"]')).to_have_count(total)
                assert browser.no_horizontal_overflow(small)
                _shot(small, "08-run-phone")
                small.locator("#graph g.node").last.click()
                small_panel = small.locator("#task-panel")
                expect(small_panel.locator("#task-status")).to_have_text("succeeded")
                assert browser.in_view(small_panel), small_panel.bounding_box()
                assert browser.in_view(small.get_by_role("link", name="Close the task panel"))
                assert browser.no_horizontal_overflow(small)
                _shot(small, "08b-task-panel-phone")
                small.goto("/#/projects")
                archive_button = small.get_by_role("button", name="Archive Team Todo")
                expect(archive_button).to_be_visible()
                archive_button.scroll_into_view_if_needed()
                assert browser.in_view(archive_button), archive_button.bounding_box()
                assert browser.no_horizontal_overflow(small)
                _shot(small, "08c-projects-phone")
                phone.close()

                # Sign out: the session is gone.
                page.get_by_role("button", name="Sign out").click()
                expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
                me = page.evaluate("fetch('/v1/auth/me').then(r => r.status)")
                assert me == 401

                # An admin key sees the stats page.
                page.get_by_label("API key").fill(admin_key)
                page.get_by_role("button", name="Sign in").click()
                page.get_by_role("link", name="Stats").click()
                expect(page.get_by_role("heading", name="System statistics")).to_be_visible()
                expect(page.locator("[data-stat='projects.total']")).not_to_be_empty()
                _shot(page, "09-stats")

                # The API docs render from the API's own assets.
                page.goto("/v1/docs")
                expect(page.locator(".swagger-ui .info .title")).to_contain_text("Prazium API")
                page.goto("/v1/redoc")
                expect(page.locator("redoc h1, [role=main] h1").first).to_contain_text(
                    "Prazium API", timeout=30_000
                )
                assert offline.refused == [], offline.refused
                # ReDoc's bundle points its "API docs by Redocly" badge at its CDN: the
                # page's policy blocks it, so the browser never asks for it (harmless).
                blocked = [e for e in csp_errors if "cdn.redoc.ly/redoc/logo-mini.svg" not in e]
                assert blocked == [], blocked
                assert page_errors == [], page_errors
            except Exception:
                browser.screenshot(page, "failure", allow_errors=True)
                raise
            finally:
                browser.ARTIFACTS.mkdir(parents=True, exist_ok=True)
                (browser.ARTIFACTS / "page-errors.txt").write_text("\n".join(page_errors))

    finally:
        api.stop()


def test_pages_redraw_report_errors_and_sign_out_through_the_shell(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
    operator: ServiceProcess,
    make_key: Callable[..., str],
) -> None:
    """What a page asks of the shell: redraw keeping the notice (after an archive),
    show the API's error (a refused create), and the sign-in page once the session
    is gone (a 401 answered to a page's write)."""
    key = make_key(namespace, "enterprise")
    api, base = start_api(stack, data_dir, tmp_path / "logs")
    try:
        with httpx.Client(
            base_url=f"{base}/v1", headers={"Authorization": f"Bearer {key}"}
        ) as rest:
            for name in ("Old Notes", "Kept Notes"):
                created = rest.post("/projects", json={"name": name, "description": DESCRIPTION})
                assert created.status_code == 201, created.text
        with browser.chromium() as chromium, browser.context(chromium, base) as (ctx, _):
            page = ctx.new_page()
            page_errors: list[str] = []
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.goto("/")
            page.get_by_label("API key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
            notice = page.locator("#notice")

            # Archive: the list is drawn again (no Archive button for it any more) and
            # the notice that says so stays.
            page.on("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Archive Old Notes").click()
            expect(page.get_by_role("button", name="Archive Old Notes")).to_have_count(0)
            expect(page.get_by_role("button", name="Archive Kept Notes")).to_be_visible()
            expect(notice).to_have_text("Archived Old Notes.")
            # The default list leaves archived projects out; "archived projects" shows
            # them, with Unarchive, which gives the project its phase back.
            expect(page.locator("#project-list")).not_to_contain_text("Old Notes")
            page.get_by_label("Show").select_option("archived")
            expect(page).to_have_url(re.compile(r"show=archived"))
            expect(page.locator("#project-list tbody tr")).to_have_count(1)
            expect(page.locator("#project-list")).to_contain_text("Old Notes")
            _shot(page, "10-archived")
            page.get_by_role("button", name="Unarchive Old Notes").click()
            # (The operator may have written its questions meanwhile: draft or clarifying.)
            expect(notice).to_have_text(
                re.compile(r"^Unarchived Old Notes \((draft|clarifying)\)\.$")
            )
            expect(page.locator("#project-list")).to_contain_text("No archived projects match")
            page.get_by_label("Show").select_option("active")
            expect(page.get_by_role("button", name="Archive Old Notes")).to_be_visible()
            page.get_by_label("Show").select_option("all")
            expect(page.locator("#project-list tbody tr")).to_have_count(2)

            # A refused write: the API's code and message in the notice, still signed in.
            page.get_by_label("Name").fill("Short")
            page.get_by_label("Describe the app").fill("short")
            page.get_by_role("button", name="Create project").click()
            expect(notice).to_contain_text("VALIDATION_ERROR: ")
            expect(page.locator("#nav")).to_be_visible()

            # The session ends under the page: its next write gets 401 and the shell
            # signs out.
            ctx.clear_cookies()
            page.get_by_role("button", name="Archive Kept Notes").click()
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            expect(page.locator("#nav")).to_be_hidden()
            assert page_errors == [], page_errors
    finally:
        api.stop()


def test_cookie_writes_need_the_csrf_token(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path, make_key: Callable[..., str]
) -> None:
    """A page of another origin cannot write with the session cookie: the browser
    sends the cookie, the API wants the token only the dashboard can read."""
    key = make_key(namespace, "enterprise")
    api, base = start_api(stack, data_dir, tmp_path / "logs")
    try:
        with browser.chromium() as chromium, browser.context(chromium, base) as (ctx, _):
            page = ctx.new_page()
            page.goto("/")
            page.get_by_label("API key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
            status = page.evaluate(
                "fetch('/v1/projects', {method: 'POST', headers: {'Content-Type':"
                " 'application/json'}, body: JSON.stringify({name: 'x', description:"
                " 'A plain todo app.'})}).then(r => r.status)"
            )
            assert status == 403
        # The WebSocket handshake of another origin does not ride on the cookie.
        with httpx.Client(base_url=f"{base}/v1") as web:
            assert web.post("/auth/login", json={"apiKey": key}).status_code == 200
            cookie = f"prazium_session={web.cookies['prazium_session']}"
        url = base.replace("http://", "ws://") + "/v1/ws"
        for origin, authenticated in (("http://evil.example", False), (base, True)):
            headers = {"Cookie": cookie, "Origin": origin}
            with ws_connect(url, additional_headers=headers, open_timeout=10) as ws:
                ws.send(json.dumps({"type": "subscribe", "channel": "run:run_nosuch"}))
                reply = json.loads(ws.recv(timeout=10))
                refused = reply.get("error", {}).get("code") == "UNAUTHORIZED"
                assert refused is not authenticated, (origin, reply)
    finally:
        api.stop()


def test_previews_are_listed_stopped_and_expire_on_the_run_and_project_pages(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
    make_key: Callable[..., str],
) -> None:
    """A built run's preview from the run page: deployed once however often the
    button is pressed, listed with its age and expiry, stopped, deployed afresh, and
    seen to expire (the pages poll) on the run page and the project page. No kubelet
    here: previews stay "deploying" (test_previews_node.py runs them for real)."""
    key = make_key(namespace, "enterprise")
    apistate.create_project(namespace, "notes", "Notes")
    files = {"README.md": b"# Notes\n", "app/__main__.py": b"print('notes')\n"}
    _, sha = apistate.make_repo(data_dir, namespace, "notes", files, tmp_path)
    for number in (1, 2):
        apistate.create_run(
            namespace,
            "notes",
            f"notes-r{number}",
            {"runNumber": number, "phase": "succeeded", "mergedCommit": sha},
        )
    api, base = start_api(
        stack,
        data_dir,
        tmp_path / "logs",
        PRAZIUM_DEPLOY_TTL_SECONDS="45",
        PRAZIUM_DEPLOY_SWEEP_INTERVAL_SECONDS="1",
    )
    try:
        with browser.chromium() as chromium, browser.context(chromium, base) as (ctx, _):
            page = ctx.new_page()
            page_errors: list[str] = []
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.on("dialog", lambda dialog: dialog.accept())
            page.goto("/")
            page.get_by_label("API key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()

            page.goto("/#/projects/proj_notes/runs/run_notes-r1")
            expect(page.locator("#previews")).to_contain_text("This run has no preview.")
            deploy = page.get_by_role("button", name="Deploy a preview")
            deploy.click()
            rows = page.locator("#previews-table tbody tr")
            expect(rows).to_have_count(1)
            first = rows.first.get_attribute("data-deployment-id")
            expect(rows.first).to_contain_text("deploying")
            expect(rows.first.locator("td[data-label=Age] time")).to_be_visible()
            expect(rows.first.locator("td[data-label=Expires]")).to_contain_text("in ")
            # Again: the same preview, not a second one.
            deploy.click()
            expect(page.locator("#deploy-result")).to_have_text(
                f"This run's preview is {first} (deploying)."
            )
            expect(rows).to_have_count(1)
            _shot(page, "11-previews")

            # Stop it; a new one replaces it on the next deploy.
            page.get_by_role("button", name=f"Stop preview {first}").click()
            stopped = page.locator(f'tr[data-deployment-id="{first}"]')
            expect(stopped).to_have_attribute("data-status", "stopped")
            expect(stopped).to_contain_text("stopped by request")
            expect(page.get_by_role("button", name=f"Stop preview {first}")).to_have_count(0)
            deploy.click()
            expect(rows).to_have_count(2)
            second = rows.first.get_attribute("data-deployment-id")
            assert second != first
            # The other run's preview, for the project page's list.
            with httpx.Client(
                base_url=f"{base}/v1", headers={"Authorization": f"Bearer {key}"}
            ) as http:
                other = http.post(
                    "/projects/proj_notes/deploy",
                    json={"runId": "run_notes-r2", "provider": "kubernetes"},
                )
                assert other.status_code == 202, other.text

            page.goto("/#/projects/proj_notes")
            listed = page.locator("#previews-table tbody tr")
            expect(listed).to_have_count(3)
            expect(page.locator("#previews-table")).to_contain_text("Run #2")
            expect(page.locator("#previews-table")).to_contain_text("Run #1")
            _shot(page, "12-project-previews")

            # Expiry: the page polls and shows it, without a reload.
            page.goto("/#/projects/proj_notes/runs/run_notes-r1")
            expired = page.locator(f'tr[data-deployment-id="{second}"]')
            expect(expired).to_have_attribute("data-status", "stopped", timeout=120_000)
            expect(expired).to_contain_text("expired after 45 s")
            assert page_errors == [], page_errors
    finally:
        api.stop()

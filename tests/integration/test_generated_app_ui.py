"""A generated app's web interface in a real browser (Debian's Chromium, headless).

The template agent builds an app from a corpus description (every task of its
plan, questions answered with their defaults); the app starts on loopback with
its own ``./run.sh serve``; Playwright then works the page as a person would:
create a parent record, create a child picking that parent, see the app's
validation error beside the field it names, edit, fill a form whose inputs
follow the data model (dates, amounts, yes/no, a parent picker) and see the
app's money rule beside the amount, be refused deleting a parent that still
has children, delete. Nothing but the app's address is reachable from
the browser, no script error happens, axe-core finds no serious or critical
violation, and on a phone-sized screen nothing runs off the side.

It needs no Kubernetes or database (only Chromium, Playwright and
scripts/web-assets.sh's axe-core), so it also runs alone:
``.venv/bin/python -m pytest tests/integration/test_generated_app_ui.py``.
"""

from __future__ import annotations

import os
import re
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Route, expect

from prazium_appgen import Entity, Field, TemplateCoder, TemplatePlanner, parse_data_md
from prazium_kit.plan import topological_order
from tests.support import appui, browser
from tests.support.services import ROOT, ServiceProcess, free_port, wait_for

CORPUS = ROOT / "appgen" / "tests" / "corpus.yaml"
CASE = "Paws Clinic"  # owners, their pets and visits: a parent, a child, a grandchild
expect.set_options(timeout=20_000)


def corpus_description(name: str) -> str:
    cases = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    return str(next(case["description"] for case in cases if case["name"] == name))


def build(root: Path, name: str, description: str) -> dict[str, str]:
    """Every task of the template agent's plan, coded into ``root``; the documents."""
    planner, coder = TemplatePlanner(), TemplateCoder()
    documents = planner.write_spec(name, description, {}, None, 1)
    plan = planner.decompose(name, documents)
    tasks = {task["id"]: task for task in plan["tasks"]}
    assert "web-ui" in {task["slug"] for task in plan["tasks"]}
    for task_id in topological_order(plan["tasks"]):
        coder.code(tasks[task_id], documents, root)
    return documents


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Entity]]]:
    root = tmp_path_factory.mktemp("app")
    documents = build(root, CASE, corpus_description(CASE))
    port = free_port()
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "APP_HOST": "127.0.0.1",
        "APP_PORT": str(port),
        "APP_DATABASE": str(root / "app.sqlite3"),
    }
    server = ServiceProcess("app", [str(root / "run.sh"), "serve"], env, root / "app.log")
    server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base + "/health"), 30, "the generated app", server)
        yield base, parse_data_md(documents["DATA.md"])
    finally:
        server.stop()


def parent_and_child(entities: list[Entity]) -> tuple[Entity, Entity, Field]:
    """A record type with a required reference, the type it refers to, and the field."""
    by_name = {entity.name: entity for entity in entities}
    for entity in entities:
        for field in entity.references:
            if field.required and field.references in by_name:
                return by_name[field.references], entity, field
    raise AssertionError(f"no required reference in {[e.name for e in entities]}")


def referring_to(entities: list[Entity], parent: Entity) -> tuple[Entity, Field]:
    """A record type that refers to ``parent``, and its reference field."""
    for entity in entities:
        for field in entity.references:
            if field.references == parent.name:
                return entity, field
    raise AssertionError(f"nothing refers to {parent.name}")


@pytest.mark.timeout(300)
def test_a_person_manages_records_in_the_generated_apps_web_interface(
    app: tuple[str, list[Entity]],
) -> None:
    base, entities = app
    parent, child, reference = parent_and_child(entities)
    parent_title = "Ada Lovelace"
    child_title = "Rex"
    with browser.chromium() as chromium, browser.context(chromium, base) as (ctx, offline):
        page = ctx.new_page()
        errors = appui.script_errors(page)
        page.on("dialog", lambda dialog: dialog.accept())

        # The home page names the app and links every record type.
        page.goto("/")
        nav = appui.record_types(page)
        for entity in entities:
            expect(nav.get_by_role("link", name=entity.plural_label, exact=False)).to_be_visible()
        expect(page.get_by_role("heading", level=1)).to_have_text(CASE)
        assert browser.serious_violations(page) == []
        browser.screenshot(page, "generated-app-home")

        # A parent record.
        appui.open_list(page, parent)
        expect(page.get_by_text(f"No {parent.plural_label} yet.")).to_be_visible()
        appui.create_record(page, parent, parent_title)

        # A child record: the app's own validation error shows beside the field it names.
        appui.open_list(page, child)
        page.get_by_role("link", name=f"New {child.label}").click()
        picker = page.get_by_label(appui.label(reference))
        expect(picker.locator("option", has_text=parent_title)).to_have_count(1)
        appui.fill(page, child, {}, skip=("name",))
        page.get_by_role("button", name=f"Create {child.label}").click()
        name_error = page.locator("#field-name-error")
        expect(name_error).to_have_text("required")
        expect(page.locator("#field-name")).to_have_attribute("aria-invalid", "true")
        reference_error = page.locator(f"#field-{reference.name}-error")
        expect(reference_error).to_have_text("required")
        assert browser.serious_violations(page) == []
        browser.screenshot(page, "generated-app-validation")
        page.locator("#field-name").fill(child_title)
        picker.select_option(label=parent_title)
        page.get_by_role("button", name=f"Create {child.label}").click()
        expect(page.locator("#notice")).to_contain_text(f"“{child_title}” created")
        row = page.get_by_role("row").filter(has_text=child_title)
        expect(row).to_contain_text(parent_title)  # the reference shown by its name

        # Edit the child.
        page.get_by_role("link", name=f"Edit {child_title}").click()
        expect(page.get_by_label("Name")).to_have_value(child_title)
        expect(picker).to_have_value(re.compile(r"^\d+$"))
        page.get_by_label("Name").fill(f"{child_title} the Second")
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator("#notice")).to_contain_text(f"“{child_title} the Second” saved")
        renamed = page.get_by_role("link", name=f"{child_title} the Second", exact=True)
        expect(renamed).to_be_visible()

        # A record of the child, in inputs typed from the data model; the app's money rule
        # (whole cents) shows beside the amount.
        visit, visit_ref = referring_to(entities, child)
        amount = next(f for f in visit.fields if f.format == "money")
        appui.open_list(page, visit)
        page.get_by_role("link", name=f"New {visit.label}").click()
        kinds = {
            "date": "date",
            "datetime": "datetime-local",
            "money": "number",
        }
        for field in visit.fields:
            control = page.locator(f"#field-{field.name}")
            if field.references:
                expect(control).to_have_js_property("tagName", "SELECT")
            elif field.type == "boolean":
                expect(control).to_have_attribute("type", "checkbox")
            elif field.format in kinds:
                expect(control).to_have_attribute("type", kinds[field.format])
        expect(page.locator(f"#field-{amount.name}")).to_have_attribute("step", "0.01")
        appui.fill(page, visit, {amount.name: "12.345"})
        page.get_by_label(appui.label(visit_ref)).select_option(label=f"{child_title} the Second")
        page.get_by_role("button", name=f"Create {visit.label}").click()
        expect(page.locator(f"#field-{amount.name}-error")).to_have_text(
            "must be an amount with at most 2 decimal places"
        )
        browser.screenshot(page, "generated-app-typed-form")
        page.locator(f"#field-{amount.name}").fill("12.5")
        page.get_by_role("button", name=f"Create {visit.label}").click()
        expect(page.locator("#notice")).to_contain_text("created")
        visit_row = page.get_by_role("row").filter(has_text=f"{child_title} the Second")
        expect(visit_row).to_contain_text("12.50")
        visit_row.get_by_role("button", name=re.compile("^Delete")).click()
        expect(page.locator("#notice")).to_contain_text("deleted")

        # The parent cannot go while the child refers to it (restrict), the child can.
        appui.open_list(page, parent)
        page.get_by_role("button", name=f"Delete {parent_title}").click()
        expect(page.get_by_role("alert")).to_contain_text("delete them first")
        expect(page.get_by_role("link", name=parent_title, exact=True)).to_be_visible()
        appui.open_list(page, child)
        page.get_by_role("button", name=f"Delete {child_title} the Second").click()
        expect(page.locator("#notice")).to_contain_text("deleted")
        expect(page.get_by_text(f"No {child.plural_label} yet.")).to_be_visible()

        # On a phone: the list and the form stay within the screen.
        page.set_viewport_size(browser.PHONE)
        appui.open_list(page, parent)
        expect(page.get_by_role("link", name=parent_title, exact=True)).to_be_visible()
        assert browser.no_horizontal_overflow(page)
        browser.screenshot(page, "generated-app-phone-list")
        page.get_by_role("link", name=f"Edit {parent_title}").click()
        expect(page.get_by_role("button", name="Save changes")).to_be_visible()
        assert browser.no_horizontal_overflow(page)
        assert browser.serious_violations(page) == []
        browser.screenshot(page, "generated-app-phone-form")

        assert errors == [], errors
        assert offline.refused == [], offline.refused


@pytest.mark.timeout(180)
def test_a_view_that_answers_late_does_not_replace_the_one_asked_for_after_it(
    app: tuple[str, list[Entity]],
) -> None:
    """A person clicks a record type, then (before its list has loaded) a "New …"
    link still on the page: the form stays when the list's answer comes in late."""
    base, entities = app
    parent, _, _ = parent_and_child(entities)
    held: list[Route] = []
    with browser.chromium() as chromium, browser.context(chromium, base) as (ctx, offline):
        page = ctx.new_page()
        errors = appui.script_errors(page)
        page.goto("/")
        expect(page.get_by_role("heading", level=1)).to_have_text(CASE)

        # The list's read is held back, as on a slow network (the form reads nothing
        # for a record type without references).
        def hold(route: Route) -> None:  # Playwright calls Python functions only
            held.append(route)

        page.route(lambda url: "limit=" in url, hold)
        appui.record_types(page).get_by_role(
            "link", name=re.compile(parent.plural_label, re.I)
        ).click()
        for _ in range(200):
            if held:
                break
            page.wait_for_timeout(50)
        assert held, "the list's read was not made"
        page.get_by_role("link", name=f"New {parent.label}").click()
        create = page.get_by_role("button", name=f"Create {parent.label}")
        expect(create).to_be_visible()

        with page.expect_response(lambda response: "limit=" in response.url) as late:
            held[0].continue_()
        assert late.value.status == 200
        page.wait_for_timeout(500)  # the late answer has been read and dropped
        expect(create).to_be_visible()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            re.compile(f"New {parent.label}", re.I)
        )
        assert errors == [], errors
        assert offline.refused == [], offline.refused

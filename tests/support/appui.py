"""Working a generated app's web interface in a browser page (Playwright), as a person
does: its forms filled by the data model's field types, records created through them,
and every script error the page raises collected. Shared by the browser test of the
app on loopback and the one of a live preview on the node."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from prazium_appgen import Entity, Field


def script_errors(page: Page) -> list[str]:
    """A list that fills with the page's uncaught script errors and console errors
    from now on. A request the app refuses (400, 409) is logged by the browser itself
    as "Failed to load resource": that is the app answering, not a script error."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    return errors


def record_types(page: Page) -> Locator:
    """The app's navigation: a link per record type."""
    return page.get_by_role("navigation", name="Record types")


def open_list(page: Page, entity: Entity) -> None:
    """The list page of ``entity``'s records, through the navigation, once it shows
    (until then the page before it, with its own links, is still there)."""
    record_types(page).get_by_role("link", name=re.compile(entity.plural_label, re.I)).click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(f"^{re.escape(entity.plural_label)}$", re.I))


def label(field: Field) -> str:
    """The form's label for a field, as the app's ui.field_label writes it."""
    words = field.name.split("_")
    if field.references:
        words = words[:-1]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def fill(page: Page, entity: Entity, values: dict[str, str], skip: tuple[str, ...] = ()) -> None:
    """Fill every field of the open form: ``values`` by field name, the others with a
    value of their type (references are picked by the caller)."""
    for field in entity.fields:
        if field.name in skip or field.references:
            continue
        control = page.locator(f"#field-{field.name}")
        value = values.get(field.name)
        if field.choices:
            control.select_option(value or field.choices[0])
        elif field.type == "boolean":
            control.check()
        elif field.format == "date":
            control.fill(value or "2024-05-17")
        elif field.format == "datetime":
            control.fill(value or "2024-05-17T09:30")
        elif field.format == "time":
            control.fill(value or "09:30")
        elif field.format == "email":
            control.fill(value or "someone@example.com")
        elif field.type in ("integer", "number"):
            control.fill(value or "12")
        else:
            control.fill(value or f"Some {field.name.replace('_', ' ')}")


def create_record(page: Page, entity: Entity, title: str) -> None:
    """A record of ``entity`` (without required references) named ``title``, made
    through its form from its list page (open), and seen listed there."""
    page.get_by_role("link", name=f"New {entity.label}").click()
    fill(page, entity, {"name": title})
    page.get_by_role("button", name=f"Create {entity.label}").click()
    expect(page.locator("#notice")).to_contain_text(f"“{title}” created")
    expect(page.get_by_role("link", name=title, exact=True)).to_be_visible()

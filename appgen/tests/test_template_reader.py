"""The template agent reads records, fields and relations from the user's own words."""

from __future__ import annotations

import pathlib

import pytest

from prazium_appgen import (
    Entity,
    Field,
    TemplatePlanner,
    parse_data_md,
    render_data_md,
)
from prazium_appgen.naming import pluralize, singularize
from prazium_appgen.reader import read
from template_apps import build_app, probe_app, run_app_tests


def model(description: str, answers: dict[str, object] | None = None) -> dict[str, Entity]:
    documents = TemplatePlanner().write_spec("App", description, answers or {}, None, 1)
    return {entity.name: entity for entity in parse_data_md(documents["DATA.md"])}


def field_of(entity: Entity, name: str) -> Field:
    return next(field for field in entity.fields if field.name == name)


# ------------------------------------------------------------------------ records


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("Keep track of owners, pets and visits.", ["Owner", "Pet", "Visit"]),
        ("Orders with line items.", ["Order", "LineItem"]),
        ("Log maintenance records and time entries.", ["MaintenanceRecord", "TimeEntry"]),
        ("Visits of pets.", ["Pet", "Visit"]),
        ("Budgets per category, and expenses.", ["Budget", "Category", "Expense"]),
        ("The farmer's fields and harvests.", ["Farmer", "Field", "Harvest"]),
        ("Tickets assigned to agents.", ["Ticket", "Agent"]),
        ("Members propose movies for screenings.", ["Member", "Movie", "Screening"]),
    ],
)
def test_records_come_from_the_descriptions_nouns(description: str, expected: list[str]) -> None:
    assert sorted(read(description).records) == sorted(expected)


def test_unknown_domains_keep_the_users_words() -> None:
    names = list(model("A beekeeper logs inspections of hives across apiaries."))
    assert sorted(names) == ["Apiary", "Hive", "Inspection"]


def test_capability_words_become_features_not_tables() -> None:
    reading = read(
        "Owners and pets, with reminders, notifications, search, reports, a calendar, "
        "CSV export and real-time updates."
    )
    assert reading.records == ["Owner", "Pet"]
    assert {"reminder", "notification", "search", "report", "calendar"} <= set(reading.capabilities)


def test_a_capability_the_text_treats_as_a_record_is_a_table() -> None:
    assert "IncidentReport" in read("Nurses write incident reports about residents.").records
    reading = read("Reminders with a date and a message, for each patient.")
    assert "Reminder" in reading.records


def test_known_records_get_the_vocabularys_default_fields() -> None:
    invoice = model("Freelancers send invoices to clients.")["Invoice"]
    assert {"number", "amount", "due_date"} <= {field.name for field in invoice.fields}
    client = model("Freelancers send invoices to clients.")["Client"]
    assert field_of(client, "name").required


def test_inflect_names_records() -> None:
    assert [singularize(w) for w in ("entries", "people", "statuses", "analyses", "status")] == [
        "entry",
        "person",
        "status",
        "analysis",
        "status",
    ]
    assert pluralize("child") == "children"
    assert [singularize(w) for w in ("menus", "buses", "campus")] == ["menu", "bus", "campus"]
    assert read("Track geese and their children.").records == ["Goose", "Child"]


# ------------------------------------------------------------------------- fields


def test_fields_from_phrases_are_typed() -> None:
    visit = model(
        "Track pets and visits. Visits have a date, a fee, a duration and are marked "
        "paid/unpaid. Rooms have a capacity."
    )["Visit"]
    assert field_of(visit, "date") == Field("date", "string", format="date")
    assert field_of(visit, "fee") == Field("fee", "number", minimum=0)
    assert field_of(visit, "duration_minutes") == Field("duration_minutes", "integer", minimum=0)
    assert field_of(visit, "status").choices == ("paid", "unpaid")


def test_money_quantities_and_texts() -> None:
    entities = model(
        "Restaurants with opening hours and menus. Orders with taxes, tips and a total. "
        "Plants have spacing and a height."
    )
    assert "Menu" in entities
    assert field_of(entities["Restaurant"], "opening_hours") == Field("opening_hours", "string")
    for name in ("tax", "tip", "total"):
        assert field_of(entities["Order"], name) == Field(name, "number", minimum=0)
    assert field_of(entities["Plant"], "spacing") == Field("spacing", "number", minimum=0)


def test_closed_sets_booleans_and_counts() -> None:
    entities = model(
        "Support tickets with priorities (low, medium, high) and statuses such as open, "
        "pending or closed. Loans are marked as returned. Bookings record the number of "
        "guests and check-in/out dates."
    )
    ticket = entities["Ticket"]
    assert field_of(ticket, "priority").choices == ("low", "medium", "high")
    assert field_of(ticket, "status").choices == ("open", "pending", "closed")
    assert field_of(entities["Loan"], "returned").type == "boolean"
    booking = entities["Booking"]
    assert field_of(booking, "guest_count") == Field("guest_count", "integer", minimum=0)
    assert field_of(booking, "check_in_date").format == "date"
    assert field_of(booking, "check_out_date").format == "date"


def test_a_singular_record_given_fields_is_a_record() -> None:
    booking = model("Clients book sitters. A booking has start and end dates and a daily rate.")[
        "Booking"
    ]
    assert field_of(booking, "start_date").format == "date"
    assert field_of(booking, "end_date").format == "date"
    assert field_of(booking, "rate").type == "number"


def test_required_where_the_text_says_so() -> None:
    pet = model("Owners and pets. Each pet must have a birthday.")["Pet"]
    assert field_of(pet, "birthday").required
    assert field_of(pet, "name").required


# ---------------------------------------------------------------------- relations


def test_relations_become_references() -> None:
    entities = model("Owners have pets. Visits of pets have dates.")
    pet_ref = field_of(entities["Pet"], "owner_id")
    assert (pet_ref.type, pet_ref.references, pet_ref.on_delete) == ("integer", "Owner", "cascade")
    visit_ref = field_of(entities["Visit"], "pet_id")
    assert (visit_ref.references, visit_ref.on_delete, visit_ref.required) == (
        "Pet",
        "restrict",
        True,
    )
    # parents come before children
    assert list(entities) == ["Owner", "Pet", "Visit"]


def test_the_text_decides_what_a_delete_does() -> None:
    cascade = model("Projects and tasks in projects. Deleting a project deletes its tasks.")
    assert field_of(cascade["Task"], "project_id").on_delete == "cascade"
    restrict = model("Orders with line items. Orders with line items cannot be deleted.")
    assert field_of(restrict["LineItem"], "order_id").on_delete == "cascade"


def test_relations_are_stated_in_data_and_routes() -> None:
    documents = TemplatePlanner().write_spec(
        "Vet", "Owners, pets and visits. Visits of pets.", {}, None, 1
    )
    assert (
        "| pet_id | integer | yes | references Pet (on delete: restrict) |"
        in (documents["DATA.md"])
    )
    assert "Each visit must belong to a pet" in documents["DATA.md"]
    assert "## Relations" in documents["ROUTES.md"]
    assert "`GET /api/visits?pet_id=<id>`" in documents["ROUTES.md"]
    assert "`DELETE /api/pets/{id}` returns 409" in documents["ROUTES.md"]
    assert (
        "| GET | /api/visits | List visits (`limit`, `offset`, `pet_id` query) |"
        in (documents["ROUTES.md"])
    )
    assert "| GET | /api/pets/{id}/visits | List the visits of one pet" in documents["ROUTES.md"]
    assert render_data_md(parse_data_md(documents["DATA.md"])) == documents["DATA.md"]


def test_hand_written_rules_are_parsed_leniently() -> None:
    entities = parse_data_md(
        """
## Entity: Shelf
| Field | Type | Required |
|---|---|---|
| label | string | yes |

## Entity: Jar
| Field | Type | Required | Rules |
|---|---|---|---|
| shelf_id | int | yes | references shelf (on delete: cascade) |
| filled_on | string | no | Date |
| colour | string | no | one of: red, green |
| grams | number | no | at least 5 |
| ghost_id | integer | no | references Ghost |
| odd | boolean | no | one of: a, b |
"""
    )
    jar = entities[1]
    assert field_of(jar, "shelf_id") == Field(
        "shelf_id", "integer", True, references="Shelf", on_delete="cascade"
    )
    assert field_of(jar, "filled_on").format == "date"
    assert field_of(jar, "colour").choices == ("red", "green")
    assert field_of(jar, "grams").minimum == 5
    assert field_of(jar, "ghost_id") == Field("ghost_id", "integer")  # no such entity
    assert field_of(jar, "odd") == Field("odd", "boolean")  # rule does not fit the type


# ------------------------------------------------------------------------ answers

PETS = "A vet clinic tracks owners, pets and visits."


@pytest.mark.parametrize("answer", ["", "none", "Keep", "same", "  ", "OK", "Keep it simple"])
def test_answers_that_are_no_list_of_records_keep_the_suggestions(answer: str) -> None:
    assert list(model(PETS, {"q1": answer})) == list(model(PETS))
    assert "KeepItSimple" not in model(PETS, {"q1": answer})


def test_a_list_answer_replaces_and_keeps_what_the_text_said_about_the_records() -> None:
    described = PETS + " Visits of pets have a fee."
    entities = model(described, {"q1": "pets, visits, vaccination"})
    assert list(entities) == ["Pet", "Visit", "Vaccination"]
    assert field_of(entities["Visit"], "pet_id").references == "Pet"
    assert field_of(entities["Visit"], "fee").type == "number"


def test_answers_can_add_or_remove_records() -> None:
    assert list(model(PETS, {"q1": "also invoices"})) == ["Owner", "Pet", "Visit", "Invoice"]
    assert list(model(PETS, {"q1": "without owners"})) == ["Pet", "Visit"]


# --------------------------------------------------------------------- honest spec


def test_spec_lists_what_the_offline_agent_does_not_build() -> None:
    documents = TemplatePlanner().write_spec(
        "Vet",
        PETS + " Email reminders to owners, take card payments online via Stripe and print "
        "PDF invoices. Updates appear in real time.",
        {},
        None,
        1,
    )
    spec = documents["SPEC.md"]
    section = spec.split("## Not built by the offline agent", 1)[1]
    for title in (
        "Sending email",
        "Notifications and reminders",
        "Payment processing",
        "PDF documents",
        "Real-time updates",
        "A user interface",
    ):
        assert f"**{title}**" in section


# ------------------------------------------------------------- generated app, probed


def test_generated_app_enforces_relations_over_http(tmp_path: pathlib.Path) -> None:
    description = (
        "Members sign up with a password. Owners have pets; visits of pets have a date, a fee "
        "and are marked paid/unpaid."
    )
    documents = TemplatePlanner().write_spec("Vet", description, {}, None, 1)
    plan = build_app(tmp_path, documents)
    passed, _, output = run_app_tests(tmp_path, plan)
    assert passed, output
    assert "test_deleting_a_parent_follows_the_reference_rule" in output
    report = probe_app(tmp_path, documents)
    assert ("POST", "/api/auth/login", 200) in report.exercised
    assert any(check.startswith("Pet.owner_id -> Owner") and "cascades" in check
               for check in report.relation_checks)  # fmt: skip
    assert any(check.startswith("Visit.pet_id -> Pet") and "refused" in check
               for check in report.relation_checks)  # fmt: skip

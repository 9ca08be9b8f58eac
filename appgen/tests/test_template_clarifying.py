"""Clarifying questions shape the spec, on descriptions the agent was not written for.

The descriptions below are not in corpus.yaml and no word list or rule of the
agent was made for them. The tests find each question by what it asks (as a
person reading the form would), answer it, and check that DATA.md - and the
app built from it - changes the way the answer says: a dropped record is gone
with its links, a refused link is gone, ticked fields are required, listed
values close a field, the currency shows on every amount, an added record is
linked to the others, and a regenerate keeps every earlier answer.
"""

from __future__ import annotations

import json
import pathlib
import re
from dataclasses import dataclass

import pytest

from prazium_appgen import Entity, Field, TemplatePlanner, parse_data_md
from prazium_appgen.naming import words_of
from prazium_kit.agentapi import QUESTION_TYPES, Question
from template_apps import build_app, default_answers, probe_app, run_app_tests

HELD_OUT = {
    "Physio Clinic": (
        "A physiotherapy clinic books appointments for patients with therapists. Each"
        " appointment has a start time, a duration and a fee, and a status of booked,"
        " attended or cancelled."
    ),
    "School Library": (
        "A school library lends books to pupils. Each loan has a due date and a returned"
        " date, and books have an ISBN and a shelf."
    ),
    "Gym Memberships": (
        "A gym sells memberships to members. Memberships have a plan, a start date, an end"
        " date and a monthly price. Members check in at the front desk."
    ),
    "Recipe Box": (
        "A recipe box: recipes with a title, servings and cooking time, ingredients with a"
        " quantity and a unit, and tags."
    ),
    "Bike Repairs": (
        "A bicycle repair shop takes repair jobs from customers for their bikes. Jobs have a"
        " description, a price estimate and a status."
    ),
    "Garden Plots": (
        "A community garden rents plots to gardeners. Plots have a size in square metres and"
        " a yearly rent; gardeners pay an annual fee."
    ),
    "Tattoo Studio": (
        "A tattoo studio keeps clients, artists and sessions. Sessions have a date, a price"
        " and a deposit, and are marked paid or unpaid."
    ),
    "Tool Library": (
        "A neighbourhood tool library: members borrow tools, each tool has a condition, and"
        " borrowings have a start date and a return date."
    ),
    "Dance School": (
        "A dance school runs classes for students taught by instructors; students pay a term"
        " fee and classes have a level and a weekday."
    ),
    "Food Co-op": (
        "A food co-op tracks members, the shifts they work and orders of bulk goods from"
        " suppliers, with a delivery date and an amount."
    ),
    "Dentist": (
        "A dentist keeps patients, treatments and invoices; each treatment has a tooth"
        " number, a cost and a date."
    ),
}
NAMES = list(HELD_OUT)
LINK = re.compile(r"^Should each (?P<child>.+?) be linked to an? (?P<parent>.+?), picked")
REQUIRED = re.compile(r"^Which (?P<record>.+?) fields must always be filled in")
VALUES = re.compile(r"^Which values can the (?P<field>.+?) of an? (?P<record>.+?) take\?")


@dataclass
class Form:
    """One description's questions, found by what they ask."""

    name: str
    description: str
    questions: list[Question]

    def write(self, answers: dict[str, object], feedback: str | None = None, revision: int = 1):
        documents = TemplatePlanner().write_spec(
            self.name, self.description, answers, feedback, revision
        )
        return documents, {entity.name: entity for entity in parse_data_md(documents["DATA.md"])}

    def default(self) -> dict[str, Entity]:
        return self.write(default_answers(self.questions))[1]

    def first(self, prefix: str) -> Question:
        return next(q for q in self.questions if q["question"].startswith(prefix))

    @property
    def records(self) -> Question:
        return self.first("Found in the description")

    @property
    def more_records(self) -> Question:
        return self.first("Which other kinds of records")

    def matching(self, pattern: re.Pattern[str]) -> list[tuple[Question, re.Match[str]]]:
        return [(q, m) for q in self.questions if (m := pattern.match(q["question"]))]


def form(name: str) -> Form:
    description = HELD_OUT[name]
    return Form(name, description, TemplatePlanner().clarify(name, description))


def entity_by_label(entities: dict[str, Entity], label: str) -> Entity:
    return next(entity for entity in entities.values() if entity.label == label)


def references(entity: Entity) -> dict[str, str]:
    """Reference field -> the record it refers to."""
    return {field.name: field.references for field in entity.references}


def option_field(entity: Entity, option: str) -> Field:
    """The field a required-fields option names: its words (a reference by its record's
    words), or its name."""
    for field in entity.fields:
        words = words_of(field.name)[:-1] if field.references else words_of(field.name)
        if option in (" ".join(words), field.name):
            return field
    raise AssertionError(f"no field of {entity.name} for option {option!r}")


def linked(entities: dict[str, Entity], name: str) -> bool:
    """Whether a record refers to another, or another refers to it."""
    return bool(entities[name].references) or any(
        field.references == name for entity in entities.values() for field in entity.references
    )


# ---------------------------------------------------------------------- the questions


@pytest.mark.parametrize("name", NAMES)
def test_questions_are_well_formed_and_ask_what_the_text_left_open(name: str) -> None:
    questions = form(name).questions
    assert [q["id"] for q in questions] == [f"q{n}" for n in range(1, len(questions) + 1)]
    for question in questions:
        assert question["type"] in QUESTION_TYPES
        assert question["question"].strip()
        if question["type"] in ("single_choice", "multi_choice"):
            options = question["options"]
            assert len(options) >= 2 and len(set(options)) == len(options), question
            assert all(option.strip() for option in options)
        else:
            assert "options" not in question
    kinds = {q["type"] for q in questions}
    assert {"multi_choice", "boolean", "text"} <= kinds, kinds
    current = form(name)
    defaults = current.default()
    # The records found are the options; every link and record gets its questions.
    assert set(current.records["options"]) == set(defaults)
    asked_links = {(m["child"], m["parent"]) for _, m in current.matching(LINK)}
    stated = {
        (entity.label, " ".join(words_of(field.references)))
        for entity in defaults.values()
        for field in entity.references
    }
    assert asked_links == stated
    asked_required = {m["record"] for _, m in current.matching(REQUIRED)}
    assert asked_required <= {entity.label for entity in defaults.values()}


def test_all_four_question_types_are_asked() -> None:
    kinds = {q["type"] for name in NAMES for q in form(name).questions}
    assert kinds == set(QUESTION_TYPES)
    # A description with amounts and no currency gets the single choice of one.
    currency = form("Tattoo Studio").first("Which currency")
    assert currency["type"] == "single_choice"
    assert "EUR" in currency["options"]


def test_a_description_naming_its_currency_is_not_asked() -> None:
    description = HELD_OUT["Tattoo Studio"] + " Prices are in euros."
    questions = TemplatePlanner().clarify("Tattoo Studio", description)
    assert not any(q["question"].startswith("Which currency") for q in questions)
    documents = TemplatePlanner().write_spec("Tattoo Studio", description, {}, None, 1)
    assert "| price | number | yes | money (EUR); at least 0 |" in documents["DATA.md"]


# ------------------------------------------------------------------------ the answers


@pytest.mark.parametrize("name", NAMES)
def test_a_dropped_record_goes_with_its_links(name: str) -> None:
    current = form(name)
    options = current.records["options"]
    dropped = options[-1]
    kept = options[:-1]
    _, entities = current.write({current.records["id"]: kept})
    assert dropped not in entities
    assert set(kept) <= set(entities)
    assert all(f.references != dropped for e in entities.values() for f in e.fields)


@pytest.mark.parametrize("name", NAMES)
def test_a_refused_link_is_gone_and_the_others_stay(name: str) -> None:
    current = form(name)
    defaults = current.default()
    (question, match), *_ = current.matching(LINK)
    _, entities = current.write({question["id"]: False})
    child = entity_by_label(entities, match["child"])
    parent = entity_by_label(defaults, match["parent"]).name
    assert parent not in references(child).values()
    before = {(e.name, f.references) for e in defaults.values() for f in e.references}
    after = {(e.name, f.references) for e in entities.values() for f in e.references}
    assert before - after == {(child.name, parent)}


@pytest.mark.parametrize("name", NAMES)
def test_ticked_fields_are_required_and_the_others_are_not(name: str) -> None:
    current = form(name)
    for question, match in current.matching(REQUIRED):
        options = question["options"]
        # Tick the second half of the options: some suggested, some not.
        ticked = options[len(options) // 2 :]
        _, entities = current.write({question["id"]: ticked})
        entity = entity_by_label(entities, match["record"])
        required = {
            field.name for field in entity.fields if field.required and field.type != "boolean"
        }
        expected = {option_field(entity, option).name for option in ticked}
        assert required == expected, (question["question"], ticked)


def test_listed_values_close_a_field_and_any_leaves_it_open() -> None:
    current = form("Bike Repairs")
    (question, match), *_ = current.matching(VALUES)
    assert (match["field"], match["record"]) == ("status", "job")
    _, entities = current.write({question["id"]: "received, in progress or done"})
    status = next(f for f in entity_by_label(entities, "job").fields if f.name == "status")
    assert status.choices == ("received", "in progress", "done")
    _, entities = current.write({question["id"]: "any"})
    status = next(f for f in entity_by_label(entities, "job").fields if f.name == "status")
    assert status.choices == ()


def test_the_chosen_currency_is_on_every_amount() -> None:
    current = form("Tattoo Studio")
    question = current.first("Which currency")
    documents, entities = current.write({question["id"]: "GBP"})
    amounts = [f for e in entities.values() for f in e.fields if f.format == "money"]
    assert {f.name for f in amounts} == {"price", "deposit"}
    assert all(f.currency == "GBP" for f in amounts)
    assert "money (GBP)" in documents["DATA.md"]


@pytest.mark.parametrize("name", NAMES)
def test_an_added_record_is_linked_to_the_others(name: str) -> None:
    current = form(name)
    _, entities = current.write({current.more_records["id"]: "invoices, suppliers"})
    assert {"Invoice", "Supplier"} <= set(entities)
    assert linked(entities, "Invoice") and linked(entities, "Supplier")


def test_an_added_record_belongs_where_the_answer_says() -> None:
    current = form("Physio Clinic")
    _, entities = current.write({current.more_records["id"]: "exercise plans for each patient"})
    assert references(entities["ExercisePlan"]) == {"patient_id": "Patient"}


def test_a_regenerate_keeps_every_earlier_answer() -> None:
    current = form("Tattoo Studio")
    link, link_match = current.matching(LINK)[0]
    required, match = current.matching(REQUIRED)[-1]
    answers: dict[str, object] = {
        current.records["id"]: ["Client", "Session"],  # no artists
        link["id"]: False,
        required["id"]: ["date", "price"],
        current.first("Which currency")["id"]: "EUR",
    }
    first_documents, first = current.write(answers)
    documents, regenerated = current.write(answers, "Also keep track of vouchers.", 2)
    assert "Artist" not in first and "Artist" not in regenerated
    for entities in (first, regenerated):
        session = entity_by_label(entities, match["record"])
        assert {f.name for f in session.fields if f.required and f.type != "boolean"} == {
            "date",
            "price",
        }
        assert all(f.currency == "EUR" for f in session.fields if f.format == "money")
    refused = entity_by_label(first, link_match["parent"]).name
    assert refused not in references(first[link_match_child(first, link_match)]).values()
    assert refused not in references(regenerated[link_match_child(first, link_match)]).values()
    assert "Voucher" in regenerated and linked(regenerated, "Voucher")
    assert "Revision: 2" in documents["SPEC.md"]
    assert "Revision: 1" in first_documents["SPEC.md"]


def link_match_child(entities: dict[str, Entity], match: re.Match[str]) -> str:
    return entity_by_label(entities, match["child"]).name


def test_the_spec_shows_each_answer() -> None:
    current = form("Tattoo Studio")
    question = current.first("Which currency")
    documents, _ = current.write({question["id"]: "EUR"})
    spec = documents["SPEC.md"]
    assert "## Clarifications" in spec
    assert f"| {question['question']} | EUR |" in spec
    assert f"| {current.records['question']} | (default) |" in spec


# ------------------------------------------------------- what the description says


def test_fields_given_with_with_are_required_money() -> None:
    entities = {
        e.name: e
        for e in parse_data_md(
            TemplatePlanner().write_spec(
                "Bakery", "A small bakery: products with prices, customers and orders.", {}, None, 1
            )["DATA.md"]
        )
    }
    price = next(f for f in entities["Product"].fields if f.name == "price")
    assert (price.type, price.format, price.required) == ("number", "money", True)
    # Orders of a shop that sells products refer to the product ordered.
    assert references(entities["Order"]) == {"customer_id": "Customer", "product_id": "Product"}
    courses = parse_data_md(
        TemplatePlanner().write_spec(
            "Courses", "Evening courses with fees and a start date.", {}, None, 1
        )["DATA.md"]
    )
    fee = next(f for f in courses[0].fields if f.name == "fee")
    assert (fee.format, fee.required) == ("money", True)


def test_orders_that_mention_products_refer_to_them() -> None:
    documents = TemplatePlanner().write_spec(
        "Shop", "Customers place orders for products.", {}, None, 1
    )
    order = next(e for e in parse_data_md(documents["DATA.md"]) if e.name == "Order")
    assert "Product" in references(order).values()


def test_earlier_free_text_answers_about_records_still_apply() -> None:
    # Projects stored before the records became a multiple choice hold a free-text
    # answer at that question's id: "without ...", "also ...", or a list.
    current = form("Tattoo Studio")
    qid = current.records["id"]
    assert "Artist" not in current.write({qid: "without artists"})[1]
    assert "Invoice" in current.write({qid: "also invoices"})[1]
    assert set(current.write({qid: "clients, sessions"})[1]) == {"Client", "Session"}


# ------------------------------------------------------------------- the built app


def test_answers_reach_the_built_app(tmp_path: pathlib.Path) -> None:
    current = form("Bike Repairs")
    values, _ = current.matching(VALUES)[0]
    answers = {
        **default_answers(current.questions),
        values["id"]: "received, in progress, done",
        current.first("Which currency")["id"]: "EUR",
        current.more_records["id"]: "mechanics",
    }
    documents, entities = current.write(answers)
    plan = build_app(tmp_path, documents)
    passed, tests_run, output = run_app_tests(tmp_path, plan)
    assert passed, output
    model = json.loads((tmp_path / "app/model/model.json").read_text())
    job = next(item for item in model["entities"] if item["name"] == "Job")
    status = next(field for field in job["fields"] if field["name"] == "status")
    assert status["choices"] == ["received", "in progress", "done"]
    assert linked(entities, "Mechanic")
    report = probe_app(tmp_path, documents)
    assert any(check.startswith("Job.") for check in report.relation_checks)
    assert tests_run > 0


def test_one_record_found_is_a_yes_no_question_and_others_can_replace_it() -> None:
    description = "Keep a list of my houseplants with watering notes."
    questions = TemplatePlanner().clarify("Plants", description)
    records = next(q for q in questions if q["question"].startswith("Found in the description"))
    assert records["type"] == "boolean"
    more = next(q for q in questions if q["question"].startswith("Which other kinds"))
    planner = TemplatePlanner()
    kept = planner.write_spec("Plants", description, {records["id"]: True}, None, 1)
    assert [entity.name for entity in parse_data_md(kept["DATA.md"])] == ["Houseplant"]
    replaced = planner.write_spec(
        "Plants", description, {records["id"]: False, more["id"]: "plants, rooms"}, None, 1
    )
    entities = {entity.name: entity for entity in parse_data_md(replaced["DATA.md"])}
    assert sorted(entities) == ["Plant", "Room"]
    # The added room holds the plants.
    assert references(entities["Plant"]) == {"room_id": "Room"}


@pytest.mark.parametrize("answer", ["", "Keep it simple.", "open", "  "])
def test_an_answer_that_lists_no_values_keeps_the_suggestion(answer: str) -> None:
    current = form("Bike Repairs")
    (question, _), *_ = current.matching(VALUES)
    _, entities = current.write({question["id"]: answer})
    status = next(f for f in entity_by_label(entities, "job").fields if f.name == "status")
    # "open" is one value, not a set of them: free text stays free text.
    assert status.choices == ()


def test_text_answers_may_come_as_lists() -> None:
    current = form("Bike Repairs")
    (values, _), *_ = current.matching(VALUES)
    answers: dict[str, object] = {
        values["id"]: ["received", "done"],
        current.more_records["id"]: ["mechanics"],
    }
    _, entities = current.write(answers)
    status = next(f for f in entity_by_label(entities, "job").fields if f.name == "status")
    assert status.choices == ("received", "done")
    assert "Mechanic" in entities

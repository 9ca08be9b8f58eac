"""Writing the four spec documents from description, answers and feedback.

:func:`decide_spec` turns the raw inputs into :class:`SpecDecisions` (which
features, which entities, whether accounts are built); the ``render_*``
functions only format those decisions, so every document agrees with the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from prazium_appgen.capabilities import USER_INTERFACE, unbuilt_capabilities
from prazium_appgen.data_md import render_data_md
from prazium_appgen.entities import Entity, Field
from prazium_appgen.entity_selection import select_entities
from prazium_appgen.features import (
    AUTHENTICATION,
    FEATURES_BY_KEY,
    Feature,
)
from prazium_appgen.naming import with_article
from prazium_appgen.questions import (
    ENTITIES_KEY,
    Answer,
    build_questions,
    records_text,
    resolve_answers,
)
from prazium_appgen.routes import render_routes_md

VERIFY_COMMAND = ("python", "-m", "unittest", "discover", "-s", "tests", "-t", ".", "-v")

# Entities whose CRUD resources implement part of a feature.
FEATURE_ENTITIES = {
    "teams": ("Team", "User"),
    "payments": ("Payment", "Invoice", "Subscription", "Order"),
    "notifications": ("Notification",),
    "file_uploads": ("Attachment",),
    "scheduling": ("Appointment", "Event", "Milestone"),
}


@dataclass(frozen=True)
class FeatureDecision:
    feature: Feature
    answer: Answer
    answered: bool
    """False when the answer is the default for an unanswered question."""


@dataclass(frozen=True)
class SpecDecisions:
    display_name: str
    description: str
    revision: int
    feedback: str | None
    features: tuple[FeatureDecision, ...]
    entities: tuple[Entity, ...]

    @property
    def with_auth(self) -> bool:
        return any(decision.feature.key == AUTHENTICATION for decision in self.features)


def decide_spec(
    display_name: str,
    description: str,
    answers: dict[str, object],
    feedback: str | None,
    revision: int,
) -> SpecDecisions:
    questions = build_questions(display_name, description)
    resolved = resolve_answers(questions, answers)
    feature_decisions = tuple(
        FeatureDecision(
            FEATURES_BY_KEY[question.key], resolved[question.key], question.id in answers
        )
        for question in questions
        if question.key in FEATURES_BY_KEY
    )
    entities_answer = resolved.get(ENTITIES_KEY, "")
    entities = select_entities(
        records_text(display_name, description),
        {decision.feature.key for decision in feature_decisions},
        entities_answer if isinstance(entities_answer, str) else "",
        feedback,
    )
    cleaned_feedback = feedback.strip() if feedback and feedback.strip() else None
    return SpecDecisions(
        display_name.strip() or "App",
        description.strip(),
        revision,
        cleaned_feedback,
        feature_decisions,
        tuple(entities),
    )


def render_documents(decisions: SpecDecisions) -> dict[str, str]:
    entities = list(decisions.entities)
    return {
        "SPEC.md": render_spec_md(decisions),
        "ACCEPTANCE.md": render_acceptance_md(decisions),
        "ROUTES.md": render_routes_md(entities, decisions.with_auth),
        "DATA.md": render_data_md(entities),
    }


def format_answer(answer: Answer) -> str:
    if isinstance(answer, bool):
        return "Yes" if answer else "No"
    if isinstance(answer, list):
        return ", ".join(answer)
    return answer or "(no answer)"


def _build_scope(feature: Feature, answer: Answer, entity_names: set[str]) -> str:
    """What this build delivers for a feature; the rest is recorded for later runs."""
    if feature.key == AUTHENTICATION:
        built = "Email/password accounts with bearer tokens"
        extra = "" if answer == "Email/Password" else f"; {format_answer(answer)} recorded"
        return built + extra
    related = [name for name in FEATURE_ENTITIES.get(feature.key, ()) if name in entity_names]
    if related:
        return f"CRUD API for {', '.join(related)}; other behaviour recorded"
    if feature.key == "realtime" and answer is False:
        return "Not required"
    return "Recorded requirement"


def render_spec_md(decisions: SpecDecisions) -> str:
    names = {entity.name for entity in decisions.entities}
    lines = [
        f"# {decisions.display_name} — Specification",
        "",
        f"Revision: {decisions.revision}",
        "",
        "## Overview",
        "",
        decisions.description or "(no description given)",
        "",
        "## Features",
        "",
    ]
    if decisions.features:
        lines += [
            "| Feature | Decision | In this build |",
            "|---------|----------|---------------|",
        ]
        lines += [
            f"| {decision.feature.title} | {format_answer(decision.answer)}"
            f"{'' if decision.answered else ' (default)'} | "
            f"{_build_scope(decision.feature, decision.answer, names)} |"
            for decision in decisions.features
        ]
    else:
        lines.append("No optional features were requested; the app is a data API.")
    lines += ["", "## Data", ""]
    lines += [
        f"- **{entity.name}**: {', '.join(_field_summary(field) for field in entity.fields)}"
        for entity in decisions.entities
    ]
    lines += [
        "",
        "Field types, required flags, rules and relations are defined in DATA.md.",
        "",
        "## Architecture",
        "",
        "- A JSON HTTP API written with the Python 3.11 standard library only",
        "  (`http.server`, `json`, `sqlite3`), so it runs and tests with nothing installed.",
        "- Persistence in SQLite; the database file is taken from `APP_DATABASE`",
        "  (default: in-memory). The server listens on `APP_HOST`:`APP_PORT`",
        "  (default `127.0.0.1:8000`).",
        "- Each resource lives in its own module under `app/resources/` and is discovered",
        "  at start-up, so resources can be built independently.",
        "- Every route in ROUTES.md has automated tests that start the real server.",
        f"  Run them with `{' '.join(VERIFY_COMMAND)}`.",
    ]
    if decisions.with_auth:
        lines += [
            "- Accounts: passwords are stored as salted PBKDF2-SHA256 hashes; login returns",
            "  a random bearer token stored only as its SHA-256 digest.",
        ]
    lines += ["", *render_not_built(decisions)]
    if decisions.feedback:
        lines += ["", "## Revision notes", "", f"Revision {decisions.revision} feedback:", ""]
        lines += [f"> {line}" if line else ">" for line in decisions.feedback.splitlines()]
    return "\n".join(lines) + "\n"


def _field_summary(field: Field) -> str:
    return f"{field.name} (→ {field.references})" if field.references else field.name


def render_not_built(decisions: SpecDecisions) -> list[str]:
    """The "Not built by the offline agent" section: what the text asks for beyond the API."""
    text = f"{decisions.display_name}\n{decisions.description}\n{decisions.feedback or ''}"
    items = [
        f'- **{title}** (the description mentions "{phrase}"): needs {needs}.'
        for title, phrase, needs in unbuilt_capabilities(text)
    ]
    for decision in decisions.features:
        if decision.feature.key == AUTHENTICATION and decision.answer != "Email/Password":
            items.append(
                f"- **{format_answer(decision.answer)} sign-in** (answered): needs the provider"
                " integration; this build has email/password accounts only."
            )
    title, needs = USER_INTERFACE
    items.append(f"- **{title}**: needs {needs}.")
    return [
        "## Not built by the offline agent",
        "",
        "The offline template agent builds the JSON API above: records with validation,",
        "relations and, where asked for, email/password accounts. These parts of the",
        "description are not built; an LLM agent or a person must add them:",
        "",
        *items,
    ]


def render_acceptance_md(decisions: SpecDecisions) -> str:
    criteria: list[tuple[str, list[str]]] = [
        (
            "Service",
            [
                "`GET /health` returns 200 with `status` equal to `ok`.",
                "An unknown path returns 404 and a wrong method on a known path returns 405,"
                " both with a JSON error body.",
                "A request body that is not valid JSON returns 400.",
                f"`{' '.join(VERIFY_COMMAND)}` exits 0 from the repository root.",
            ],
        )
    ]
    if decisions.with_auth:
        criteria.append(
            (
                "Accounts",
                [
                    "`POST /api/auth/register` with an email and a password of at least 8"
                    " characters returns 201; the same email again returns 409; a short password"
                    " returns 400.",
                    "`POST /api/auth/login` with correct credentials returns 200 and a token;"
                    " wrong credentials return 401.",
                    "`GET /api/auth/me` with `Authorization: Bearer <token>` returns the account;"
                    " without a valid token it returns 401.",
                    "`POST /api/auth/logout` returns 204 and the token stops working.",
                ],
            )
        )
    for entity in decisions.entities:
        criteria.append((entity.name, _entity_criteria(entity)))

    lines = ["# Acceptance criteria", ""]
    number = 1
    for title, items in criteria:
        lines += [f"## {title}", ""]
        for item in items:
            lines.append(f"{number}. {item}")
            number += 1
        lines.append("")
    return "\n".join(lines)


def _entity_criteria(entity: Entity) -> list[str]:
    collection, item = entity.collection_path, entity.item_path
    items = [
        f"`POST {collection}` with valid fields returns 201 and the stored {entity.label}"
        " including its `id`.",
    ]
    if entity.required_fields:
        names = ", ".join(f"`{field.name}`" for field in entity.required_fields)
        items.append(
            f"`POST {collection}` without a required field ({names}) returns 400 naming the field."
        )
    items += [
        f"`POST {collection}` with a value of the wrong type returns 400.",
        f"`GET {collection}` lists stored {entity.plural_label} in creation order and"
        " honours `limit` and `offset`.",
        f"`GET {item}` returns the {entity.label}, or 404 for an unknown id.",
        f"`PUT {item}` updates only the given fields and returns the {entity.label};"
        " 404 for an unknown id.",
        f"`DELETE {item}` returns 204, after which `GET {item}` returns 404.",
    ]
    for field in entity.references:
        items += [
            f"`POST {collection}` or `PUT {item}` with a `{field.name}` that names no"
            f" {field.references} record returns 400 naming `{field.name}`.",
            f"`GET {collection}?{field.name}=<id>` lists only the {entity.plural_label} of that"
            f" {field.references}; a non-integer id returns 400. The same list is served"
            f" under the {field.references}'s own path, 404 for an unknown one.",
            f"Deleting {with_article(field.references)} that {entity.plural_label} refer to "
            + (
                f"also deletes those {entity.plural_label}."
                if field.on_delete == "cascade"
                else "returns 409 and keeps both records."
            ),
        ]
    return items

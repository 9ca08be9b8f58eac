"""The template agent: questions, spec documents, plan, coder, generated app."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

from prazium_appgen import (
    FEATURES,
    CoderError,
    Entity,
    Field,
    TemplateCoder,
    TemplatePlanner,
    detect_features,
    parse_data_md,
    parse_routes_md,
    render_data_md,
)
from prazium_appgen.app import app_model, render_app
from prazium_appgen.naming import pluralize, singularize
from prazium_kit.agentapi import (
    QUESTION_TYPES,
    SPEC_DOCUMENTS,
    Coder,
    PlanDocument,
    Planner,
    PlanTask,
    plan_document,
)
from prazium_kit.plan import (
    parallel_scope_conflicts,
    path_in_scope,
    topological_order,
    validate_plan,
)

PM_NAME = "TeamBoard"
PM_DESCRIPTION = (
    "A project management tool with team collaboration, task boards, time tracking, "
    "user login and notifications"
)
RECIPE_DATA_MD = """# Data

## Entity: Recipe

| Field | Type | Required |
|-------|------|----------|
| title | string | yes |
| servings | integer | yes |
| vegetarian | boolean | no |
| rating | number | no |
"""


@pytest.fixture(scope="module")
def planner() -> TemplatePlanner:
    return TemplatePlanner()


@pytest.fixture(scope="module")
def pm_documents(planner: TemplatePlanner) -> dict[str, str]:
    return planner.write_spec(PM_NAME, PM_DESCRIPTION, {"q1": "Email/Password"}, None, 1)


@pytest.fixture(scope="module")
def pm_plan(planner: TemplatePlanner, pm_documents: dict[str, str]) -> PlanDocument:
    return planner.decompose(PM_NAME, pm_documents)


# ---------------------------------------------------------------------- interface


def test_the_agents_implement_the_kits_protocols() -> None:
    assert isinstance(TemplatePlanner(), Planner)
    assert isinstance(TemplateCoder(), Coder)


def test_the_plan_is_a_plan_document() -> None:
    planner = TemplatePlanner()
    documents = planner.write_spec(
        "Clinic", "A clinic app to manage patients and visits.", {}, None, 0
    )
    plan = planner.decompose("Clinic", documents)
    assert plan_document(plan) == plan


# ----------------------------------------------------------------------- features


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("authentication", "Users sign in with a password"),
        ("authentication", "Customers can log-in to their account"),
        ("teams", "Shared workspaces with roles and permissions"),
        ("realtime", "Changes appear in real-time for everyone"),
        ("payments", "Checkout with Stripe for subscriptions"),
        ("notifications", "Send reminders before deadlines"),
        ("file_uploads", "Users can upload photos of receipts"),
        ("search", "Full search across all notes"),
        ("integrations", "Post updates to Slack via webhooks"),
        ("reporting", "A dashboard with charts of weekly metrics"),
        ("scheduling", "Book appointments on a shared calendar"),
        ("data_export", "Export everything as CSV"),
        ("localization", "Available in several languages"),
        ("mobile", "Works offline on Android phones"),
    ],
)
def test_each_feature_detector(key: str, text: str) -> None:
    assert key in [feature.key for feature in detect_features(text)]


def test_at_least_eight_detectors_with_valid_questions() -> None:
    assert len(FEATURES) >= 8
    for feature in FEATURES:
        assert feature.question_type in QUESTION_TYPES
        has_options = feature.question_type in ("single_choice", "multi_choice")
        assert bool(feature.options) is has_options, feature.key


def test_detection_uses_whole_words() -> None:
    assert detect_features("A plain recipe collection") == []
    # "teammate" must not trigger "team", "research" must not trigger "search".
    assert detect_features("research teammates") == []


# ---------------------------------------------------------------------- questions


def test_questions_follow_the_contract_shape(planner: TemplatePlanner) -> None:
    questions = planner.clarify(PM_NAME, PM_DESCRIPTION)
    assert [q["id"] for q in questions] == [f"q{n}" for n in range(1, len(questions) + 1)]
    assert questions[0] == {
        "id": "q1",
        "question": "What authentication method should users use?",
        "type": "single_choice",
        "options": ["Email/Password", "OAuth (Google, GitHub)", "Magic Link", "All of the above"],
    }
    for question in questions:
        assert question["type"] in QUESTION_TYPES
        assert question["question"].endswith("?") or question["type"] == "text"
        if question["type"] in ("single_choice", "multi_choice"):
            assert len(question["options"]) >= 2
        else:
            assert "options" not in question
    kinds = {q["type"] for q in questions}
    assert {"single_choice", "multi_choice", "text"} <= kinds


def test_boolean_question_for_realtime(planner: TemplatePlanner) -> None:
    questions = planner.clarify("Chat", "Live chat rooms")
    assert {
        "id": "q1",
        "question": "Should the app support real-time collaboration?",
        "type": "boolean",
    } in questions


def test_there_is_always_a_general_question(planner: TemplatePlanner) -> None:
    questions = planner.clarify("", "")
    assert len(questions) == 1
    assert questions[0]["type"] == "text"
    assert "records" in questions[0]["question"]


def test_entities_question_lists_detected_entities(planner: TemplatePlanner) -> None:
    questions = planner.clarify(PM_NAME, PM_DESCRIPTION)
    last = questions[-1]
    assert last["type"] == "text"
    for name in ("Project", "Team", "Task", "Board", "TimeEntry", "User"):
        assert name in last["question"]
    # "notifications" names a capability: it gets its feature question, not a table.
    assert "Notification" not in last["question"]
    assert any("notifications" in question["question"] for question in questions)


# -------------------------------------------------------------------- naming/data


@pytest.mark.parametrize(
    ("singular", "plural"),
    [
        ("task", "tasks"),
        ("entry", "entries"),
        ("box", "boxes"),
        ("day", "days"),
        ("person", "people"),
        ("recipe", "recipes"),
        ("status", "statuses"),
        ("batch", "batches"),
    ],
)
def test_inflection_round_trips(singular: str, plural: str) -> None:
    assert pluralize(singular) == plural
    assert singularize(plural) == singular
    assert singularize(singular) == singular


def test_entity_names_derive_paths() -> None:
    entity = Entity("TimeEntry", (Field("minutes", "integer", True),))
    assert (entity.table, entity.collection_path, entity.item_path) == (
        "time_entries",
        "/api/time-entries",
        "/api/time-entries/{id}",
    )


def test_data_md_round_trip(pm_documents: dict[str, str]) -> None:
    entities = parse_data_md(pm_documents["DATA.md"])
    # Parents come before the records that refer to them (Task.board_id -> Board).
    assert [e.name for e in entities] == ["Project", "Board", "Task", "TimeEntry", "Team", "User"]
    task = next(e for e in entities if e.name == "Task")
    assert task.fields[:3] == (
        Field("title", "string", True),
        Field("description", "string", False),
        Field("done", "boolean", False),
    )
    assert Field("estimate_hours", "number", False) in task.fields
    assert render_data_md(entities) == pm_documents["DATA.md"]


@pytest.mark.parametrize("text", ["", "# Data\n\nNothing here.", "## Entity: \n| a |"])
def test_data_md_fallback_is_item(text: str) -> None:
    assert parse_data_md(text) == [Entity("Item", (Field("name", "string", True),))]


def test_data_md_parsing_is_lenient() -> None:
    text = """
### Entity: shopping list item
Some prose.

| Name | Type | Required | Notes |
|:-----|:----:|---------:|-------|
| id | int | yes | server assigned |
| Due Date | date | no | |
| quantity | INT | ✓ | |
| price | decimal(10,2) | required | |
| quantity | string | no | duplicate |
| done | bool | false | |
| colour | weird-type | no | |

## Entity: Empty

## Entity: shopping list item
| Field | Type | Required |
|---|---|---|
| other | string | yes |
"""
    entities = parse_data_md(text)
    assert [e.name for e in entities] == ["ShoppingListItem", "Empty"]
    assert entities[0].fields == (
        Field("due_date", "string", False),
        Field("quantity", "integer", True),
        Field("price", "number", True),
        Field("done", "boolean", False),
        Field("colour", "string", False),
    )
    assert entities[1].fields == (Field("name", "string", True),)


# ------------------------------------------------------------------ spec documents


def test_spec_has_exactly_the_four_documents(pm_documents: dict[str, str]) -> None:
    assert tuple(pm_documents) == SPEC_DOCUMENTS
    assert all(text.endswith("\n") for text in pm_documents.values())


def test_spec_reflects_answers_and_revision(planner: TemplatePlanner) -> None:
    documents = planner.write_spec(
        PM_NAME, PM_DESCRIPTION, {"q1": "Magic Link", "q3": ["Email", "SMS"]}, None, 3
    )
    spec = documents["SPEC.md"]
    assert spec.startswith(f"# {PM_NAME} — Specification\n\nRevision: 3\n")
    assert PM_DESCRIPTION in spec
    assert "| User authentication | Magic Link |" in spec
    assert "| Notifications | Email, SMS |" in spec
    assert "| Teams and roles | 1-5 (default) |" in spec
    assert "Revision notes" not in spec


def test_feedback_goes_into_revision_notes(planner: TemplatePlanner) -> None:
    feedback = "Add more detail about the notification system.\nAlso track invoices."
    documents = planner.write_spec(PM_NAME, PM_DESCRIPTION, {}, feedback, 2)
    spec = documents["SPEC.md"]
    assert "## Revision notes" in spec
    assert "> Add more detail about the notification system." in spec
    assert "Revision 2 feedback" in spec
    # Entities named in feedback are added to the data model.
    assert "## Entity: Invoice" in documents["DATA.md"]


def test_routes_document_lists_crud_and_health(pm_documents: dict[str, str]) -> None:
    routes = parse_routes_md(pm_documents["ROUTES.md"])
    assert "| Method | Path | Description |" in pm_documents["ROUTES.md"]
    assert routes[0] == ("GET", "/health")
    for expected in [
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks"),
        ("GET", "/api/tasks/{id}"),
        ("PUT", "/api/tasks/{id}"),
        ("DELETE", "/api/tasks/{id}"),
        ("GET", "/api/time-entries"),
        ("POST", "/api/auth/login"),
    ]:
        assert expected in routes
    entities = parse_data_md(pm_documents["DATA.md"])
    # five CRUD routes per entity, and a nested list under each parent it refers to
    nested = sum(len(entity.references) for entity in entities)
    assert len(routes) == 1 + 4 + 5 * len(entities) + nested
    assert ("GET", "/api/boards/{id}/tasks") in routes


def test_acceptance_criteria_are_numbered_per_entity(pm_documents: dict[str, str]) -> None:
    acceptance = pm_documents["ACCEPTANCE.md"]
    numbers = [int(n) for n in re.findall(r"^(\d+)\. ", acceptance, re.M)]
    assert numbers == list(range(1, len(numbers) + 1))
    assert "## Board" in acceptance
    assert "`DELETE /api/boards/{id}` returns 204" in acceptance


def test_entities_answer_replaces_detected_entities(planner: TemplatePlanner) -> None:
    documents = planner.write_spec(
        "Kitchen",
        "Plan meals with friends",
        {"q1": "Recipes, meal plans and shopping lists"},
        None,
        1,
    )
    names = [e.name for e in parse_data_md(documents["DATA.md"])]
    assert names == ["Recipe", "MealPlan", "ShoppingList"]


def test_team_and_user_entities_follow_features(planner: TemplatePlanner) -> None:
    documents = planner.write_spec("Club", "Members sign up and join teams", {}, None, 1)
    names = [e.name for e in parse_data_md(documents["DATA.md"])]
    assert "Team" in names and "User" in names


def test_description_without_known_nouns_falls_back_to_item(planner: TemplatePlanner) -> None:
    documents = planner.write_spec("Thing", "Something nice", {}, None, 1)
    assert parse_data_md(documents["DATA.md"])[0].name == "Item"
    assert ("GET", "/api/items/{id}") in parse_routes_md(documents["ROUTES.md"])


def test_everything_is_deterministic() -> None:
    first, second = TemplatePlanner(), TemplatePlanner()
    answers: dict[str, object] = {"q1": "OAuth (Google, GitHub)", "q2": "5-20"}
    assert first.clarify(PM_NAME, PM_DESCRIPTION) == second.clarify(PM_NAME, PM_DESCRIPTION)
    docs_a = first.write_spec(PM_NAME, PM_DESCRIPTION, answers, "more", 2)
    docs_b = second.write_spec(PM_NAME, PM_DESCRIPTION, dict(answers), "more", 2)
    assert docs_a == docs_b
    assert first.decompose(PM_NAME, docs_a) == second.decompose(PM_NAME, docs_b)
    assert render_app(app_model(docs_a)) == render_app(app_model(docs_b))


# ------------------------------------------------------------------- decomposition


def test_plan_is_valid_with_five_to_ten_tasks(pm_plan: PlanDocument) -> None:
    validate_plan(pm_plan)
    assert 5 <= len(pm_plan["tasks"]) <= 10
    assert pm_plan["mergeOrder"] == topological_order(pm_plan["tasks"])
    assert pm_plan["verifyCommand"] == [
        "python",
        "-m",
        "unittest",
        "discover",
        "-s",
        "tests",
        "-t",
        ".",
        "-v",
    ]
    slugs = [t["slug"] for t in pm_plan["tasks"]]
    assert slugs[:3] == ["app-shell", "data-model", "auth"]
    assert slugs[-1] == "smoke-tests"
    assert "api-tasks" in slugs


def test_parallel_tasks_never_share_files(pm_plan: PlanDocument) -> None:
    assert parallel_scope_conflicts(pm_plan) == []


def test_every_generated_file_belongs_to_exactly_one_task(
    pm_plan: PlanDocument, pm_documents: dict[str, str]
) -> None:
    for path in render_app(app_model(pm_documents)):
        owners = [t["id"] for t in pm_plan["tasks"] if path_in_scope(path, t["pathScope"])]
        assert len(owners) == 1, (path, owners)


def test_many_entities_are_grouped_to_stay_within_ten_tasks(planner: TemplatePlanner) -> None:
    description = (
        "A business suite with login: customers, products, orders, invoices, payments, "
        "employees, expenses, budgets, contacts, leads, deals, tickets and goals"
    )
    documents = planner.write_spec("Suite", description, {}, None, 1)
    plan = planner.decompose("Suite", documents)
    validate_plan(plan)
    assert len(plan["tasks"]) == 10
    assert parallel_scope_conflicts(plan) == []
    owned = [path for t in plan["tasks"] for path in t["expectedOutputs"]]
    for entity in parse_data_md(documents["DATA.md"]):
        assert f"app/resources/{entity.module}.py" in owned


def test_auth_task_follows_routes_document(
    planner: TemplatePlanner, pm_documents: dict[str, str]
) -> None:
    without_auth = dict(pm_documents)
    without_auth["ROUTES.md"] = "\n".join(
        line for line in pm_documents["ROUTES.md"].splitlines() if "/api/auth/" not in line
    )
    slugs = [t["slug"] for t in planner.decompose(PM_NAME, without_auth)["tasks"]]
    assert "auth" not in slugs


# -------------------------------------------------------------------------- coder


def snapshot(root: pathlib.Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_coder_is_idempotent(
    tmp_path: pathlib.Path, pm_plan: PlanDocument, pm_documents: dict[str, str]
) -> None:
    coder = TemplateCoder()
    shell = pm_plan["tasks"][0]
    coder.code(shell, pm_documents, tmp_path)
    first = snapshot(tmp_path)
    mtimes = {path: (tmp_path / path).stat().st_mtime_ns for path in first}
    coder.code(shell, pm_documents, tmp_path)
    assert snapshot(tmp_path) == first
    assert {path: (tmp_path / path).stat().st_mtime_ns for path in first} == mtimes
    assert (tmp_path / "run.sh").stat().st_mode & 0o111


def test_coder_refuses_tasks_it_cannot_produce(
    tmp_path: pathlib.Path, pm_documents: dict[str, str]
) -> None:
    foreign: PlanTask = {
        "id": "task-001",
        "slug": "ui",
        "pathScope": ["src/app/**"],
        "expectedOutputs": ["src/app/layout.tsx"],
    }
    with pytest.raises(CoderError, match="no file inside pathScope"):
        TemplateCoder().code(foreign, pm_documents, tmp_path)
    partial: PlanTask = {
        "id": "task-002",
        "slug": "x",
        "pathScope": ["app/server.py"],
        "expectedOutputs": ["app/server.py", "app/client.py"],
    }
    with pytest.raises(CoderError, match=r"app/client\.py"):
        TemplateCoder().code(partial, pm_documents, tmp_path)
    assert sorted(snapshot(tmp_path)) == ["app/server.py"]


# --------------------------------------------------------------------- end to end


def build_and_verify(root: pathlib.Path, documents: dict[str, str]) -> tuple[str, int]:
    """Run every task of the plan into ``root``; returns (verify output, tests run)."""
    planner, coder = TemplatePlanner(), TemplateCoder()
    plan = planner.decompose("App", documents)
    validate_plan(plan)
    tasks = {t["id"]: t for t in plan["tasks"]}
    for task_id in topological_order(plan["tasks"]):
        task = tasks[task_id]
        before = snapshot(root)
        coder.code(task, documents, root)
        after = snapshot(root)
        changed = [path for path in after if before.get(path) != after[path]]
        assert changed, task_id
        outside = [path for path in changed if not path_in_scope(path, task["pathScope"])]
        assert outside == [], (task_id, outside)
        missing = [path for path in task["expectedOutputs"] if not (root / path).is_file()]
        assert missing == [], (task_id, missing)

    command = [sys.executable if part == "python" else part for part in plan["verifyCommand"]]
    result = subprocess.run(
        command, check=False, cwd=root, capture_output=True, text=True, timeout=120
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    ran = re.search(r"^Ran (\d+) tests? in", output, re.M)
    assert ran, output[-2000:]
    return output, int(ran.group(1))


def test_end_to_end_project_management_app(tmp_path: pathlib.Path) -> None:
    planner = TemplatePlanner()
    questions = planner.clarify(PM_NAME, PM_DESCRIPTION)
    answers: dict[str, object] = {}
    for question in questions:
        if question["type"] in ("single_choice", "multi_choice"):
            answers[question["id"]] = question["options"][0]
        elif question["type"] == "boolean":
            answers[question["id"]] = True
    documents = planner.write_spec(PM_NAME, PM_DESCRIPTION, answers, None, 1)

    output, tests_run = build_and_verify(tmp_path, documents)

    routes = parse_routes_md(documents["ROUTES.md"])
    assert tests_run >= len(routes)
    for path in ("/api/tasks", "/api/boards", "/api/time-entries", "/api/auth/login"):
        assert path in {route_path for _, route_path in routes}
    assert "test_every_planned_resource_is_loaded" in output
    assert (tmp_path / "README.md").read_text().startswith(f"# {PM_NAME}\n")


def test_user_supplied_data_md_builds_a_working_recipe_api(tmp_path: pathlib.Path) -> None:
    documents = {
        "SPEC.md": "# Recipe Box — Specification\n\nRecipes.\n",
        "ACCEPTANCE.md": "# Acceptance\n",
        "ROUTES.md": "# Routes\n",
        "DATA.md": RECIPE_DATA_MD,
    }
    output, tests_run = build_and_verify(tmp_path, documents)

    assert (tmp_path / "app/resources/recipes.py").is_file()
    test_source = (tmp_path / "tests/test_recipes_api.py").read_text()
    assert 'COLLECTION = "/api/recipes"' in test_source
    assert '"servings": 3' in test_source
    assert "RecipeApiTest" in output
    assert not (tmp_path / "app/resources/auth.py").exists()
    assert tests_run >= 5 + 1


def test_every_merge_step_leaves_a_green_tree(tmp_path: pathlib.Path) -> None:
    """Each task's branch starts from its dependencies' work; the tree must pass at each step."""
    planner, coder = TemplatePlanner(), TemplateCoder()
    documents = planner.write_spec("Notes", "A notes app with tags", {}, None, 1)
    plan = planner.decompose("Notes", documents)
    assert [t["slug"] for t in plan["tasks"]] == [
        "app-shell",
        "data-model",
        "api-notes",
        "api-tags",
        "smoke-tests",
    ]
    tasks = {t["id"]: t for t in plan["tasks"]}
    command = [sys.executable if part == "python" else part for part in plan["verifyCommand"]]
    for task_id in plan["mergeOrder"]:
        coder.code(tasks[task_id], documents, tmp_path)
        result = subprocess.run(
            command, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, (task_id, result.stderr[-3000:])


DETERMINISM_SCRIPT = """
import hashlib, json, sys
from prazium_appgen import TemplatePlanner
from prazium_appgen.app import app_model, render_app
planner = TemplatePlanner()
name, description = sys.argv[1], sys.argv[2]
questions = planner.clarify(name, description)
documents = planner.write_spec(name, description, {"q1": "Magic Link"}, "more please", 2)
plan = planner.decompose(name, documents)
files = render_app(app_model(documents))
blob = json.dumps([questions, documents, plan, files], sort_keys=False).encode()
print(hashlib.sha256(blob).hexdigest())
"""


def test_output_is_identical_across_processes_and_hash_seeds() -> None:
    digests = set()
    for seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", DETERMINISM_SCRIPT, PM_NAME, PM_DESCRIPTION],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert result.returncode == 0, result.stderr
        digests.add(result.stdout.strip())
    assert len(digests) == 1

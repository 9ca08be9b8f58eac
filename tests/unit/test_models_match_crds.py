"""crds/*.yaml and prazium_kit.models describe the same fields."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from prazium_kit import models

CRDS = Path(__file__).resolve().parents[2] / "crds"

# Keys an OpenAPI v3 schema node in a CRD may carry; anything else is a typo
# that a client-side apply would silently drop.
SCHEMA_KEYS = {
    "type",
    "description",
    "properties",
    "required",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "format",
    "nullable",
    "additionalProperties",
    "anyOf",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
}


def _crd_schema(kind: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRDS / f"{kind}.yaml").read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def _walk(node: dict[str, Any], where: str) -> list[str]:
    problems = [f"{where}: unknown key {key!r}" for key in node if key not in SCHEMA_KEYS]
    for name, child in node.get("properties", {}).items():
        problems += _walk(child, f"{where}.{name}")
    if isinstance(node.get("items"), dict):
        problems += _walk(node["items"], f"{where}[]")
    if isinstance(node.get("additionalProperties"), dict):
        problems += _walk(node["additionalProperties"], f"{where}{{}}")
    return problems


@pytest.mark.parametrize("kind", ["project", "run", "task"])
def test_crd_schemas_use_only_known_keys(kind: str) -> None:
    assert _walk(_crd_schema(kind), kind) == []


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
        inner = _model_of_args(candidate)
        if inner:
            return inner
    return None


def _model_of_args(annotation: Any) -> type[BaseModel] | None:
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _literal_values(annotation: Any) -> set[Any] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(candidate) is typing.Literal:
            return set(typing.get_args(candidate))
    return None


def _compare(model: type[BaseModel], schema: dict[str, Any], where: str) -> list[str]:
    problems = []
    fields = {(f.alias or name): f for name, f in model.model_fields.items()}
    properties = schema.get("properties", {})
    if set(fields) != set(properties):
        problems.append(f"{where}: model {sorted(fields)} != crd {sorted(properties)}")
    required_model = {alias for alias, f in fields.items() if f.is_required()}
    if required_model != set(schema.get("required", [])):
        problems.append(
            f"{where}: required {sorted(required_model)} != {sorted(schema.get('required', []))}"
        )
    for alias, field in fields.items():
        prop = properties.get(alias)
        if prop is None:
            continue
        literal = _literal_values(field.annotation)
        if literal is not None and set(prop.get("enum", [])) != literal:
            problems.append(f"{where}.{alias}: enum {sorted(literal)} != {prop.get('enum')}")
        nested = _model_of(field.annotation)
        if nested is not None:
            target = prop["items"] if prop.get("type") == "array" else prop
            if target.get("x-kubernetes-preserve-unknown-fields"):
                continue  # free-form in the CRD: the model may name what it reads
            problems += _compare(nested, target, f"{where}.{alias}")
    return problems


@pytest.mark.parametrize(
    ("kind", "model"),
    [("project", models.ProjectSpec), ("run", models.RunSpec), ("task", models.TaskSpec)],
)
def test_spec_models_match_crd_schemas(kind: str, model: type[BaseModel]) -> None:
    assert _compare(model, _crd_schema(kind)["properties"]["spec"], f"{kind}.spec") == []


@pytest.mark.parametrize(
    ("kind", "phases"),
    [("project", models.ProjectPhase), ("run", models.RunPhase), ("task", models.TaskPhase)],
)
def test_phase_enums_match(kind: str, phases: Any) -> None:
    crd_enum = _crd_schema(kind)["properties"]["status"]["properties"]["phase"]["enum"]
    assert list(typing.get_args(phases)) == crd_enum


@pytest.mark.parametrize(
    ("kind", "model"),
    [("project", models.ProjectStatus), ("run", models.RunStatus), ("task", models.TaskStatus)],
)
def test_status_models_match_crd_schemas(kind: str, model: type[BaseModel]) -> None:
    assert _compare(model, _crd_schema(kind)["properties"]["status"], f"{kind}.status") == []


def test_status_patch_writes_nulls_and_whole_objects() -> None:
    status = models.ProjectStatus.model_validate(
        {"activeRun": "r1", "spec": {"version": 2, "approvedVersion": 2, "commitSha": "abc"}}
    )
    status.active_run = None
    status.spec = models.SpecState(version=3, documents={"SPEC.md": "x"})
    patch = models.status_patch(status, "active_run", "spec")
    assert patch["activeRun"] is None  # merge patch: remove the field
    assert patch["spec"]["version"] == 3
    # The old version's approval must not survive under the new version.
    assert patch["spec"]["approvedVersion"] is None and patch["spec"]["commitSha"] is None


def test_planned_tasks_keep_what_the_planner_wrote() -> None:
    stored = {
        "tasks": [{"id": "task-001", "slug": "a", "pathScope": ["a/**"], "kind": "x"}],
        "mergeOrder": ["task-001"],
    }
    plan = models.Plan.model_validate(stored)
    assert plan.tasks[0].dependencies == []
    dumped = plan.model_dump(by_alias=True)
    assert dumped["tasks"] == stored["tasks"]


def test_status_of_parses_a_resource_with_or_without_status() -> None:
    assert models.status_of(None, models.RunStatus) == models.RunStatus()
    run = {"spec": {"projectRef": {"name": "p"}}, "status": {"runNumber": 2, "phase": "merging"}}
    status = models.status_of(run, models.RunStatus)
    assert (status.run_number, status.phase) == (2, "merging")
    assert models.spec_of(run, models.RunSpec).parallelism == 3  # the CRD's default


def _undescribed(node: dict[str, Any], where: str) -> list[str]:
    """Every field (property, list item, map value) of a schema without a description:
    what `kubectl explain` would show empty."""
    missing = [] if node.get("description") else [where]
    for name, child in node.get("properties", {}).items():
        missing += _undescribed(child, f"{where}.{name}")
    if isinstance(node.get("items"), dict):
        missing += _undescribed(node["items"], f"{where}[]")
    if isinstance(node.get("additionalProperties"), dict):
        missing += _undescribed(node["additionalProperties"], f"{where}{{}}")
    return missing


def _field_count(node: dict[str, Any]) -> int:
    children = list(node.get("properties", {}).values())
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            children.append(node[key])
    return 1 + sum(_field_count(child) for child in children)


@pytest.mark.parametrize("kind", ["project", "run", "task"])
def test_every_crd_field_has_a_description(kind: str) -> None:
    schema = _crd_schema(kind)
    assert _field_count(schema) > 40  # the walk reaches the nested fields
    # The apiserver refuses anything but a type on metadata (kubectl explain shows
    # ObjectMeta's own documentation there).
    assert schema["properties"]["metadata"] == {"type": "object"}
    assert _undescribed(schema, kind) == [f"{kind}.metadata"]

"""prazium_kit.kinds: custom resources as read, with the kit's spec and status models."""

from __future__ import annotations

from prazium_kit import models
from prazium_kit.kinds import KINDS, PROJECT, RUN, TASK

RUN_OBJECT = {
    "apiVersion": "prazium.io/v1alpha1",
    "kind": "Run",
    "metadata": {
        "name": "shop-abc123-r7xk2",
        "namespace": "team-a",
        "generation": 2,
        "resourceVersion": "4711",
        "creationTimestamp": "2026-01-02T03:04:05Z",
        "labels": {"prazium.io/project": "shop-abc123"},
        "managedFields": [
            {"manager": "prazium-api", "time": "2026-01-02T03:04:05Z"},
            {"manager": "prazium-operator", "time": "2026-01-02T03:09:00Z"},
            {"manager": "kubectl"},
        ],
    },
    "spec": {"projectRef": {"name": "shop-abc123"}, "trigger": "retry", "parallelism": 2},
    "status": {
        "runNumber": 3,
        "phase": "verifying",
        "verificationResult": {"exitCode": 0, "durationSeconds": 3, "summary": "ok"},
    },
}


def test_metadata_is_read_as_kubernetes_sent_it() -> None:
    run = RUN.of(RUN_OBJECT)
    assert (run.name, run.namespace, run.generation) == ("shop-abc123-r7xk2", "team-a", 2)
    assert run.resource_version == "4711"
    assert run.created_at == "2026-01-02T03:04:05Z"
    assert run.updated_at == "2026-01-02T03:09:00Z"  # the newest write, not the creation
    assert run.labels == {"prazium.io/project": "shop-abc123"}


def test_updated_at_is_the_creation_without_managed_fields() -> None:
    project = PROJECT.of({"metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z"}})
    assert project.updated_at == project.created_at == "2026-01-01T00:00:00Z"


def test_spec_and_status_are_the_kits_models_parsed_once() -> None:
    run = RUN.of(RUN_OBJECT)
    assert isinstance(run.spec, models.RunSpec) and isinstance(run.status, models.RunStatus)
    assert (run.spec.trigger, run.spec.parallelism) == ("retry", 2)
    assert (run.status.run_number, run.status.phase) == (3, "verifying")
    assert run.spec is run.spec and run.status is run.status  # kept after the first parse


def test_a_resource_without_status_has_an_empty_one() -> None:
    task = TASK.of(
        {
            "metadata": {"name": "r-task-001", "namespace": "n"},
            "spec": {
                "runRef": {"name": "r"},
                "projectRef": {"name": "p"},
                "sequence": 1,
                "definition": {
                    "id": "task-001",
                    "slug": "shell",
                    "description": "The page shell",
                    "pathScope": ["app/**"],
                },
            },
        }
    )
    assert task.status == models.TaskStatus()
    assert task.spec.definition.path_scope == ["app/**"]


def test_a_stored_result_dumps_as_it_was_stored() -> None:
    """An answer that passes a status part on (a run's verificationResult) shows it as
    stored: no key added, an integral number not turned into a float."""
    result = RUN.of(RUN_OBJECT).status.verification_result
    assert result is not None
    dumped = result.model_dump(by_alias=True, exclude_unset=True, mode="json")
    assert dumped == RUN_OBJECT["status"]["verificationResult"]  # type: ignore[index]
    assert isinstance(dumped["durationSeconds"], int)


def test_kinds_by_plural() -> None:
    assert {plural: kind.name for plural, kind in KINDS.items()} == {
        "projects": "Project",
        "runs": "Run",
        "tasks": "Task",
    }


def test_phase_sets_are_subsets_of_the_phases() -> None:
    assert models.PROJECT_APPROVED_PHASES < models.PROJECT_SPEC_PHASES
    assert models.PROJECT_SPEC_PHASES.issubset(models.PROJECT_PHASES)
    assert models.TASK_WAITING_PHASES.issubset(models.TASK_PHASES)
    assert models.RUN_ACTIVE_PHASES.union(models.RUN_FINAL_PHASES) == set(models.RUN_PHASES)

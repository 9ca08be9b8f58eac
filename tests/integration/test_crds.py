"""The real kube-apiserver validates Prazium's custom resources."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from prazium_kit.kube import GROUP, VERSION
from tests.support.services import ROOT, Stack

pytestmark = pytest.mark.integration

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def _create(namespace: str, plural: str, body: dict) -> dict:
    return client.CustomObjectsApi().create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, body
    )


def _rejection(namespace: str, plural: str, body: dict) -> str:
    with pytest.raises(ApiException) as caught:
        _create(namespace, plural, body)
    assert caught.value.status == 422, caught.value.body
    return str(caught.value.body)


def _project(name: str = "demo", **spec: object) -> dict:
    base = {"displayName": "Demo", "description": "A notes app with search and login"}
    base.update(spec)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Project",
        "metadata": {"name": name},
        "spec": base,
    }


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_accepted(stack: Stack, namespace: str, example: Path) -> None:
    result = subprocess.run(
        [
            stack.kubectl,
            "--kubeconfig",
            stack.kubeconfig,
            "-n",
            namespace,
            "apply",
            "-f",
            str(example),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "created" in result.stdout


def test_crds_have_printer_columns_short_names_and_category(stack: Stack) -> None:
    api = client.ApiextensionsV1Api()
    for plural, short in (("projects", "pzproj"), ("runs", "pzrun"), ("tasks", "pztask")):
        crd = api.read_custom_resource_definition(f"{plural}.{GROUP}")
        assert short in crd.spec.names.short_names
        assert "prazium" in crd.spec.names.categories
        version = crd.spec.versions[0]
        assert version.subresources.status is not None
        assert any(col.name == "Phase" for col in version.additional_printer_columns)


def test_project_without_description_is_rejected(stack: Stack, namespace: str) -> None:
    body = _project()
    del body["spec"]["description"]
    message = _rejection(namespace, "projects", body)
    assert "spec.description: Required value" in message


def test_project_with_too_short_description_is_rejected(stack: Stack, namespace: str) -> None:
    message = _rejection(namespace, "projects", _project(description="app"))
    assert "spec.description: Invalid value" in message
    assert "should be at least 10 chars long" in message


def test_project_with_unknown_agent_is_rejected(stack: Stack, namespace: str) -> None:
    message = _rejection(namespace, "projects", _project(agent={"planner": "gpt-magic"}))
    assert 'spec.agent.planner: Unsupported value: \\"gpt-magic\\"' in message


def test_project_name_longer_than_40_is_rejected(stack: Stack, namespace: str) -> None:
    message = _rejection(namespace, "projects", _project(name="a" * 41))
    assert "metadata.name must be at most 40 characters" in message


def test_project_answer_with_bad_question_id_is_rejected(stack: Stack, namespace: str) -> None:
    message = _rejection(
        namespace, "projects", _project(answers=[{"questionId": "question one", "answer": "x"}])
    )
    assert "spec.answers[0].questionId: Invalid value" in message


def test_project_with_unknown_phase_in_status_is_rejected(stack: Stack, namespace: str) -> None:
    _create(namespace, "projects", _project())
    with pytest.raises(ApiException) as caught:
        client.CustomObjectsApi().patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, "projects", "demo", {"status": {"phase": "exploding"}}
        )
    assert caught.value.status == 422
    assert 'status.phase: Unsupported value: \\"exploding\\"' in str(caught.value.body)


def _run(**spec: object) -> dict:
    base: dict[str, object] = {"projectRef": {"name": "demo"}}
    base.update(spec)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Run",
        "metadata": {"name": "demo-run"},
        "spec": base,
    }


def test_run_with_negative_parallelism_is_rejected(stack: Stack, namespace: str) -> None:
    message = _rejection(namespace, "runs", _run(parallelism=-1))
    assert "spec.parallelism: Invalid value: -1" in message
    assert "should be greater than or equal to 1" in message


def test_run_with_unknown_trigger_is_rejected(stack: Stack, namespace: str) -> None:
    message = _rejection(namespace, "runs", _run(trigger="cron"))
    assert 'spec.trigger: Unsupported value: \\"cron\\"' in message


def test_run_defaults_are_applied_and_project_ref_is_immutable(
    stack: Stack, namespace: str
) -> None:
    created = _create(namespace, "runs", _run())
    assert created["spec"]["parallelism"] == 3
    assert created["spec"]["trigger"] == "manual"
    assert created["spec"]["cancel"] is False
    with pytest.raises(ApiException) as caught:
        client.CustomObjectsApi().patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "runs", "demo-run", {"spec": {"projectRef": {"name": "x"}}}
        )
    assert "spec.projectRef is immutable" in str(caught.value.body)


def test_task_with_bad_definition_id_and_empty_scope_is_rejected(
    stack: Stack, namespace: str
) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Task",
        "metadata": {"name": "t1"},
        "spec": {
            "runRef": {"name": "r"},
            "projectRef": {"name": "p"},
            "sequence": 1,
            "definition": {"id": "task-1", "slug": "Shell", "description": "d", "pathScope": []},
        },
    }
    message = _rejection(namespace, "tasks", body)
    assert "spec.definition.id: Invalid value" in message
    assert "spec.definition.slug: Invalid value" in message
    assert "spec.definition.pathScope: Invalid value" in message

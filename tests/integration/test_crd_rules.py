"""The rules the CRDs state, enforced by the real kube-apiserver (CEL validation and
transition rules, list keys, metav1.Condition's fields) and tried the way a
GitOps user meets them: `kubectl apply`. Each refusal carries the rule's own
message; what the operator and the API write is still accepted."""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from prazium_kit.kube import API_VERSION, GROUP, VERSION
from prazium_kit.models import Condition
from prazium_operator.status import conditions as operator_conditions
from tests.support import apistate
from tests.support.apistate import assert_error
from tests.support.services import ROOT, Stack, start_api, wait_for

pytestmark = pytest.mark.integration

Obj = dict[str, Any]


def _apply(stack: Stack, namespace: str, manifest: Obj) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [stack.kubectl, "--kubeconfig", stack.kubeconfig, "-n", namespace, "apply", "-f", "-"],
        input=json.dumps(manifest),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _applied(stack: Stack, namespace: str, manifest: Obj) -> None:
    result = _apply(stack, namespace, manifest)
    assert result.returncode == 0, result.stderr


def _refused(stack: Stack, namespace: str, manifest: Obj, *messages: str) -> str:
    result = _apply(stack, namespace, manifest)
    assert result.returncode != 0, f"accepted: {json.dumps(manifest)}"
    for message in messages:
        assert message in result.stderr, result.stderr
    return result.stderr


def _project(name: str = "shop", **spec: object) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": "Project",
        "metadata": {"name": name},
        "spec": {"displayName": "Shop", "description": "A shop with products and orders", **spec},
    }


def _run(name: str = "shop-r1", **spec: object) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": "Run",
        "metadata": {"name": name},
        "spec": {"projectRef": {"name": "shop"}, **spec},
    }


# --- Run -------------------------------------------------------------------------------


def test_a_retry_names_the_run_it_retries_and_only_a_retry_does(
    stack: Stack, namespace: str
) -> None:
    _refused(
        stack,
        namespace,
        _run(trigger="retry"),
        "spec.retryOf is required when spec.trigger is retry",
    )
    _refused(
        stack,
        namespace,
        _run(trigger="manual", retryOf="shop-r0"),
        "spec.retryOf is only for spec.trigger retry",
    )
    _applied(stack, namespace, _run(trigger="retry", retryOf="shop-r0"))
    _applied(stack, namespace, _run("shop-r2"))  # manual, the default, without retryOf


def test_cancel_cannot_be_taken_back(stack: Stack, namespace: str) -> None:
    _applied(stack, namespace, _run())
    _applied(stack, namespace, _run(cancel=False, parallelism=2))  # false -> false: fine
    _applied(stack, namespace, _run(cancel=True))
    message = "spec.cancel cannot be set back to false: a cancelled Run stays cancelled"
    _refused(stack, namespace, _run(cancel=False), message)
    # Leaving it out is the same request (the default, false, fills it in).
    _refused(stack, namespace, _run(), message)
    # Other fields of a cancelled Run still change; cancel stays true.
    _applied(stack, namespace, _run(cancel=True, parallelism=5))
    stored = client.CustomObjectsApi().get_namespaced_custom_object(
        GROUP, VERSION, namespace, "runs", "shop-r1"
    )
    assert stored["spec"]["cancel"] is True and stored["spec"]["parallelism"] == 5


# --- Project ---------------------------------------------------------------------------


def test_answers_are_typed_one_value_each_and_once_per_question(
    stack: Stack, namespace: str
) -> None:
    typed = [
        {"questionId": "q1", "answer": "Email/Password"},
        {"questionId": "q2", "choices": ["products", "orders"]},
        {"questionId": "q3", "boolean": False},
        {"questionId": "q4", "choices": []},
    ]
    _applied(stack, namespace, _project(answers=typed))
    stored = client.CustomObjectsApi().get_namespaced_custom_object(
        GROUP, VERSION, namespace, "projects", "shop"
    )
    assert stored["spec"]["answers"] == typed

    for bad, messages in (
        ({"questionId": "q1", "answer": 42}, ['spec.answers[0].answer: Invalid value: "integer"']),
        (
            {"questionId": "q1", "answer": True},
            ['spec.answers[0].answer: Invalid value: "boolean"'],
        ),
        ({"questionId": "q1", "answer": ["a"]}, ['spec.answers[0].answer: Invalid value: "array"']),
        (
            {"questionId": "q1", "answer": {"x": 1}},
            ['unknown field "spec.answers[0].answer.x"'],
        ),
        ({"questionId": "q1", "choices": ["a", 2]}, ["spec.answers[0].choices[1]: Invalid value"]),
        (
            {"questionId": "q1", "boolean": "yes"},
            ['spec.answers[0].boolean: Invalid value: "string"'],
        ),
        (
            {"questionId": "q1"},
            ["must validate at least one schema (anyOf)", "spec.answers[0].answer: Required value"],
        ),
        (
            {"questionId": "q1", "answer": "a", "choices": ["a"]},
            ["an answer has one value only: answer (text or single_choice)"],
        ),
        (
            {"questionId": "q1", "choices": ["a"], "boolean": True},
            ["an answer has one value only: answer (text or single_choice)"],
        ),
    ):
        _refused(stack, namespace, _project("typed", answers=[bad]), *messages)
    _refused(
        stack,
        namespace,
        _project("twice", answers=[{"questionId": "q1", "answer": "a"}] * 2),
        'spec.answers[1]: Duplicate value: {"questionId":"q1"}',
    )


def test_the_command_coder_needs_its_command(stack: Stack, namespace: str) -> None:
    _refused(
        stack,
        namespace,
        _project(agent={"coder": "command"}),
        "spec.agent.command is required when the coder is command",
    )
    _applied(stack, namespace, _project(agent={"coder": "command", "command": "make app"}))


def test_a_regeneration_revision_only_rises(stack: Stack, namespace: str) -> None:
    _applied(stack, namespace, _project(regenerate={"revision": 2}))
    _applied(stack, namespace, _project(regenerate={"revision": 3, "feedback": "More tests"}))
    _refused(
        stack,
        namespace,
        _project(regenerate={"revision": 1}),
        "spec.regenerate.revision may only be raised",
    )


def test_a_project_stored_before_answers_were_typed_still_takes_writes(
    stack: Stack, namespace: str
) -> None:
    """Ratcheting: a Project whose answers were written untyped (a boolean in answer,
    as the API wrote them before) takes every write that leaves its answers alone,
    the operator's status writes included. Tried on a copy of the Project CRD under a
    group of its own (installed with the old answer schema, then with today's)."""
    group = f"r{uuid.uuid4().hex[:8]}.prazium.test"
    crd = yaml.safe_load((ROOT / "crds" / "project.yaml").read_text())
    crd["metadata"] = {"name": f"projects.{group}"}
    crd["spec"]["group"] = group
    today = copy.deepcopy(crd)
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["answers"] = {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["questionId", "answer"],
            "properties": {
                "questionId": {"type": "string"},
                "answer": {"x-kubernetes-preserve-unknown-fields": True},
            },
        },
    }
    extensions = client.ApiextensionsV1Api()
    custom = client.CustomObjectsApi()
    extensions.create_custom_resource_definition(crd)
    try:
        wait_for(lambda: _served(group), 30, "the copied CRD to be served")
        old = _project(
            answers=[
                {"questionId": "q1", "answer": True},
                {"questionId": "q2", "answer": ["a", "b"]},
                {"questionId": "q3", "answer": "text"},
            ]
        )
        old["apiVersion"] = f"{group}/v1alpha1"
        custom.create_namespaced_custom_object(group, "v1alpha1", namespace, "projects", old)
        stored = extensions.read_custom_resource_definition(f"projects.{group}")
        today["metadata"]["resourceVersion"] = stored.metadata.resource_version
        extensions.replace_custom_resource_definition(f"projects.{group}", today)
        probes = iter(range(1000))

        def typed_schema_in_effect() -> bool:
            probe = _project(f"probe-{next(probes)}", answers=[{"questionId": "q1", "answer": 7}])
            probe["apiVersion"] = f"{group}/v1alpha1"
            try:
                custom.create_namespaced_custom_object(
                    group, "v1alpha1", namespace, "projects", probe
                )
            except ApiException as exc:
                assert exc.status == 422, exc.body
                return True
            return False

        wait_for(typed_schema_in_effect, 30, "the typed answer schema to take effect")

        def patch(body: Obj, status: bool = False) -> None:
            write = (
                custom.patch_namespaced_custom_object_status
                if status
                else custom.patch_namespaced_custom_object
            )
            write(group, "v1alpha1", namespace, "projects", "shop", body)

        patch({"spec": {"displayName": "Shop renamed"}})
        ready = operator_conditions.build(
            None, 2, ready=True, reconciling=False, stalled=False, reason="Built", message="ok"
        )
        dumped = [c.model_dump(by_alias=True, exclude_none=True) for c in ready]
        patch({"status": {"conditions": dumped}}, status=True)
        # Changing the answers means writing them typed.
        with pytest.raises(ApiException) as caught:
            patch({"spec": {"answers": [{"questionId": "q1", "answer": False}]}})
        assert caught.value.status == 422, caught.value.body
        patch({"spec": {"answers": [{"questionId": "q1", "boolean": False}]}})
    finally:
        extensions.delete_custom_resource_definition(f"projects.{group}")


def _served(group: str) -> bool:
    try:
        client.CustomObjectsApi().list_cluster_custom_object(group, "v1alpha1", "projects")
    except ApiException:
        return False
    return True


# --- Conditions ------------------------------------------------------------------------

CONDITION = {
    "type": "Ready",
    "status": "True",
    "reason": "Succeeded",
    "message": "the run succeeded",
    "lastTransitionTime": "2024-01-15T11:00:00Z",
    "observedGeneration": 1,
}


@pytest.fixture
def resources(namespace: str) -> Iterator[list[tuple[str, str]]]:
    """A Project, a Run and a Task to write statuses to: (plural, name)."""
    apistate.create_project(namespace, "shop")
    apistate.create_run(namespace, "shop", "shop-r1")
    apistate.create_task(namespace, "shop", "shop-r1", 1, "shell")
    yield [("projects", "shop"), ("runs", "shop-r1"), ("tasks", "shop-r1-task-001")]


def _status_refused(namespace: str, plural: str, name: str, condition: Obj) -> str:
    with pytest.raises(ApiException) as caught:
        apistate.set_status(namespace, plural, name, {"conditions": [condition]})
    assert caught.value.status == 422, caught.value.body
    return str(caught.value.body)


def test_conditions_have_the_fields_of_metav1_condition(
    namespace: str, resources: list[tuple[str, str]]
) -> None:
    for plural, name in resources:
        for broken, message in (
            ({"reason": "not camel case"}, "status.conditions[0].reason: Invalid value"),
            ({"reason": ""}, "status.conditions[0].reason: Invalid value"),
            ({"type": "Ready now"}, "status.conditions[0].type: Invalid value"),
            ({"status": "Maybe"}, 'status.conditions[0].status: Unsupported value: \\"Maybe\\"'),
            ({"lastTransitionTime": "yesterday"}, "status.conditions[0].lastTransitionTime"),
            ({"observedGeneration": -1}, "status.conditions[0].observedGeneration"),
            ({"message": "x" * 32769}, "status.conditions[0].message: Too long"),
        ):
            body = _status_refused(namespace, plural, name, {**CONDITION, **broken})
            assert message in body, (plural, broken, body)
        for missing in ("reason", "message", "lastTransitionTime"):
            without = {k: v for k, v in CONDITION.items() if k != missing}
            body = _status_refused(namespace, plural, name, without)
            assert f"status.conditions[0].{missing}: Required value" in body, body
        apistate.set_status(namespace, plural, name, {"conditions": [CONDITION]})


def test_what_the_operator_writes_as_conditions_is_accepted(
    namespace: str, resources: list[tuple[str, str]]
) -> None:
    """The operator's own condition builders (the phase table's three conditions, a
    stalled Project, a run's Published) against the apiserver's rules."""
    phase = operator_conditions.build(
        None, 3, ready=False, reconciling=False, stalled=True, reason="AgentFailed", message=""
    )
    long_message = operator_conditions.build(
        phase,
        None,
        ready=True,
        reconciling=False,
        stalled=False,
        reason="Built",
        message="x" * 5000,
    )
    published = Condition(
        type="Published",
        status="False",
        reason="PublishFailed",
        message="publishing failed",
        lastTransitionTime="2024-01-15T11:00:00Z",
        observedGeneration=1,
    )
    for plural, name in resources:
        for conditions in (phase, long_message, [*long_message, published]):
            written = apistate.set_status(
                namespace,
                plural,
                name,
                {
                    "conditions": [
                        c.model_dump(by_alias=True, exclude_none=True) for c in conditions
                    ]
                },
            )
            assert [c["type"] for c in written["status"]["conditions"]] == [
                c.type for c in conditions
            ]


# --- The API's writes ------------------------------------------------------------------


def test_the_api_writes_answers_typed_and_answers_them_as_sent(
    stack: Stack, namespace: str, api_key: str, data_dir: Path, tmp_path: Path
) -> None:
    """Text, a list of choices and a yes/no through POST .../answers land in the
    Project's typed fields and read back as they were sent (no operator runs here:
    the write is recorded, the wait for the spec times out at once)."""
    apistate.create_project(namespace, "shop")
    questions = [
        {"id": "q1", "question": "Sign-in?", "type": "single_choice", "options": ["A", "B"]},
        {"id": "q2", "question": "Records?", "type": "multi_choice", "options": ["a", "b"]},
        {"id": "q3", "question": "Link orders?", "type": "boolean"},
        {"id": "q4", "question": "Anything else?", "type": "text"},
    ]
    apistate.set_status(namespace, "projects", "shop", {"questions": questions})
    proc, base = start_api(stack, data_dir, tmp_path / "logs", PRAZIUM_SYNC_TIMEOUT_SECONDS="0.5")
    sent = [
        {"questionId": "q1", "answer": "B"},
        {"questionId": "q2", "answer": ["a", "b"]},
        {"questionId": "q3", "answer": False},
        {"questionId": "q4", "answer": "true"},
    ]
    try:
        with httpx.Client(
            base_url=f"{base}/v1", timeout=30, headers={"Authorization": f"Bearer {api_key}"}
        ) as http:
            error = assert_error(
                http.post("/projects/proj_shop/answers", json={"answers": sent}),
                500,
                "INTERNAL_ERROR",
            )
            assert error["details"]["reason"] == "OPERATOR_TIMEOUT", error
            assert http.get("/projects/proj_shop").json()["data"]["answers"] == sent
    finally:
        proc.stop()
    stored = client.CustomObjectsApi().get_namespaced_custom_object(
        GROUP, VERSION, namespace, "projects", "shop"
    )
    assert stored["spec"]["answers"] == [
        {"questionId": "q1", "answer": "B"},
        {"questionId": "q2", "choices": ["a", "b"]},
        {"questionId": "q3", "boolean": False},
        {"questionId": "q4", "answer": "true"},
    ]

"""The chart's least-privilege RBAC rules are enough, and no more, for real."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kubernetes import client

from tests.support.build import kubectl_apply, wait_phase, wait_run_done
from tests.support.rbac import delete_cluster_role, service_account_kubeconfig
from tests.support.services import ROOT, Stack, start_operator

EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.integration


def _can_i(stack: Stack, kubeconfig: Path, *args: str) -> bool:
    result = subprocess.run(
        [stack.kubectl, "--kubeconfig", str(kubeconfig), "auth", "can-i", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() == "yes"


@pytest.mark.parametrize("component", ["operator", "api"])
def test_chart_rules_grant_no_secret_listing_and_no_cluster_admin(
    stack: Stack, namespace: str, tmp_path: Path, component: str
) -> None:
    kubeconfig, role = service_account_kubeconfig(
        stack.kubeconfig, namespace, component, tmp_path / "kubeconfig"
    )
    try:
        assert _can_i(stack, kubeconfig, "create", "runs.prazium.io", "-n", namespace)
        # The operator reads a Secret by name for spec.publish; neither lists any.
        assert _can_i(stack, kubeconfig, "get", "secrets", "-n", namespace) is (
            component == "operator"
        )
        assert not _can_i(stack, kubeconfig, "list", "secrets", "-A")
        assert not _can_i(stack, kubeconfig, "watch", "secrets", "-n", namespace)
        assert not _can_i(stack, kubeconfig, "delete", "namespaces")
        assert not _can_i(stack, kubeconfig, "create", "clusterrolebindings")
        assert not _can_i(stack, kubeconfig, "create", "pods", "-n", namespace)
        assert not _can_i(stack, kubeconfig, "delete", "customresourcedefinitions")
        # Worker Jobs: the operator's own (release) namespace only, never a tenant's.
        assert _can_i(stack, kubeconfig, "create", "jobs.batch", "-n", namespace) is (
            component == "operator"
        )
        assert _can_i(stack, kubeconfig, "deletecollection", "jobs.batch", "-n", namespace) is (
            component == "operator"
        )
        assert not _can_i(stack, kubeconfig, "create", "jobs.batch", "-n", "some-tenant")
        assert not _can_i(stack, kubeconfig, "list", "jobs.batch", "-A")
        assert not _can_i(stack, kubeconfig, "list", "pods", "-n", "some-tenant")
    finally:
        delete_cluster_role(role)


def test_operator_builds_a_project_with_only_the_chart_rules(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
) -> None:
    """A whole build - questions, spec, approval, run, tasks, events - as the chart's
    operator ServiceAccount: anything the chart forgot to grant fails it."""
    kubeconfig, role = service_account_kubeconfig(
        stack.kubeconfig, namespace, "operator", tmp_path / "kubeconfig"
    )
    proc = start_operator(
        stack, data_dir, [namespace], tmp_path / "logs", PRAZIUM_KUBECONFIG=str(kubeconfig)
    )
    try:
        kubectl_apply(stack, namespace, EXAMPLES / "project-answered.yaml")
        wait_phase(namespace, "projects", "todo-answered", {"approved"}, proc)
        kubectl_apply(stack, namespace, EXAMPLES / "run.yaml")
        run = wait_run_done(namespace, "todo-answered-build", proc)
        assert run["status"]["phase"] == "succeeded", run["status"].get("message")
        assert run["status"]["verificationResult"]["exitCode"] == 0
        # The story reached `kubectl describe` too (Events need their own grant).
        events = (
            client.CoreV1Api()
            .list_namespaced_event(
                namespace, field_selector="involvedObject.name=todo-answered-build"
            )
            .items
        )
        assert events, "no Kubernetes Event was recorded on the Run"
        log = proc.log_tail(2000)
        assert "forbidden" not in log.lower(), log
    finally:
        proc.stop()
        delete_cluster_role(role)

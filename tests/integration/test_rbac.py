"""The chart's least-privilege RBAC rules are enough, and no more, for real."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kubernetes import client

from prazium_operator.kube import GROUP, VERSION
from tests.support.rbac import delete_cluster_role, service_account_kubeconfig
from tests.support.services import Stack, start_operator, wait_for

pytestmark = pytest.mark.integration


def _can_i(stack: Stack, kubeconfig: Path, *args: str) -> bool:
    result = subprocess.run(
        [stack.kubectl, "--kubeconfig", str(kubeconfig), "auth", "can-i", *args],
        capture_output=True, text=True, check=False,
    )
    return result.stdout.strip() == "yes"


@pytest.mark.parametrize("component", ["operator", "api"])
def test_chart_rules_grant_no_secrets_and_no_cluster_admin(
    stack: Stack, namespace: str, tmp_path: Path, component: str
) -> None:
    kubeconfig, role = service_account_kubeconfig(
        stack.kubeconfig, namespace, component, tmp_path / "kubeconfig"
    )
    try:
        assert _can_i(stack, kubeconfig, "create", "runs.prazium.io", "-n", namespace)
        assert not _can_i(stack, kubeconfig, "get", "secrets", "-n", namespace)
        assert not _can_i(stack, kubeconfig, "list", "secrets", "-A")
        assert not _can_i(stack, kubeconfig, "delete", "namespaces")
        assert not _can_i(stack, kubeconfig, "create", "clusterrolebindings")
        assert not _can_i(stack, kubeconfig, "create", "pods", "-n", namespace)
        assert not _can_i(stack, kubeconfig, "delete", "customresourcedefinitions")
    finally:
        delete_cluster_role(role)


def test_operator_reconciles_with_only_the_chart_rules(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
) -> None:
    kubeconfig, role = service_account_kubeconfig(
        stack.kubeconfig, namespace, "operator", tmp_path / "kubeconfig"
    )
    proc = start_operator(stack, data_dir, [namespace], tmp_path / "logs",
                          PRAZIUM_KUBECONFIG=str(kubeconfig))
    try:
        client.CustomObjectsApi().create_namespaced_custom_object(
            GROUP, VERSION, namespace, "projects",
            {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Project",
             "metadata": {"name": "rbac-check"},
             "spec": {"displayName": "RBAC", "description": "A bookmarks app with tags"}},
        )

        def phase() -> str | None:
            project = client.CustomObjectsApi().get_namespaced_custom_object(
                GROUP, VERSION, namespace, "projects", "rbac-check")
            return project.get("status", {}).get("phase")

        assert wait_for(phase, 30, "the operator (as its ServiceAccount) to set a phase", proc)
        log = proc.log_tail(400)
        assert "Forbidden" not in log and "forbidden" not in log, log
    finally:
        proc.stop()
        delete_cluster_role(role)

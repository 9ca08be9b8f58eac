"""The chart's least-privilege RBAC rules are enough, and no more, for real."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from tests.support.build import kubectl_apply, wait_phase, wait_run_done
from tests.support.rbac import delete_cluster_role, service_account_kubeconfig, token_kubeconfig
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
        # Neither reads a Secret anywhere with its cluster-wide rights: the operator reads
        # publish credentials only where a tenant's RoleBinding lets it (below).
        for where in (namespace, "kube-system", "default"):
            assert not _can_i(stack, kubeconfig, "get", "secrets", "-n", where), where
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


RBAC_KINDS = {
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}


def _kubectl(
    stack: Stack, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [stack.kubectl, "--kubeconfig", stack.kubeconfig, *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def _chart_rbac(namespace: str, release: str, *values: str) -> str:
    helm = os.environ.get("PRAZIUM_TEST_HELM")
    if not helm:
        pytest.fail("PRAZIUM_TEST_HELM is not set: run `make test`")
    rendered = subprocess.run(
        # --kube-version: the chart's minimum (Chart.yaml); helm template assumes 1.20.
        [
            helm,
            "template",
            release,
            str(ROOT / "charts" / "prazium"),
            "-n",
            namespace,
            "--kube-version",
            "1.30.0",
            *values,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] in RBAC_KINDS]
    return yaml.safe_dump_all(docs)


def test_api_workload_rights_exist_only_in_tenant_namespaces_it_set_up(
    stack: Stack, namespace: str, tmp_path: Path
) -> None:
    """The chart's own RBAC and admission policy, applied for real: the API's
    ServiceAccount runs create-key (as NOTES say), which makes the tenant namespace
    and binds the tenant ClusterRole there; it holds workload rights in that
    namespace and nowhere else, and cannot bind itself anything elsewhere."""
    release = f"r{uuid.uuid4().hex[:6]}"
    full = f"{release}-prazium"
    api_user = f"system:serviceaccount:{namespace}:{full}-api"
    tenant = f"tenant-{uuid.uuid4().hex[:6]}"
    manifests = _chart_rbac(namespace, release)
    applied = _kubectl(stack, "apply", "-f", "-", stdin=manifests)
    assert applied.returncode == 0, applied.stderr
    kubeconfig = token_kubeconfig(stack.kubeconfig, namespace, f"{full}-api", tmp_path / "api")
    try:
        # The policy is in force once a server-side dry run of an unlabelled
        # Namespace is refused (policies take a moment to load).
        def refused_namespace() -> bool:
            result = subprocess.run(
                [
                    stack.kubectl,
                    "--kubeconfig",
                    str(kubeconfig),
                    "create",
                    "namespace",
                    f"not-a-tenant-{uuid.uuid4().hex[:4]}",
                    "--dry-run=server",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            return result.returncode != 0 and "tenant namespaces" in result.stderr

        deadline = time.monotonic() + 60
        while not refused_namespace():
            assert time.monotonic() < deadline, "the admission policy never took effect"
            time.sleep(1)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PRAZIUM_")},
            "PRAZIUM_KUBECONFIG": str(kubeconfig),
            "PRAZIUM_DATABASE_URL": stack.database_url,
            "PRAZIUM_TENANT_CLUSTER_ROLE": f"{full}-tenant",
            "PRAZIUM_TENANT_SERVICE_ACCOUNT": f"{namespace}/{full}-api",
            "PRAZIUM_OPERATOR_TENANT_CLUSTER_ROLE": f"{full}-operator-tenant",
            "PRAZIUM_OPERATOR_SERVICE_ACCOUNT": f"{namespace}/{full}-operator",
        }
        operator_user = f"system:serviceaccount:{namespace}:{full}-operator"
        # Before the tenant exists the operator reads no Secret anywhere.
        for where in ("kube-system", "default", namespace):
            assert not _can_i(
                stack, Path(stack.kubeconfig), "--as", operator_user, "get", "secrets", "-n", where
            ), where
        created = subprocess.run(
            [sys.executable, "-m", "prazium_api.admin_cli", "create-key", "--tenant", tenant],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert created.returncode == 0, created.stderr
        assert created.stdout.strip().startswith("pzm_")
        assert f"bound {full}-tenant to the API in {tenant}" in created.stderr

        assert _can_i(
            stack, Path(stack.kubeconfig), "--as", api_user, "delete", "configmaps", "-n", tenant
        )
        assert _can_i(
            stack,
            Path(stack.kubeconfig),
            "--as",
            api_user,
            "create",
            "deployments.apps",
            "-n",
            tenant,
        )
        assert _can_i(
            stack, Path(stack.kubeconfig), "--as", api_user, "delete", "services", "-n", tenant
        )
        # A preview's data claim, in the tenant's namespace; never a PersistentVolume.
        for verb in ("create", "delete"):
            assert _can_i(
                stack,
                Path(stack.kubeconfig),
                "--as",
                api_user,
                verb,
                "persistentvolumeclaims",
                "-n",
                tenant,
            )
        assert not _can_i(
            stack, Path(stack.kubeconfig), "--as", api_user, "create", "persistentvolumes"
        )
        for other in ("kube-system", "default", namespace):
            for verb, resource in (
                ("delete", "configmaps"),
                ("create", "deployments.apps"),
                ("delete", "services"),
                ("create", "persistentvolumeclaims"),
                ("get", "secrets"),
            ):
                assert not _can_i(
                    stack, Path(stack.kubeconfig), "--as", api_user, verb, resource, "-n", other
                ), (verb, resource, other)
        assert not _can_i(
            stack, Path(stack.kubeconfig), "--as", api_user, "get", "secrets", "-n", tenant
        )
        # The operator reads Secrets (publish credentials) in the tenant's namespace, by
        # name only, and still nowhere else.
        admin = Path(stack.kubeconfig)
        assert _can_i(stack, admin, "--as", operator_user, "get", "secrets", "-n", tenant)
        assert not _can_i(stack, admin, "--as", operator_user, "list", "secrets", "-n", tenant)
        for other in ("kube-system", "default", namespace):
            assert not _can_i(stack, admin, "--as", operator_user, "get", "secrets", "-n", other)
        assert not _can_i(stack, Path(stack.kubeconfig), "--as", api_user, "delete", "namespaces")
        # RBAC alone would let it bind the tenant role in kube-system; the policy says no.
        escalate = subprocess.run(
            [
                stack.kubectl,
                "--kubeconfig",
                str(kubeconfig),
                "-n",
                "kube-system",
                "create",
                "rolebinding",
                "escalate",
                f"--clusterrole={full}-tenant",
                f"--serviceaccount={namespace}:{full}-api",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert escalate.returncode != 0
        assert "binds roles only in tenant namespaces" in escalate.stderr, escalate.stderr
        # Nor another role (or subject) in its own tenant namespace.
        other_role = subprocess.run(
            [
                stack.kubectl,
                "--kubeconfig",
                str(kubeconfig),
                "-n",
                tenant,
                "create",
                "rolebinding",
                "other",
                f"--clusterrole={full}-tenant",
                f"--serviceaccount={namespace}:{full}-operator",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert other_role.returncode != 0
        assert "tenant ClusterRole to itself" in other_role.stderr, other_role.stderr
        # Nor the operator's tenant role to itself (it would read the tenant's Secrets).
        secrets_to_api = subprocess.run(
            [
                stack.kubectl,
                "--kubeconfig",
                str(kubeconfig),
                "-n",
                tenant,
                "create",
                "rolebinding",
                "secrets",
                f"--clusterrole={full}-operator-tenant",
                f"--serviceaccount={namespace}:{full}-api",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert secrets_to_api.returncode != 0
        assert "tenant ClusterRole to the operator" in secrets_to_api.stderr, secrets_to_api.stderr
        # A second key for the tenant finds the binding in place.
        again = subprocess.run(
            [sys.executable, "-m", "prazium_api.admin_cli", "create-key", "--tenant", tenant],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert again.returncode == 0, again.stderr
    finally:
        _kubectl(stack, "delete", "--ignore-not-found", "-f", "-", stdin=manifests)
        _kubectl(stack, "delete", "namespace", tenant, "--ignore-not-found", "--wait=false")


def test_operator_namespaces_give_the_operator_roles_there_and_no_cluster_wide_rights(
    stack: Stack, namespace: str
) -> None:
    """operator.namespaces: the chart's RBAC applied for real grants the operator its
    rights on Prazium objects and publish Secrets in those namespaces, by Roles, and
    none of them anywhere else."""
    release = f"r{uuid.uuid4().hex[:6]}"
    full = f"{release}-prazium"
    watched = f"watched-{uuid.uuid4().hex[:6]}"
    client.CoreV1Api().create_namespace({"metadata": {"name": watched}})
    manifests = _chart_rbac(namespace, release, "--set", f"operator.namespaces={{{watched}}}")
    docs = list(yaml.safe_load_all(manifests))
    cluster_rules = [
        rule
        for doc in docs
        if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] == f"{full}-operator"
        for rule in doc["rules"]
    ]
    assert {r for rule in cluster_rules for r in rule["resources"]} == {
        "customresourcedefinitions",
        "namespaces",
        "nodes",  # read only: which nodes are lost
    }
    applied = _kubectl(stack, "apply", "-f", "-", stdin=manifests)
    assert applied.returncode == 0, applied.stderr
    admin = Path(stack.kubeconfig)
    user = f"system:serviceaccount:{namespace}:{full}-operator"
    try:
        for verb, resource in (
            ("create", "runs.prazium.io"),
            ("patch", "tasks.prazium.io/status"),
            ("create", "events"),
            ("get", "secrets"),
        ):
            assert _can_i(stack, admin, "--as", user, verb, resource, "-n", watched), resource
            for other in ("default", "kube-system"):
                assert not _can_i(stack, admin, "--as", user, verb, resource, "-n", other), (
                    resource,
                    other,
                )
        assert not _can_i(stack, admin, "--as", user, "list", "runs.prazium.io", "-A")
        assert not _can_i(stack, admin, "--as", user, "list", "secrets", "-n", watched)
        assert _can_i(stack, admin, "--as", user, "list", "customresourcedefinitions")
    finally:
        _kubectl(stack, "delete", "--ignore-not-found", "-f", "-", stdin=manifests)
        _kubectl(stack, "delete", "namespace", watched, "--ignore-not-found", "--wait=false")

"""Run Prazium's processes as a ServiceAccount holding exactly the chart's RBAC rules."""

from __future__ import annotations

import uuid
from pathlib import Path

import yaml
from kubernetes import client

from tests.support.services import ROOT

CHART_FILES = ROOT / "charts" / "prazium" / "files"


def chart_rules(component: str) -> list[dict]:
    """The rules the Helm chart grants a component cluster-wide (with every namespace
    watched): files/<component>-rules.yaml and <component>-cluster-rules.yaml."""
    rules: list[dict] = yaml.safe_load((CHART_FILES / f"{component}-rules.yaml").read_text())
    cluster = CHART_FILES / f"{component}-cluster-rules.yaml"
    if cluster.is_file():
        rules += yaml.safe_load(cluster.read_text())
    return rules


def chart_file_rules(name: str) -> list[dict]:
    """The rules of one of the chart's files/<name>-rules.yaml as they are."""
    return yaml.safe_load((CHART_FILES / f"{name}-rules.yaml").read_text())


def bind_in_namespace(
    namespace: str, service_account: str, sa_namespace: str, rules: list[dict]
) -> str:
    """A Role with rules in namespace, bound to a ServiceAccount: what create-key's
    RoleBinding of a tenant ClusterRole grants there. Returns its name (deleted with the
    namespace)."""
    name = f"prazium-tenant-{uuid.uuid4().hex[:6]}"
    rbac = client.RbacAuthorizationV1Api()
    rbac.create_namespaced_role(namespace, {"metadata": {"name": name}, "rules": rules})
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [
                {"kind": "ServiceAccount", "name": service_account, "namespace": sa_namespace}
            ],
        },
    )
    return name


def has_namespace_rules(component: str) -> bool:
    """Whether the chart also grants the component a Role in the release namespace
    (files/<component>-namespace-rules.yaml)."""
    return (CHART_FILES / f"{component}-namespace-rules.yaml").is_file()


def service_account_kubeconfig(
    admin_kubeconfig: str, namespace: str, component: str, out: Path
) -> tuple[Path, str]:
    """Create a ServiceAccount in `namespace` (the release namespace) bound to a
    ClusterRole with the chart's rules and, as the chart does, to a Role in that
    namespace with its namespace rules; write a kubeconfig that authenticates with a
    token for it. Returns (path, role name)."""
    name = f"prazium-{component}-{uuid.uuid4().hex[:6]}"
    core, rbac = client.CoreV1Api(), client.RbacAuthorizationV1Api()
    core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    subjects = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
    rbac.create_cluster_role({"metadata": {"name": name}, "rules": chart_rules(component)})
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": subjects,
        }
    )
    if has_namespace_rules(component):
        rbac.create_namespaced_role(
            namespace, {"metadata": {"name": name}, "rules": chart_rules(f"{component}-namespace")}
        )
        rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": subjects,
            },
        )
    lease_rules = CHART_FILES / f"{component}-node-lease-rules.yaml"
    if lease_rules.is_file():
        # The chart's Role in kube-node-lease (the kubelets' Leases).
        bind_in_namespace(
            "kube-node-lease", name, namespace, chart_file_rules(f"{component}-node-lease")
        )
    token_kubeconfig(admin_kubeconfig, namespace, name, out)
    return out, name


def delete_cluster_role(name: str) -> None:
    rbac = client.RbacAuthorizationV1Api()
    rbac.delete_cluster_role_binding(name)
    rbac.delete_cluster_role(name)


def token_kubeconfig(
    admin_kubeconfig: str, namespace: str, service_account: str, out: Path
) -> Path:
    """Write a kubeconfig that authenticates as an existing ServiceAccount (a token)."""
    token = (
        client.CoreV1Api()
        .create_namespaced_service_account_token(
            service_account, namespace, {"spec": {"expirationSeconds": 3600}}
        )
        .status.token
    )
    admin = yaml.safe_load(Path(admin_kubeconfig).read_text())
    cluster = admin["clusters"][0]
    name = service_account
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": cluster["name"], "user": name}}],
        "current-context": name,
    }
    out.write_text(yaml.safe_dump(config))
    out.chmod(0o600)
    return out

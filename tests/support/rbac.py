"""Run Prazium's processes as a ServiceAccount holding exactly the chart's RBAC rules."""

from __future__ import annotations

import uuid
from pathlib import Path

import yaml
from kubernetes import client

from tests.support.services import ROOT

CHART_FILES = ROOT / "charts" / "prazium" / "files"


def chart_rules(component: str) -> list[dict]:
    """The rules the Helm chart grants a component (files/<component>-rules.yaml)."""
    return yaml.safe_load((CHART_FILES / f"{component}-rules.yaml").read_text())


def service_account_kubeconfig(admin_kubeconfig: str, namespace: str, component: str,
                               out: Path) -> tuple[Path, str]:
    """Create a ServiceAccount bound to a ClusterRole with the chart's rules; write a
    kubeconfig that authenticates with a token for it. Returns (path, role name)."""
    name = f"prazium-{component}-{uuid.uuid4().hex[:6]}"
    core, rbac = client.CoreV1Api(), client.RbacAuthorizationV1Api()
    core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    rbac.create_cluster_role({"metadata": {"name": name}, "rules": chart_rules(component)})
    rbac.create_cluster_role_binding({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    })
    token = core.create_namespaced_service_account_token(
        name, namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    admin = yaml.safe_load(Path(admin_kubeconfig).read_text())
    cluster = admin["clusters"][0]
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": cluster["name"], "user": name}}],
        "current-context": name,
    }
    out.write_text(yaml.safe_dump(config))
    out.chmod(0o600)
    return out, name


def delete_cluster_role(name: str) -> None:
    rbac = client.RbacAuthorizationV1Api()
    rbac.delete_cluster_role_binding(name)
    rbac.delete_cluster_role(name)

"""A tenant namespace and the platform's rights in it.

In a cluster (the Helm chart) neither the API's nor the operator's ServiceAccount holds
cluster-wide rights on a tenant's workloads or Secrets: create-key binds the tenant
ClusterRole (preview Deployments, Services, ConfigMaps) to the API and the operator's
tenant ClusterRole (get secrets: publish credentials) to the operator, each by a
RoleBinding in the tenant's namespace, so those rights exist in tenant namespaces
only. The namespace is labelled prazium.io/tenant=true: the chart's admission policy
lets the API create RoleBindings only in namespaces so labelled, and only these two.
"""

from __future__ import annotations

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from prazium_api.settings import ApiSettings

TENANT_LABEL = "prazium.io/tenant"


class NotATenant(ValueError):
    """A namespace that exists but is not one of Prazium's tenants."""


def is_tenant(namespace: client.V1Namespace) -> bool:
    """Whether Prazium made the namespace a tenant (or an admin labelled it one):
    kube-system, default or another team's namespace never is."""
    labels = (namespace.metadata.labels if namespace.metadata else None) or {}
    return labels.get(TENANT_LABEL) == "true"


def ensure_namespace(name: str) -> bool:
    """Create the tenant namespace if missing; True when it was created. An existing
    namespace must be a tenant already (NotATenant otherwise)."""
    core = client.CoreV1Api()
    try:
        existing = core.read_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise
    else:
        if not is_tenant(existing):
            raise NotATenant(
                f"namespace {name} exists but is not a Prazium tenant; make it one with"
                f" `kubectl label namespace {name} {TENANT_LABEL}=true` if it should be"
            )
        return False
    labels = {"app.kubernetes.io/part-of": "prazium", TENANT_LABEL: "true"}
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))
    )
    return True


def grant_api(settings: ApiSettings, namespace: str) -> bool:
    """Bind the tenant ClusterRole to the API in `namespace`, and the operator's tenant
    ClusterRole to the operator; True when the API's binding was made, False when it
    exists or none is configured (a local run)."""
    _bind(
        namespace,
        settings.operator_tenant_cluster_role,
        settings.operator_service_account,
        "PRAZIUM_OPERATOR_SERVICE_ACCOUNT",
    )
    return _bind(
        namespace,
        settings.tenant_cluster_role,
        settings.tenant_service_account,
        "PRAZIUM_TENANT_SERVICE_ACCOUNT",
    )


def _bind(namespace: str, cluster_role: str, service_account: str, setting: str) -> bool:
    """A RoleBinding named after cluster_role in namespace, to service_account
    ("<namespace>/<name>"); True when made, False when it exists or either is unset."""
    if not cluster_role or not service_account:
        return False
    sa_namespace, _, sa_name = service_account.partition("/")
    if not sa_namespace or not sa_name:
        raise ValueError(f"{setting} must be <namespace>/<name>, not {service_account!r}")
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": cluster_role,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "prazium"},
        },
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": cluster_role,
        },
        "subjects": [{"kind": "ServiceAccount", "name": sa_name, "namespace": sa_namespace}],
    }
    try:
        client.RbacAuthorizationV1Api().create_namespaced_role_binding(namespace, binding)  # type: ignore[arg-type]
    except ApiException as exc:
        if exc.status == 409:
            return False
        raise
    return True

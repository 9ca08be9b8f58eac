"""A tenant namespace and the API's rights in it.

In a cluster (the Helm chart) the API's ServiceAccount holds no cluster-wide rights
on workloads: create-key binds the tenant ClusterRole (preview Deployments,
Services, ConfigMaps) to it by a RoleBinding in the tenant's namespace, so those
rights exist in tenant namespaces only. The namespace is labelled
prazium.io/tenant=true: the chart's admission policy lets the API create RoleBindings
only in namespaces so labelled, and only this one.
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


def binding_name(settings: ApiSettings) -> str:
    return settings.tenant_cluster_role


def grant_api(settings: ApiSettings, namespace: str) -> bool:
    """Bind the tenant ClusterRole to the API in `namespace`; True when a binding was
    made, False when one exists or none is configured (a local run)."""
    if not settings.tenant_cluster_role or not settings.tenant_service_account:
        return False
    sa_namespace, _, sa_name = settings.tenant_service_account.partition("/")
    if not sa_namespace or not sa_name:
        raise ValueError(
            "PRAZIUM_TENANT_SERVICE_ACCOUNT must be <namespace>/<name>,"
            f" not {settings.tenant_service_account!r}"
        )
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": binding_name(settings),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "prazium"},
        },
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": settings.tenant_cluster_role,
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

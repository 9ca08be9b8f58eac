"""Kubernetes client set-up and the names of Prazium's custom resources."""

from __future__ import annotations

from typing import Any

from kubernetes import client, config

GROUP = "prazium.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
PROJECTS = "projects"
RUNS = "runs"
TASKS = "tasks"

# Labels that let a Run's Tasks and a Project's Runs be listed with a selector.
LABEL_PROJECT = "prazium.io/project"
LABEL_RUN = "prazium.io/run"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"


def load_config(kubeconfig: str = "") -> None:
    """In-cluster config when running in a Pod, else the given or default kubeconfig."""
    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig)
        return
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()


def share_client(pool_size: int) -> None:
    """One ApiClient for the process: every kubernetes.client *Api() made without an
    api_client uses it, so calls reuse kept-alive TLS connections instead of building
    a client (connection pool, TLS handshake) per call. Call after load_config."""
    configuration = client.Configuration.get_default_copy()
    configuration.connection_pool_maxsize = pool_size
    client.ApiClient.set_default(client.ApiClient(configuration))


def custom_objects() -> client.CustomObjectsApi:
    return client.CustomObjectsApi()


def owner_reference(obj: dict[str, Any], *, controller: bool = True) -> dict[str, Any]:
    """An ownerReference to obj, so deleting obj garbage-collects its dependents."""
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }

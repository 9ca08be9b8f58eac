"""Preview deployments of a generated app on Kubernetes (provider "kubernetes").

The generated app uses only the Python standard library, so no image is built:
its files at the run's merged commit go into a ConfigMap mounted read-only into
a stock Python image, run as an unprivileged user with the restricted Pod
Security profile. A Deployment + ClusterIP Service in the tenant's namespace,
all owned by the Project (archiving and deleting it cleans them up).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel, Field

from prazium_api.contract.errors import ApiError, conflict
from prazium_api.contract.responses import DeploymentState
from prazium_api.git import repo
from prazium_api.settings import ApiSettings
from prazium_kit import kube
from prazium_kit.kinds import Project
from prazium_kit.podsecurity import container_security_context, pod_security_context
from prazium_kit.types import Obj

APP_PORT = 8000
SERVICE_PORT = 80
NOBODY_UID = 65534  # the stock image's unprivileged user
LABEL_DEPLOYMENT = "prazium.io/deployment"
_PYTHON_MODULE = re.compile(r"python3? -m ([A-Za-z_][\w.]*)")


def new_deployment_id() -> str:
    return "dep_" + secrets.token_hex(5)


def object_name(deployment_id: str) -> str:
    return "pzd-" + deployment_id.removeprefix("dep_")


def entry_command(files: dict[str, int], readme: str) -> list[str]:
    """How the generated app starts: its package's __main__, else run.sh, else the
    `python -m X` its README documents."""
    if "app/__main__.py" in files:
        return ["python", "-m", "app"]
    if "run.sh" in files:
        return ["sh", "run.sh"]
    match = _PYTHON_MODULE.search(readme)
    if match:
        return ["python", "-m", match.group(1)]
    raise conflict(
        "the generated app has no entry point (app/__main__.py, run.sh, or"
        " `python -m` in README.md)"
    )


def manifests(
    settings: ApiSettings,
    namespace: str,
    deployment_id: str,
    project: Project,
    bare: Path,
    commit: str,
) -> tuple[Obj, Obj, Obj]:
    """The preview's ConfigMap (the app's files at commit), Deployment and Service,
    owned by the project; 409 when the app is too large or has no entry point."""
    files = dict(repo.tree_files(bare, commit))
    total = sum(files.values())
    if total > settings.deploy_max_bytes:
        raise conflict(
            f"the generated app ({total} bytes) is larger than a preview allows"
            f" ({settings.deploy_max_bytes} bytes)"
        )
    readme = ""
    if "README.md" in files:
        readme = repo.read_file(bare, commit, "README.md").decode("utf-8", "replace")
    command = entry_command(files, readme)
    name = object_name(deployment_id)
    labels = {
        "app.kubernetes.io/name": "prazium-preview",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "prazium-api",
        kube.LABEL_PROJECT: project.name,
        LABEL_DEPLOYMENT: deployment_id.removeprefix("dep_"),
    }
    owner = [kube.owner_reference(project.obj, controller=False)]
    meta = {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": owner}
    config_map, items = _config_map(meta, bare, commit, sorted(files))
    selector = {"app.kubernetes.io/instance": name}
    pod = _pod_spec(settings.deploy_image, command, name, items)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "progressDeadlineSeconds": 300,
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": settings.deploy_service_type,
            "selector": selector,
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http"}],
        },
    }
    return config_map, deployment, service


def _config_map(meta: Obj, bare: Path, commit: str, paths: list[str]) -> tuple[Obj, list[Obj]]:
    """The app's files as a ConfigMap (text as data, anything else as binaryData) and
    the volume items that put each key back at its path."""
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    items = []
    for index, path in enumerate(paths):
        key = f"f{index:04d}"
        content = repo.read_file(bare, commit, path)
        try:
            data[key] = content.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(content).decode("ascii")
        items.append({"key": key, "path": path})
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": data,
        "binaryData": binary,
    }
    return config_map, items


def _pod_spec(image: str, command: list[str], config_map: str, items: list[Obj]) -> Obj:
    """A stock Python image running the app from the read-only ConfigMap, unprivileged
    (the restricted Pod Security profile), no service account token, small limits."""
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(NOBODY_UID),
        "containers": [
            {
                "name": "app",
                "image": image,
                "command": command,
                "workingDir": "/app",
                "env": [
                    {"name": "APP_HOST", "value": "0.0.0.0"},
                    {"name": "APP_PORT", "value": str(APP_PORT)},
                    {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
                    {"name": "HOME", "value": "/tmp"},
                ],
                "ports": [{"name": "http", "containerPort": APP_PORT}],
                "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 5},
                "resources": {
                    "requests": {"cpu": "50m", "memory": "64Mi"},
                    "limits": {"cpu": "500m", "memory": "256Mi"},
                },
                "securityContext": container_security_context(),
                "volumeMounts": [
                    {"name": "app", "mountPath": "/app", "readOnly": True},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
            }
        ],
        "volumes": [
            {"name": "app", "configMap": {"name": config_map, "items": items}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        ],
    }


def create(namespace: str, objects: tuple[Obj, ...]) -> int | None:
    """Create the preview's objects; the Service's node port (NodePort type), else None."""
    core, apps = client.CoreV1Api(), client.AppsV1Api()
    config_map, deployment, service = objects
    try:
        # Plain manifests (dicts) are accepted and serialised as they are.
        core.create_namespaced_config_map(namespace, config_map)  # type: ignore[arg-type]
        apps.create_namespaced_deployment(namespace, deployment)  # type: ignore[arg-type]
        created = core.create_namespaced_service(namespace, service)  # type: ignore[arg-type]
    except ApiException as exc:
        teardown(namespace, config_map["metadata"]["name"])
        raise ApiError("INTERNAL_ERROR", f"could not create the preview ({exc.status})") from exc
    ports = (created.spec.ports if created.spec else None) or []
    return ports[0].node_port if ports else None


def url(settings: ApiSettings, namespace: str, name: str, node_port: int | None = None) -> str:
    return settings.deploy_url_template.format(
        service=name, namespace=namespace, port=SERVICE_PORT, nodePort=node_port or ""
    )


def url_needs_node_port(settings: ApiSettings) -> bool:
    return "{nodePort}" in settings.deploy_url_template


class _Condition(BaseModel):
    type: str | None = None
    status: str | None = None


class _Rollout(BaseModel):
    """The part of a Deployment's status a preview's state follows."""

    available_replicas: int | None = Field(default=None, alias="availableReplicas")
    conditions: list[_Condition] | None = None


class _Deployment(BaseModel):
    status: _Rollout | None = None


def observed_status(namespace: str, name: str) -> DeploymentState | None:
    """deploying | live | failed from the Deployment; None when it is gone."""
    try:
        response = client.AppsV1Api().read_namespaced_deployment(
            name, namespace, _preload_content=False
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise ApiError("INTERNAL_ERROR", "could not read the preview Deployment") from exc
    return status_of(json.loads(response.data))  # type: ignore[attr-defined]  # raw response


def status_of(found: Obj) -> DeploymentState:
    """live once a replica is available; failed when the rollout stalled; else deploying."""
    rollout = _Deployment.model_validate(found).status or _Rollout()
    if int(rollout.available_replicas or 0) >= 1:
        return "live"
    for condition in rollout.conditions or []:
        kind, state = condition.type, condition.status
        if (kind == "Progressing" and state == "False") or (
            kind == "ReplicaFailure" and state == "True"
        ):
            return "failed"
    return "deploying"


def teardown(namespace: str, name: str) -> None:
    core, apps = client.CoreV1Api(), client.AppsV1Api()
    for delete in (
        lambda: core.delete_namespaced_service(name, namespace),
        lambda: apps.delete_namespaced_deployment(name, namespace, propagation_policy="Background"),
        lambda: core.delete_namespaced_config_map(name, namespace),
    ):
        try:
            delete()
        except ApiException as exc:
            if exc.status != 404:
                raise ApiError("INTERNAL_ERROR", "could not delete the preview") from exc

"""Preview deployments of a generated app on Kubernetes (provider "kubernetes").

The generated app uses only the Python standard library, so no image is built:
its files at the run's merged commit go into a ConfigMap mounted read-only into
a stock Python image, run as an unprivileged user with the restricted Pod
Security profile. A Deployment + Service in the tenant's namespace, owned by the
Project (deleting the Project's object removes them).

The app keeps its records in a SQLite file (APP_DATABASE): the preview points it
at /data, a volume that outlives the Pod (settings.deploy_data: a claim of the
cluster's storage, or a directory on a single node behind a hostPath
PersistentVolume; "none" keeps the old emptyDir). teardown() removes the volume
with the rest, so a stopped preview leaves no data behind.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
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
PREVIEW_APP_LABEL = "prazium-preview"  # app.kubernetes.io/name of every preview object
DATA_MOUNT = "/data"
DATA_FILE = f"{DATA_MOUNT}/app.sqlite3"  # the generated app's APP_DATABASE
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


@dataclass(frozen=True)
class PreviewObjects:
    """What a preview consists of: the app's files, its Deployment and Service, and
    where its data lives (a claim, and for host data the volume and directory)."""

    config_map: Obj
    deployment: Obj
    service: Obj
    claim: Obj | None = None
    volume: Obj | None = None  # a PersistentVolume (host data only)
    host_dir: Path | None = None


def host_data_dir(settings: ApiSettings, namespace: str, name: str) -> Path:
    """A preview's directory with settings.deploy_data "host"."""
    base = Path(settings.deploy_data_host_dir or settings.data_dir / "previews")
    return base / namespace / name


def manifests(
    settings: ApiSettings,
    namespace: str,
    deployment_id: str,
    project: Project,
    bare: Path,
    commit: str,
) -> PreviewObjects:
    """The preview's objects (the app's files at commit, its Deployment, Service and
    data volume), owned by the project; 409 when the app is too large or has no
    entry point."""
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
        "app.kubernetes.io/name": PREVIEW_APP_LABEL,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "prazium-api",
        kube.LABEL_PROJECT: project.name,
        LABEL_DEPLOYMENT: deployment_id.removeprefix("dep_"),
    }
    owner = [kube.owner_reference(project.obj, controller=False)]
    meta = {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": owner}
    config_map, items = _config_map(meta, bare, commit, sorted(files))
    claim, volume, host_dir = _data(settings, meta)
    selector = {"app.kubernetes.io/instance": name}
    data_volume: Obj = (
        {"persistentVolumeClaim": {"claimName": name}}
        if claim is not None
        else {"emptyDir": {"sizeLimit": settings.deploy_data_size}}
    )
    pod = _pod_spec(settings.deploy_image, command, name, items, data_volume)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            # One Pod at a time: a new one starts after the old one let go of the
            # data volume (a ReadWriteOnce claim, one SQLite writer).
            "strategy": {"type": "Recreate"},
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
    return PreviewObjects(config_map, deployment, service, claim, volume, host_dir)


def _data(settings: ApiSettings, meta: Obj) -> tuple[Obj | None, Obj | None, Path | None]:
    """The preview's data claim, and with host data the PersistentVolume it binds to
    and that volume's directory; (None, None, None) with deploy_data "none"."""
    if settings.deploy_data == "none":
        return None, None, None
    name, namespace = meta["name"], meta["namespace"]
    spec: Obj = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": settings.deploy_data_size}},
    }
    if settings.deploy_data == "claim":
        if settings.deploy_data_storage_class:
            spec["storageClassName"] = settings.deploy_data_storage_class
        claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta}
        return {**claim, "spec": spec}, None, None
    host_dir = host_data_dir(settings, namespace, name)
    # Bound to each other by name: no provisioner and no other claim can take it.
    spec.update(storageClassName="", volumeName=name)
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": spec}
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        # Cluster-scoped: no owner in a namespace; teardown() deletes it. The name is
        # unique across namespaces (deployment ids are the table's primary key).
        "metadata": {"name": name, "labels": meta["labels"]},
        "spec": {
            "capacity": {"storage": settings.deploy_data_size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "hostPath": {"path": str(host_dir), "type": "Directory"},
            "claimRef": {"namespace": namespace, "name": name},
        },
    }
    return claim, volume, host_dir


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


def _pod_spec(image: str, command: list[str], config_map: str, items: list[Obj], data: Obj) -> Obj:
    """A stock Python image running the app from the read-only ConfigMap, unprivileged
    (the restricted Pod Security profile), no service account token, small limits;
    its data on the data volume (fsGroup makes a provisioned volume writable)."""
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(NOBODY_UID, fs_group=True),
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
                    {"name": "APP_DATABASE", "value": DATA_FILE},
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
                    {"name": "data", "mountPath": DATA_MOUNT},
                ],
            }
        ],
        "volumes": [
            {"name": "app", "configMap": {"name": config_map, "items": items}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            {"name": "data", **data},
        ],
    }


def create(namespace: str, objects: PreviewObjects) -> int | None:
    """Create the preview's objects; the Service's node port (NodePort type), else None."""
    core, apps = client.CoreV1Api(), client.AppsV1Api()
    name = objects.config_map["metadata"]["name"]
    try:
        if objects.host_dir is not None:
            _make_host_dir(objects.host_dir)
        # Plain manifests (dicts) are accepted and serialised as they are.
        if objects.volume is not None:
            core.create_persistent_volume(objects.volume)  # type: ignore[arg-type]
        if objects.claim is not None:
            core.create_namespaced_persistent_volume_claim(namespace, objects.claim)  # type: ignore[arg-type]
        core.create_namespaced_config_map(namespace, objects.config_map)  # type: ignore[arg-type]
        apps.create_namespaced_deployment(namespace, objects.deployment)  # type: ignore[arg-type]
        created = core.create_namespaced_service(namespace, objects.service)  # type: ignore[arg-type]
    except (ApiException, OSError) as exc:
        teardown(namespace, name, objects.volume is not None, objects.host_dir)
        why = exc.status if isinstance(exc, ApiException) else type(exc).__name__
        raise ApiError("INTERNAL_ERROR", f"could not create the preview ({why})") from exc
    ports = (created.spec.ports if created.spec else None) or []
    return ports[0].node_port if ports else None


def _make_host_dir(path: Path) -> None:
    """The preview's own data directory, writable by the app's user only. Its parents
    must let that user through (README: previews on one node)."""
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    path.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(path, NOBODY_UID, NOBODY_UID)
    else:  # a single-user stack: the Pod's user differs from the API's
        path.chmod(0o777)


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


def observed_statuses(namespace: str, project: str) -> dict[str, DeploymentState]:
    """The state of each of a project's preview Deployments, by object name: one
    list call for a page of previews (a name missing: its Deployment is gone)."""
    selector = f"app.kubernetes.io/name={PREVIEW_APP_LABEL},{kube.LABEL_PROJECT}={project}"
    try:
        response = client.AppsV1Api().list_namespaced_deployment(
            namespace, label_selector=selector, _preload_content=False
        )
    except ApiException as exc:
        raise ApiError("INTERNAL_ERROR", "could not list the preview Deployments") from exc
    found = json.loads(response.data)  # type: ignore[attr-defined]  # raw response
    return {item["metadata"]["name"]: status_of(item) for item in found.get("items") or []}


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


def teardown(
    namespace: str, name: str, host_volume: bool = False, host_dir: Path | None = None
) -> None:
    """Delete the preview's objects and its data (each one that exists: safe to
    repeat); host_volume and host_dir with host data (its PersistentVolume and
    directory). A claim's provisioned volume goes as its StorageClass says (Delete
    for dynamic provisioners)."""
    core, apps = client.CoreV1Api(), client.AppsV1Api()
    deletes = [
        lambda: core.delete_namespaced_service(name, namespace),
        lambda: apps.delete_namespaced_deployment(name, namespace, propagation_policy="Background"),
        lambda: core.delete_namespaced_config_map(name, namespace),
        lambda: core.delete_namespaced_persistent_volume_claim(name, namespace),
    ]
    if host_volume:
        deletes.append(lambda: core.delete_persistent_volume(name))
    for delete in deletes:
        try:
            delete()
        except ApiException as exc:
            if exc.status != 404:
                raise ApiError("INTERNAL_ERROR", "could not delete the preview") from exc
    if host_dir is not None:
        # The Pod may still be stopping: its open files go with it, the directory now.
        shutil.rmtree(host_dir, ignore_errors=True)


def remove(settings: ApiSettings, namespace: str, deployment_id: str) -> None:
    """teardown() of a preview made with these settings."""
    name = object_name(deployment_id)
    host = settings.deploy_data == "host"
    teardown(namespace, name, host, host_data_dir(settings, namespace, name) if host else None)

"""Real Kubernetes and git state for API tests that need more than the operator has
done yet: objects created and statuses written through the status subresource."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from prazium_kit import paths
from prazium_kit.kube import API_VERSION, GROUP, LABEL_PROJECT, LABEL_RUN, VERSION

Obj = dict[str, Any]


def assert_error(response: httpx.Response, status: int, code: str) -> Obj:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return dict(body["error"])


def crd() -> client.CustomObjectsApi:
    return client.CustomObjectsApi()


def create_project(
    namespace: str,
    name: str,
    display: str = "Notes",
    description: str = "A notes app with tags and search",
) -> Obj:
    return dict(
        crd().create_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            "projects",
            {
                "apiVersion": API_VERSION,
                "kind": "Project",
                "metadata": {"name": name},
                "spec": {"displayName": display, "description": description},
            },
        )
    )


def set_status(namespace: str, plural: str, name: str, status: Obj) -> Obj:
    return dict(
        crd().patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, plural, name, {"status": status}
        )
    )


def approved_spec(version: int = 1) -> Obj:
    docs = {n: f"# {n}\n" for n in ("SPEC.md", "ACCEPTANCE.md", "ROUTES.md", "DATA.md")}
    return {"version": version, "documents": docs, "approvedAt": "2024-01-15T11:00:00Z"}


def create_run(namespace: str, project: str, name: str, status: Obj | None = None) -> Obj:
    obj = crd().create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "runs",
        {
            "apiVersion": API_VERSION,
            "kind": "Run",
            "metadata": {"name": name, "labels": {LABEL_PROJECT: project}},
            "spec": {"projectRef": {"name": project}, "trigger": "manual"},
        },
    )
    if status:
        obj = set_status(namespace, "runs", name, status)
    return dict(obj)


def create_task(
    namespace: str, project: str, run: str, number: int, slug: str, status: Obj | None = None
) -> Obj:
    definition_id = f"task-{number:03d}"
    name = f"{run}-{definition_id}"
    obj = crd().create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "tasks",
        {
            "apiVersion": API_VERSION,
            "kind": "Task",
            "metadata": {"name": name, "labels": {LABEL_RUN: run, LABEL_PROJECT: project}},
            "spec": {
                "runRef": {"name": run},
                "projectRef": {"name": project},
                "sequence": number,
                "definition": {
                    "id": definition_id,
                    "slug": slug,
                    "description": f"Build {slug}",
                    "instructions": "do it",
                    "dependencies": [],
                    "pathScope": [f"{slug}/**"],
                    "expectedOutputs": [f"{slug}/x.py"],
                },
            },
        },
    )
    if status:
        obj = set_status(namespace, "tasks", name, status)
    return dict(obj)


def git(repo: Path, *args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd or repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(
    data_dir: Path, namespace: str, project: str, files: dict[str, bytes], tmp: Path
) -> tuple[Path, str]:
    """A real bare repo at the project's path with one commit of files on main."""
    bare = paths.repo_path(data_dir, namespace, project)
    bare.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    work = tmp / f"work-{project}"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True, capture_output=True)
    for rel, content in files.items():
        target = work / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    git(work, "add", "-A")
    git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "app")
    git(work, "tag", "v1")
    git(work, "push", "-q", "origin", "main", "v1")
    return bare, git(work, "rev-parse", "HEAD")

"""Project reconciler: description -> questions -> spec -> approval (see specflow.py).

Thin: the whole step runs off the event loop in one idempotent function, and
status.observedGeneration is written in the same patch as its results, so a
client that sees observedGeneration >= G also sees what generation G asked for.
"""

from __future__ import annotations

import asyncio
import copy
import shutil
from typing import Any

import kopf

from prazium_operator import paths, specflow
from prazium_operator.kube import GROUP, PROJECTS, VERSION
from prazium_operator.settings import get_settings


@kopf.on.resume(GROUP, VERSION, PROJECTS)
@kopf.on.create(GROUP, VERSION, PROJECTS)
@kopf.on.update(GROUP, VERSION, PROJECTS)
async def reconcile_project(
    name: str, namespace: str | None, spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta,
    patch: kopf.Patch, **_: Any
) -> None:
    assert namespace is not None  # Projects are namespaced
    result = await asyncio.to_thread(
        specflow.reconcile, get_settings().data_dir, namespace, name,
        copy.deepcopy(dict(spec)), copy.deepcopy(dict(status)), meta.get("generation"),
    )
    patch.status.update(result)


@kopf.on.delete(GROUP, VERSION, PROJECTS)
async def remove_project_files(name: str, namespace: str | None, **_: Any) -> None:
    """Deleting a Project removes its repository and workspaces, and nothing else."""
    assert namespace is not None
    data_dir = get_settings().data_dir
    for path in (paths.repo_path(data_dir, namespace, name),
                 paths.project_workspace(data_dir, namespace, name)):
        await asyncio.to_thread(shutil.rmtree, path, True)

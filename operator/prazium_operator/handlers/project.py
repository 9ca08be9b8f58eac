"""Project handlers: bind kopf's events to the Project reconciler (reconcilers/project).

The spec and status are parsed into their models here, once; the reconciler works
on those and hands back the status patch.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import kopf

from prazium_kit.kube import GROUP, PROJECTS, VERSION
from prazium_kit.models import ProjectSpec, ProjectStatus
from prazium_operator import cleanup, metrics
from prazium_operator.reconcilers.project import planning
from prazium_operator.settings import get_settings


def _planning(memo: kopf.Memo) -> dict[planning.Key, planning.Planning]:
    running: dict[planning.Key, planning.Planning] = memo.planning
    return running


@kopf.on.resume(GROUP, VERSION, PROJECTS)
@kopf.on.create(GROUP, VERSION, PROJECTS)
@kopf.on.update(GROUP, VERSION, PROJECTS)
async def reconcile_project(
    name: str,
    namespace: str | None,
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    patch: kopf.Patch,
    memo: kopf.Memo,
    body: kopf.Body,
    **_: Any,
) -> None:
    assert namespace is not None  # Projects are namespaced
    try:
        change = await planning.reconcile(
            get_settings().data_dir,
            namespace,
            name,
            ProjectSpec.model_validate(copy.deepcopy(dict(spec))),
            ProjectStatus.model_validate(copy.deepcopy(dict(status))),
            meta.get("generation"),
            _planning(memo),
            dict(body),
        )
    except Exception:
        metrics.RECONCILE_ERRORS.labels("project").inc()
        raise
    if change is not None:
        patch.status.update(change)


@kopf.on.delete(GROUP, VERSION, PROJECTS)
async def remove_project_files(name: str, namespace: str | None, memo: kopf.Memo, **_: Any) -> None:
    """Deleting a Project removes its repository, workspaces and exports, and nothing
    else (a failure is retried by kopf: the finalizer holds the Project until then)."""
    assert namespace is not None
    planning.cancel(_planning(memo), (namespace, name))
    settings = get_settings()
    await asyncio.to_thread(cleanup.remove_project_files, settings.data_dir, namespace, name)
    await asyncio.to_thread(
        cleanup.remove_project_exports, settings.database_url, settings.data_dir, namespace, name
    )

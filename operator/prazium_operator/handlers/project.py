"""Project reconciler (skeleton): records that the operator has seen the Project."""

from __future__ import annotations

from typing import Any

import kopf

from prazium_operator.kube import GROUP, PROJECTS, VERSION


@kopf.on.resume(GROUP, VERSION, PROJECTS)
@kopf.on.create(GROUP, VERSION, PROJECTS)
@kopf.on.update(GROUP, VERSION, PROJECTS)
def reconcile_project(
    spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, patch: kopf.Patch, **_: Any
) -> None:
    phase = "archived" if spec.get("archived") else (status.get("phase") or "draft")
    patch.status["phase"] = phase
    patch.status["observedGeneration"] = meta.get("generation")

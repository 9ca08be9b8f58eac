"""Project, Run and Task as read from the apiserver, typed.

A `Resource` holds the object as Kubernetes sent it (the I/O edge: metadata is
read from it as is) and hands out its spec and status as the kit's models
(models.py), parsed on first use and then kept: an object shared by many readers
(a watch-fed cache's) is parsed once per version, however often it is read.

The object is shared, never mutated: a change is a new object from the apiserver,
hence a new Resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from prazium_kit.kube import PROJECTS, RUNS, TASKS
from prazium_kit.models import (
    ProjectSpec,
    ProjectStatus,
    RunSpec,
    RunStatus,
    TaskSpec,
    TaskStatus,
    spec_of,
    status_of,
)
from prazium_kit.types import Obj

S = TypeVar("S", bound=BaseModel)
T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Kind(Generic[S, T]):
    """A custom resource kind: its plural (the REST path), its name and its models."""

    plural: str
    name: str
    spec_model: type[S]
    status_model: type[T]

    def of(self, obj: Obj) -> Resource[S, T]:
        return Resource(self, obj)


class Resource(Generic[S, T]):
    __slots__ = ("_spec", "_status", "kind", "obj")

    def __init__(self, kind: Kind[S, T], obj: Obj) -> None:
        self.kind = kind
        self.obj = obj
        self._spec: S | None = None
        self._status: T | None = None

    def __repr__(self) -> str:
        return f"<{self.kind.name} {self.namespace}/{self.name} rv={self.resource_version}>"

    # -- spec and status: the kit's models -----------------------------------

    @property
    def spec(self) -> S:
        spec = self._spec
        if spec is None:  # two readers may both parse: the same value either way
            spec = self._spec = spec_of(self.obj, self.kind.spec_model)
        return spec

    @property
    def status(self) -> T:
        status = self._status
        if status is None:
            status = self._status = status_of(self.obj, self.kind.status_model)
        return status

    # -- metadata, as Kubernetes sent it -------------------------------------

    @property
    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = self.obj.get("metadata") or {}
        return meta

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "")

    @property
    def generation(self) -> int:
        return int(self.metadata.get("generation") or 0)

    @property
    def resource_version(self) -> str:
        return str(self.metadata.get("resourceVersion") or "")

    @property
    def created_at(self) -> str | None:
        """metadata.creationTimestamp (RFC 3339, as the apiserver writes it)."""
        created = self.metadata.get("creationTimestamp")
        return None if created is None else str(created)

    @property
    def updated_at(self) -> str | None:
        """The last write to the object: its newest managedFields entry (a write by
        kubectl, the API or the operator), else its creation."""
        entries = self.metadata.get("managedFields") or []
        times = [str(entry["time"]) for entry in entries if entry.get("time")]
        return max(times) if times else self.created_at

    @property
    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = self.metadata.get("labels") or {}
        return labels


PROJECT: Kind[ProjectSpec, ProjectStatus] = Kind(PROJECTS, "Project", ProjectSpec, ProjectStatus)
RUN: Kind[RunSpec, RunStatus] = Kind(RUNS, "Run", RunSpec, RunStatus)
TASK: Kind[TaskSpec, TaskStatus] = Kind(TASKS, "Task", TaskSpec, TaskStatus)
KINDS: dict[str, Kind[Any, Any]] = {kind.plural: kind for kind in (PROJECT, RUN, TASK)}

Project = Resource[ProjectSpec, ProjectStatus]
Run = Resource[RunSpec, RunStatus]
Task = Resource[TaskSpec, TaskStatus]

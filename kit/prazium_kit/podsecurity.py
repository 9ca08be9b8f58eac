"""The restricted Pod Security profile, written once for every Pod Prazium creates
(the operator's workers and the API's preview deployments)."""

from __future__ import annotations

from prazium_kit.types import Obj


def restricted_pod_security_context(uid: int, *, fs_group: int | None = None) -> Obj:
    """A Pod's securityContext: an unprivileged user and group, the runtime's seccomp
    profile; fs_group when a mounted volume must be writable by that user."""
    context: Obj = {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid}
    if fs_group is not None:
        context["fsGroup"] = fs_group
    context["seccompProfile"] = {"type": "RuntimeDefault"}
    return context


def restricted_container_security_context() -> Obj:
    """A container's securityContext: no privilege escalation, a read-only root
    filesystem (writes go to mounted volumes), every capability dropped."""
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]}}

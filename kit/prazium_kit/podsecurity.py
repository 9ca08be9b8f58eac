"""The restricted pod security profile every Prazium pod runs with (Pod Security
Standards "restricted"): not root, no privilege escalation, no capabilities, a
read-only root filesystem and the runtime's default seccomp profile.

The worker Jobs (operator executor) and the deployed apps (API) both build their
pods from these, so the two cannot drift apart.
"""

from __future__ import annotations

from prazium_kit.types import Obj


def pod_security_context(uid: int, *, fs_group: bool = False) -> Obj:
    """Pod-level: run as uid:uid (never root); fs_group also gives volumes to that group."""
    context: Obj = {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid}
    if fs_group:
        context["fsGroup"] = uid
    context["seccompProfile"] = {"type": "RuntimeDefault"}
    return context


def container_security_context() -> Obj:
    """Container-level: no escalation, no capabilities, read-only root filesystem."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }

"""prazium_kit.podsecurity: the restricted profile, as the Pod Security Standards define it."""

from __future__ import annotations

from prazium_kit import podsecurity


def test_pod_context_is_restricted_and_never_root() -> None:
    pod = podsecurity.pod_security_context(1000)
    assert pod == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert podsecurity.pod_security_context(1000, fs_group=True)["fsGroup"] == 1000


def test_container_context_drops_everything() -> None:
    assert podsecurity.container_security_context() == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    # A fresh dict each time: a caller editing its pod cannot change another's.
    assert podsecurity.container_security_context() is not podsecurity.container_security_context()

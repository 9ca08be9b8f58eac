"""kopf's in-cluster login talks to the apiserver where the Pod's environment says."""

from __future__ import annotations

import pytest

from prazium_operator.handlers.lifecycle import in_cluster_server


def test_the_service_environment_names_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    assert in_cluster_server("https://kubernetes.default.svc") == "https://10.0.0.1:443"
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    assert in_cluster_server("") == "https://[fd00::1]:443"


def test_without_the_environment_kopfs_default_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    assert in_cluster_server("https://kubernetes.default.svc") == "https://kubernetes.default.svc"

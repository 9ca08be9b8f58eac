"""The Helm chart renders, and the real apiserver accepts every object it renders."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from tests.support.services import ROOT, Stack

pytestmark = pytest.mark.integration

CHART = ROOT / "charts" / "prazium"
VARIANTS = {
    "defaults": [],
    "external-db-ingress-local": [
        "--set",
        "database.mode=external",
        "--set",
        "database.existingSecret=prazium-db",
        "--set",
        "api.ingress.enabled=true",
        "--set",
        "operator.executor=local",
        "--set",
        "operator.namespaces={team-a,team-b}",
        "--set",
        "operator.envFromSecrets={llm-keys}",
        "--set",
        "operator.extraEnv[0].name=PRAZIUM_OPENAI_BASE_URL",
        "--set",
        "operator.extraEnv[0].value=http://vllm:8000/v1",
    ],
}


def _helm() -> str:
    helm = os.environ.get("PRAZIUM_TEST_HELM")
    if not helm:
        pytest.fail("PRAZIUM_TEST_HELM is not set: run `make test`")
    return helm


def _render(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_helm(), "template", "prz", str(CHART), "--include-crds", *args],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_chart_is_accepted_by_the_apiserver(
    stack: Stack, namespace: str, variant: str
) -> None:
    rendered = _render("--namespace", namespace, *VARIANTS[variant])
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    kinds = sorted({d["kind"] for d in docs})
    assert {"CustomResourceDefinition", "Deployment", "ClusterRole", "Service"} <= set(kinds)
    applied = subprocess.run(
        [
            stack.kubectl,
            "--kubeconfig",
            stack.kubeconfig,
            "-n",
            namespace,
            "apply",
            "--dry-run=server",
            "-f",
            "-",
        ],
        input=rendered.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.count("(server dry run)") == len(docs)


def test_workloads_run_as_non_root_with_a_restricted_security_context(namespace: str) -> None:
    docs = [d for d in yaml.safe_load_all(_render("--namespace", namespace).stdout) if d]
    workloads = [d for d in docs if d["kind"] in {"Deployment", "StatefulSet"}]
    assert len(workloads) == 3  # operator, API, bundled PostgreSQL
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]


def test_no_secret_value_is_rendered_into_a_config_map(namespace: str) -> None:
    docs = [d for d in yaml.safe_load_all(_render("--namespace", namespace).stdout) if d]
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    assert not any("DATABASE_URL" in key or "PASSWORD" in key for key in config["data"])


def test_external_database_mode_requires_a_secret() -> None:
    rendered = _render("--set", "database.mode=external")
    assert rendered.returncode != 0
    assert "database.existingSecret is required when database.mode=external" in rendered.stderr


def test_config_map_values_are_valid_settings(
    namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every PRAZIUM_ value the chart renders parses into the processes' settings: the
    ConfigMap feeds the operator and the API, so each key is read by one of the two."""
    from prazium_api.settings import ApiSettings
    from prazium_operator.settings import Settings as OperatorSettings

    docs = [d for d in yaml.safe_load_all(_render("--namespace", namespace).stdout) if d]
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    for key in [k for k in os.environ if k.startswith("PRAZIUM_")]:
        monkeypatch.delenv(key)
    for key, value in config.items():
        monkeypatch.setenv(key, value)
    api_settings = ApiSettings()
    operator_settings = OperatorSettings()
    fields = {
        f"PRAZIUM_{name.upper()}"
        for model in (ApiSettings, OperatorSettings)
        for name in model.model_fields
    }
    unknown = sorted(set(config) - fields)
    assert unknown == [], f"chart sets variables no settings field reads: {unknown}"
    assert api_settings.max_body_bytes == 1048576
    assert operator_settings.executor == "kubernetes"
    assert api_settings.deploy_providers == ["kubernetes"]


def test_worker_jobs_run_in_the_release_namespace_with_a_namespaced_role(namespace: str) -> None:
    """Jobs and Pods are granted by a Role in the release namespace only (no ClusterRole
    touches them), and worker Jobs run there as the token-less worker ServiceAccount."""
    docs = [d for d in yaml.safe_load_all(_render("--namespace", namespace).stdout) if d]
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    assert config["PRAZIUM_JOB_NAMESPACE"] == namespace
    worker = next(
        d
        for d in docs
        if d["kind"] == "ServiceAccount"
        and d["metadata"]["name"] == config["PRAZIUM_WORKER_SERVICE_ACCOUNT"]
    )
    assert worker["automountServiceAccountToken"] is False
    for role in [d for d in docs if d["kind"] == "ClusterRole"]:
        resources = {r for rule in role["rules"] for r in rule["resources"]}
        assert not resources & {"jobs", "pods"}, role["metadata"]["name"]
    [role] = [d for d in docs if d["kind"] == "Role"]
    assert role["rules"] == yaml.safe_load(
        (CHART / "files" / "operator-namespace-rules.yaml").read_text()
    )
    [binding] = [d for d in docs if d["kind"] == "RoleBinding"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["name"].endswith("-operator")


def _api_env(*args: str) -> dict[str, str]:
    rendered = _render(*args)
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    api = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-api")
    )
    container = api["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container["env"]}


def test_api_believes_forwarded_headers_only_behind_the_ingress() -> None:
    # No Ingress: no proxy is trusted (the API's default: the TCP peer is the client).
    assert "PRAZIUM_FORWARDED_ALLOW_IPS" not in _api_env()
    # The Ingress: its controller's forwarded address is believed, from the value.
    env = _api_env("--set", "api.ingress.enabled=true")
    assert env["PRAZIUM_FORWARDED_ALLOW_IPS"] == "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fd00::/8"
    env = _api_env(
        "--set", "api.ingress.enabled=true", "--set", "api.ingress.forwardedAllowIps=10.42.0.0/16"
    )
    assert env["PRAZIUM_FORWARDED_ALLOW_IPS"] == "10.42.0.0/16"

"""The Helm chart renders, and the real apiserver accepts every object it renders."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml
from kubernetes import client

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
        "--set",
        "worker.runtimeClassName=gvisor",
        "--set",
        "worker.egress.serviceClusterIP=10.0.0.11",
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
    # operator.namespaces renders Roles in those namespaces: they must exist, and
    # kubectl applies each namespace's objects on their own.
    groups: dict[str, list[dict]] = {}
    for doc in docs:
        groups.setdefault(doc["metadata"].get("namespace") or namespace, []).append(doc)
    core = client.CoreV1Api()
    others = sorted(set(groups) - {namespace})
    for other in others:
        core.create_namespace({"metadata": {"name": other}})
    try:
        outputs = []
        for where, group in groups.items():
            applied = subprocess.run(
                [
                    stack.kubectl,
                    "--kubeconfig",
                    stack.kubeconfig,
                    "-n",
                    where,
                    "apply",
                    "--dry-run=server",
                    "-f",
                    "-",
                ],
                input=yaml.safe_dump_all(group),
                capture_output=True,
                text=True,
                check=False,
            )
            assert applied.returncode == 0, applied.stderr
            outputs.append(applied.stdout)
    finally:
        for other in others:
            core.delete_namespace(other)
    assert "".join(outputs).count("(server dry run)") == len(docs)


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


def _docs(*args: str) -> list[dict]:
    rendered = _render(*args)
    assert rendered.returncode == 0, rendered.stderr
    return [d for d in yaml.safe_load_all(rendered.stdout) if d]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            ["database.mode=bogus"],
            "at '/database/mode': value must be one of 'bundled', 'external'",
        ),
        (["api.replicas=0"], "at '/api/replicas': minimum: got 0, want 1"),
        (["operator.executor=docker"], "at '/operator/executor'"),
        (["logFormat=xml"], "at '/logFormat'"),
        (["image.pullPolicy=Sometimes"], "at '/image/pullPolicy'"),
        (["worker.resources.limits.cpu=lots"], "at '/worker/resources/limits/cpu'"),
        (["api.service.nodePort=80"], "at '/api/service/nodePort'"),
        (
            ["database.bundled.service.clusterIP=not-an-ip"],
            "at '/database/bundled/service/clusterIP'",
        ),
        (["operator.namespaces={Team_A}"], "at '/operator/namespaces/0'"),
        (["worker.runtimeClassName=Not_A_Class"], "at '/worker/runtimeClassName'"),
        (["worker.egress.port=80"], "at '/worker/egress/port'"),
        (["unknownTopLevel=1"], "additional properties 'unknownTopLevel' not allowed"),
        (
            ["operator.replicas=2", "operator.leaderElection.enabled=false"],
            "at '/operator/leaderElection/enabled': value must be true",
        ),
    ],
)
def test_bad_values_fail_with_a_message_naming_the_value(values: list[str], message: str) -> None:
    args = [a for value in values for a in ("--set", value)]
    rendered = _render(*args)
    assert rendered.returncode != 0
    assert "values don't meet the specifications of the schema" in rendered.stderr
    assert message in rendered.stderr, rendered.stderr
    linted = subprocess.run(
        [_helm(), "lint", str(CHART), *args], capture_output=True, text=True, check=False
    )
    assert linted.returncode != 0
    assert message in linted.stdout + linted.stderr


def test_defaults_lint_and_other_streams_blocks_are_accepted() -> None:
    linted = subprocess.run(
        [_helm(), "lint", str(CHART)], capture_output=True, text=True, check=False
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    # networkPolicy (templates/networkpolicy.yaml) and metrics (servicemonitor.yaml)
    # belong to other parts of the chart: the schema takes their blocks.
    _docs(
        "--set",
        "networkPolicy.enabled=false",
        "--set",
        "networkPolicy.egressCIDRs={10.0.0.0/8}",
        "--set",
        "metrics.enabled=false",
        "--set",
        "metrics.serviceMonitor.interval=30s",
    )


def test_every_namespaced_object_names_the_release_namespace(stack: Stack) -> None:
    docs = _docs(
        "--namespace",
        "prz-elsewhere",
        "--set",
        "api.ingress.enabled=true",
        "--set",
        "operator.replicas=2",
    )
    resources = subprocess.run(
        [
            stack.kubectl,
            "--kubeconfig",
            stack.kubeconfig,
            "api-resources",
            "--namespaced=true",
            "-o",
            "name",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    namespaced_kinds = {
        "Deployment",
        "StatefulSet",
        "Service",
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Ingress",
        "NetworkPolicy",
    }
    assert "deployments.apps" in resources
    seen = set()
    for doc in docs:
        if doc["kind"] in namespaced_kinds:
            assert doc["metadata"].get("namespace") == "prz-elsewhere", doc["metadata"]
            seen.add(doc["kind"])
        elif doc["kind"] != "CustomResourceDefinition":
            assert "namespace" not in doc["metadata"], doc["metadata"]
    assert seen == namespaced_kinds


def test_renders_are_stable_with_an_existing_database_secret() -> None:
    """GitOps: with database.bundled.existingSecret nothing random is rendered, so two
    renders are the same and a sync rotates nothing."""
    args = ("--namespace", "prz", "--set", "database.bundled.existingSecret=my-db")
    first, second = _render(*args), _render(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    docs = [d for d in yaml.safe_load_all(first.stdout) if d]
    assert not [d for d in docs if d["kind"] == "Secret"]
    api = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-api")
    )
    env = {e["name"]: e for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PRAZIUM_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "my-db"


def test_generated_database_secret_is_kept_and_names_a_fixed_address() -> None:
    docs = _docs("--namespace", "prz", "--set", "database.bundled.service.clusterIP=10.0.0.10")
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    import base64

    dsn = base64.b64decode(secret["data"]["DATABASE_URL"]).decode()
    assert dsn.endswith("@10.0.0.10:5432/prazium")
    service = next(
        d for d in docs if d["kind"] == "Service" and d["metadata"]["name"].endswith("-db")
    )
    assert service["spec"]["clusterIP"] == "10.0.0.10"


def _pod_templates(docs: list[dict]) -> dict[str, dict]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]
        for d in docs
        if d["kind"] in {"Deployment", "StatefulSet"}
    }


def test_a_config_only_change_changes_the_pods_checksum() -> None:
    base = _pod_templates(_docs("--set", "database.bundled.existingSecret=db"))
    changed = _pod_templates(
        _docs("--set", "database.bundled.existingSecret=db", "--set", "api.rateLimits.free=61")
    )
    for name in ("prz-prazium-api", "prz-prazium-operator"):
        before = base[name]["metadata"]["annotations"]["checksum/config"]
        after = changed[name]["metadata"]["annotations"]["checksum/config"]
        assert before != after, name
        # Nothing else of the Pod template changed: only the checksum rolls it.
        base[name]["metadata"]["annotations"].pop("checksum/config")
        changed[name]["metadata"]["annotations"].pop("checksum/config")
        assert base[name] == changed[name]


def test_scheduling_values_and_pull_secrets_reach_every_pod() -> None:
    docs = _docs(
        "--set",
        "imagePullSecrets[0].name=regcred",
        "--set",
        "nodeSelector.pool=prazium",
        "--set",
        "tolerations[0].key=dedicated",
        "--set",
        "tolerations[0].operator=Exists",
        "--set",
        "api.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight=1",
        "--set",
        "api.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey=kubernetes.io/hostname",
        "--set",
        "database.bundled.nodeSelector.disk=ssd",
    )
    pods = _pod_templates(docs)
    for name, template in pods.items():
        spec = template["spec"]
        assert spec["imagePullSecrets"] == [{"name": "regcred"}], name
        assert spec["tolerations"][0]["key"] == "dedicated", name
        expected = {"disk": "ssd"} if name.endswith("-db") else {"pool": "prazium"}
        assert spec["nodeSelector"] == expected, name
    assert "podAntiAffinity" in pods["prz-prazium-api"]["spec"]["affinity"]
    assert "affinity" not in pods["prz-prazium-operator"]["spec"]
    worker = next(
        d
        for d in docs
        if d["kind"] == "ServiceAccount" and d["metadata"]["name"].endswith("-worker")
    )
    assert worker["imagePullSecrets"] == [{"name": "regcred"}]


def test_api_probes_do_not_ask_the_operator() -> None:
    docs = _docs()
    api = _pod_templates(docs)["prz-prazium-api"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/livez"


def test_disruption_budgets_and_operator_replicas() -> None:
    single = _docs("--set", "api.replicas=1")
    assert not [d for d in single if d["kind"] == "PodDisruptionBudget"]
    operator = _pod_templates(single)["prz-prazium-operator"]["spec"]["containers"][0]
    assert operator["livenessProbe"]["httpGet"]["path"] == "/healthz"
    several = _docs("--set", "operator.replicas=2")
    budgets = {d["metadata"]["name"]: d for d in several if d["kind"] == "PodDisruptionBudget"}
    assert set(budgets) == {"prz-prazium-api", "prz-prazium-operator"}
    assert budgets["prz-prazium-operator"]["spec"]["minAvailable"] == 1
    deployment = next(
        d
        for d in several
        if d["metadata"]["name"] == "prz-prazium-operator" and d["kind"] == "Deployment"
    )
    # A standby serves no liveness endpoint until it leads: no probe to fail.
    assert "livenessProbe" not in deployment["spec"]["template"]["spec"]["containers"][0]
    config = next(d for d in several if d["kind"] == "ConfigMap")["data"]
    assert config["PRAZIUM_LEADER_ELECTION"] == "true"


def _docs(*args: str) -> list[dict]:
    rendered = _render("--namespace", "pz", *args)
    assert rendered.returncode == 0, rendered.stderr
    return [d for d in yaml.safe_load_all(rendered.stdout) if d]


def test_worker_runtime_and_egress_proxy_reach_the_operator_and_the_policy() -> None:
    """worker.runtimeClassName and worker.egress become the operator's settings; the
    proxy is a port of the operator's Pods behind a Service, and the workers' policy
    lets them reach that port of those Pods and DNS, nothing else."""
    docs = _docs(
        "--set",
        "worker.runtimeClassName=gvisor",
        "--set",
        "worker.egress.allow={pypi.org}",
        "--set",
        "worker.egress.deny={10.96.0.0/12}",
    )
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    assert config["PRAZIUM_WORKER_RUNTIME_CLASS"] == "gvisor"
    assert config["PRAZIUM_EGRESS_PROXY_LISTEN"] == "0.0.0.0:3128"
    assert config["PRAZIUM_EGRESS_PROXY_URL"] == "http://prz-prazium-egress.pz.svc:3128"
    assert config["PRAZIUM_EGRESS_ALLOW"] == '["pypi.org"]'
    assert config["PRAZIUM_EGRESS_DENY"] == '["10.96.0.0/12"]'
    service = next(
        d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "prz-prazium-egress"
    )
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "operator"
    assert service["spec"]["ports"] == [{"name": "egress", "port": 3128, "targetPort": "egress"}]
    operator = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-operator")
    )
    ports = operator["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert {"name": "egress", "containerPort": 3128} in ports
    policy = next(
        d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("worker")
    )
    rules = policy["spec"]["egress"]
    assert len(rules) == 2  # DNS, the proxy
    proxy_rule = rules[1]
    assert proxy_rule["ports"] == [{"protocol": "TCP", "port": 3128}]
    assert proxy_rule["to"] == [
        {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/instance": "prz",
                    "app.kubernetes.io/component": "operator",
                }
            }
        }
    ]
    verification = next(
        d
        for d in docs
        if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("verification")
    )
    assert verification["spec"]["egress"] == [] and verification["spec"]["ingress"] == []

    fixed = _docs("--set", "worker.egress.serviceClusterIP=10.0.0.11")
    config = next(d for d in fixed if d["kind"] == "ConfigMap")["data"]
    assert config["PRAZIUM_EGRESS_PROXY_URL"] == "http://10.0.0.11:3128"
    off = _docs("--set", "worker.egress.enabled=false")
    config = next(d for d in off if d["kind"] == "ConfigMap")["data"]
    assert "PRAZIUM_EGRESS_PROXY_LISTEN" not in config
    assert not any(d["metadata"]["name"] == "prz-prazium-egress" for d in off)
    [policy] = [
        d for d in off if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("worker")
    ]
    assert len(policy["spec"]["egress"]) == 1  # DNS only


def test_no_cluster_role_grants_secrets_and_namespaces_render_roles() -> None:
    """Secrets: only the operator's tenant ClusterRole (bound per tenant namespace by
    create-key) grants them; with operator.namespaces its rights on tenants' objects
    are Roles in those namespaces, and its ClusterRole keeps what kopf needs only."""
    docs = _docs()
    bound = {d["roleRef"]["name"] for d in docs if d["kind"] == "ClusterRoleBinding"}
    for role in [d for d in docs if d["kind"] == "ClusterRole"]:
        resources = {r for rule in role["rules"] for r in rule["resources"]}
        if "secrets" in resources:
            assert role["metadata"]["name"] == "prz-prazium-operator-tenant"
            assert role["metadata"]["name"] not in bound
    watched = _docs("--set", "operator.namespaces={team-a,team-b}")
    [operator_role] = [
        d
        for d in watched
        if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "prz-prazium-operator"
    ]
    assert {r for rule in operator_role["rules"] for r in rule["resources"]} == {
        "customresourcedefinitions",
        "namespaces",
    }
    roles = {
        d["metadata"]["namespace"]: d
        for d in watched
        if d["kind"] == "Role" and d["metadata"]["name"] == "prz-prazium-operator-watched"
    }
    assert set(roles) == {"team-a", "team-b"}
    for role in roles.values():
        resources = {r for rule in role["rules"] for r in rule["resources"]}
        assert {"projects", "runs", "tasks", "secrets", "events"} <= resources
    bindings = [
        d
        for d in watched
        if d["kind"] == "RoleBinding" and d["metadata"]["name"] == "prz-prazium-operator-watched"
    ]
    assert {b["metadata"]["namespace"] for b in bindings} == {"team-a", "team-b"}
    assert all(b["subjects"][0]["namespace"] == "pz" for b in bindings)

"""The Helm chart renders, and the real apiserver accepts every object it renders."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import yaml
from kubernetes import client

from tests.support.services import ROOT, ServiceProcess, Stack

pytestmark = pytest.mark.integration

CHART = ROOT / "charts" / "prazium"
# The oldest Kubernetes the chart takes (Chart.yaml kubeVersion: the tenant admission
# policy's API); `helm template` otherwise assumes v1.20.
KUBE_VERSION = "1.30.0"
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
    # A shared cluster's install: own names, the CRDs as templates, identities,
    # priorities and spreads, a build test.
    "shared-cluster": [
        "--set",
        "fullnameOverride=pz-shared",
        "--set",
        "crds.install=true",
        "--set",
        "priorityClassName=system-cluster-critical",
        "--set",
        "topologySpreadConstraints[0].maxSkew=1",
        "--set",
        "topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname",
        "--set",
        "topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
        "--set",
        "operator.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/p",
        "--set",
        "api.serviceAccount.annotations.iam\\.gke\\.io/gcp-service-account=p@x.iam.gserviceaccount.com",
        "--set",
        "api.extraEnv[0].name=PRAZIUM_LIST_CACHE_SECONDS",
        "--set-string",
        "api.extraEnv[0].value=5",
        "--set",
        "tests.build.apiKeySecret=prazium-test-key",
    ],
}


def _helm() -> str:
    helm = os.environ.get("PRAZIUM_TEST_HELM")
    if not helm:
        pytest.fail("PRAZIUM_TEST_HELM is not set: run `make test`")
    return helm


def _render(*args: str) -> subprocess.CompletedProcess[str]:
    command = [_helm(), "template", "prz", str(CHART), "--include-crds"]
    return subprocess.run(
        [*command, "--kube-version", KUBE_VERSION, *args],
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
    # kube-node-lease (the operator reads the kubelets' Leases there) is the cluster's.
    others = sorted(set(groups) - {namespace, "kube-node-lease"})
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
    roles = {d["metadata"]["namespace"]: d for d in docs if d["kind"] == "Role"}
    # Besides the release namespace's: the kubelets' Leases, read to tell a lost node.
    assert set(roles) == {namespace, "kube-node-lease"}
    assert roles[namespace]["rules"] == yaml.safe_load(
        (CHART / "files" / "operator-namespace-rules.yaml").read_text()
    )
    assert roles["kube-node-lease"]["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "list"]}
    ]
    bindings = {d["metadata"]["namespace"]: d for d in docs if d["kind"] == "RoleBinding"}
    assert set(bindings) == set(roles)
    for ns, binding in bindings.items():
        assert binding["roleRef"]["name"] == roles[ns]["metadata"]["name"]
        assert binding["subjects"][0]["name"].endswith("-operator")
        assert binding["subjects"][0]["namespace"] == namespace


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
        "Pod",  # the helm test hooks
    }
    assert "deployments.apps" in resources
    seen = set()
    for doc in docs:
        if doc["kind"] in namespaced_kinds:
            # But the operator's reading of the kubelets' Leases, a Role where they are.
            lease_reader = doc["kind"] in ("Role", "RoleBinding") and doc["metadata"][
                "name"
            ].endswith("-node-leases")
            expected = "kube-node-lease" if lease_reader else "prz-elsewhere"
            assert doc["metadata"].get("namespace") == expected, doc["metadata"]
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


# --- names --------------------------------------------------------------------------------


def _names(docs: list[dict], kind: str) -> set[str]:
    return {d["metadata"]["name"] for d in docs if d["kind"] == kind}


def _referenced_names(docs: list[dict]) -> dict[str, set[str]]:
    """What the Pods and the ConfigMap refer to by name: ServiceAccounts, ConfigMaps,
    Secrets, claims, the tenant ClusterRole."""
    refs: dict[str, set[str]] = {k: set() for k in ("sa", "cm", "secret", "pvc", "clusterrole")}
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    refs["clusterrole"].add(config["PRAZIUM_TENANT_CLUSTER_ROLE"])
    refs["sa"].add(config["PRAZIUM_WORKER_SERVICE_ACCOUNT"])
    refs["sa"].add(config["PRAZIUM_TENANT_SERVICE_ACCOUNT"].split("/")[1])
    refs["pvc"].add(config["PRAZIUM_REPO_VOLUME_CLAIM"])
    for template in _pod_templates(docs).values():
        spec = template["spec"]
        if "serviceAccountName" in spec:
            refs["sa"].add(spec["serviceAccountName"])
        for volume in spec.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                refs["pvc"].add(volume["persistentVolumeClaim"]["claimName"])
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    refs["cm"].add(source["configMapRef"]["name"])
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs["secret"].add(ref["name"])
    return refs


@pytest.mark.parametrize(
    ("release", "values", "prefix", "app_name"),
    [
        # The release's name holds the chart's: not doubled (0.1.0 said prazium-prazium-api).
        ("prazium", [], "prazium", "prazium"),
        ("prazium-staging", [], "prazium-staging", "prazium"),
        ("prz", [], "prz-prazium", "prazium"),
        ("prz", ["--set", "nameOverride=builds"], "prz-builds", "builds"),
        ("prz", ["--set", "fullnameOverride=team-builds"], "team-builds", "prazium"),
    ],
)
def test_names_are_not_doubled_and_follow_the_overrides(
    release: str, values: list[str], prefix: str, app_name: str
) -> None:
    rendered = subprocess.run(
        [_helm(), "template", release, str(CHART), "--kube-version", KUBE_VERSION, *values],
        capture_output=True,
        text=True,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    assert _names(docs, "Deployment") == {f"{prefix}-api", f"{prefix}-operator"}
    assert _names(docs, "StatefulSet") == {f"{prefix}-db"}
    for doc in docs:
        assert doc["metadata"]["name"].startswith(prefix + "-"), doc["metadata"]["name"]
        assert "prazium-prazium" not in doc["metadata"]["name"]
        assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == app_name
    # Everything referred to by name is rendered under that name.
    refs = _referenced_names(docs)
    assert refs["sa"] <= _names(docs, "ServiceAccount"), refs["sa"]
    assert refs["cm"] <= _names(docs, "ConfigMap"), refs["cm"]
    assert refs["secret"] <= _names(docs, "Secret"), refs["secret"]
    assert refs["pvc"] <= _names(docs, "PersistentVolumeClaim"), refs["pvc"]
    assert refs["clusterrole"] <= _names(docs, "ClusterRole"), refs["clusterrole"]


def test_kubernetes_older_than_1_30_is_refused() -> None:
    rendered = subprocess.run(
        [_helm(), "template", "prz", str(CHART), "--kube-version", "1.29.9"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert rendered.returncode != 0
    assert "chart requires kubeVersion: >=1.30.0-0" in rendered.stderr, rendered.stderr


# --- shared-cluster values ---------------------------------------------------------------------


def _containers(docs: list[dict]) -> dict[str, dict]:
    """Every container of the chart: the workloads' and the helm test Pods'."""
    found = {
        f"{name}/{c['name']}": c
        for name, template in _pod_templates(docs).items()
        for c in template["spec"]["containers"]
    }
    for pod in [d for d in docs if d["kind"] == "Pod"]:
        for c in pod["spec"]["containers"]:
            found[f"{pod['metadata']['name']}/{c['name']}"] = c
    return found


def test_service_account_annotations_extra_env_and_resources_for_every_container() -> None:
    docs = _docs(*VARIANTS["shared-cluster"])
    accounts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceAccount"}
    assert accounts["pz-shared-operator"]["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/p"
    }
    assert accounts["pz-shared-api"]["metadata"]["annotations"] == {
        "iam.gke.io/gcp-service-account": "p@x.iam.gserviceaccount.com"
    }
    # Workers run untrusted code: no cloud identity is ever hung on their account.
    assert "annotations" not in accounts["pz-shared-worker"]["metadata"]
    api = _pod_templates(docs)["pz-shared-api"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in api["env"]}
    assert env["PRAZIUM_LIST_CACHE_SECONDS"] == "5"
    containers = _containers(docs)
    assert set(containers) == {
        "pz-shared-api/api",
        "pz-shared-operator/operator",
        "pz-shared-db/postgres",
        "pz-shared-test-health/health",
        "pz-shared-test-build/build",
    }
    for name, container in containers.items():
        resources = container["resources"]
        assert resources["requests"]["cpu"] and resources["requests"]["memory"], name
        assert resources["limits"]["cpu"] and resources["limits"]["memory"], name
    # And the workers' (their Jobs are the operator's: the ConfigMap carries them).
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    assert config["PRAZIUM_WORKER_MEMORY_LIMIT"] == "1Gi"


def test_priority_and_topology_spread_reach_every_pod_with_its_own_selector() -> None:
    docs = _docs(
        *VARIANTS["shared-cluster"],
        "--set",
        "api.priorityClassName=api-critical",
        "--set",
        "api.topologySpreadConstraints[0].maxSkew=2",
        "--set",
        "api.topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone",
        "--set",
        "api.topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule",
        "--set",
        "api.topologySpreadConstraints[0].labelSelector.matchLabels.team=a",
    )
    pods = {name: t["spec"] for name, t in _pod_templates(docs).items()}
    pods.update({d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Pod"})
    for name, spec in pods.items():
        expected = "api-critical" if name == "pz-shared-api" else "system-cluster-critical"
        assert spec["priorityClassName"] == expected, name
    component = {
        "pz-shared-operator": "operator",
        "pz-shared-db": "database",
        "pz-shared-test-health": "test",
    }
    for name, part in component.items():
        [constraint] = pods[name]["topologySpreadConstraints"]
        assert constraint["topologyKey"] == "kubernetes.io/hostname"
        # The component's own Pods are counted, not the whole release's.
        assert constraint["labelSelector"] == {
            "matchLabels": {
                "app.kubernetes.io/instance": "prz",
                "app.kubernetes.io/component": part,
            }
        }
    [api] = pods["pz-shared-api"]["topologySpreadConstraints"]
    assert api["maxSkew"] == 2 and api["whenUnsatisfiable"] == "DoNotSchedule"
    assert api["labelSelector"] == {"matchLabels": {"team": "a"}}  # given: kept as it is


# --- PostgreSQL's NetworkPolicy -----------------------------------------------------------------


def _selects(selector: dict, labels: dict[str, str]) -> bool:
    """Kubernetes' label selector semantics (matchLabels and matchExpressions In/NotIn)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value, operator = labels.get(expression["key"]), expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
    return True


def test_only_the_operator_and_the_api_may_reach_the_bundled_postgresql() -> None:
    docs = _docs(*VARIANTS["shared-cluster"])
    [policy] = [
        d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "pz-shared-db"
    ]
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    [rule] = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 5432}]
    [peer] = rule["from"]
    assert set(peer) == {"podSelector"}  # the release namespace only
    labels = {name: t["metadata"]["labels"] for name, t in _pod_templates(docs).items()}
    labels.update(
        {d["metadata"]["name"]: d["metadata"]["labels"] for d in docs if d["kind"] == "Pod"}
    )
    assert _selects(spec["podSelector"], labels["pz-shared-db"])
    allowed = {name for name, pod in labels.items() if _selects(peer["podSelector"], pod)}
    assert allowed == {"pz-shared-api", "pz-shared-operator"}
    # The operator's worker Pods carry these labels (executor/kubernetes.py): not allowed.
    worker = {"app.kubernetes.io/managed-by": "prazium", "prazium.io/role": "worker"}
    assert not _selects(peer["podSelector"], worker)
    # Off by value, and absent with an external database.
    off = _docs("--set", "database.bundled.networkPolicy.enabled=false")
    assert not [
        d for d in off if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("-db")
    ]
    external = _docs("--set", "database.mode=external", "--set", "database.existingSecret=db")
    assert not [
        d
        for d in external
        if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("-db")
    ]


# --- CRDs as templates ------------------------------------------------------------------------


def _template_only(*args: str) -> list[dict]:
    """The chart's templates without crds/ (what Helm applies as the release)."""
    rendered = subprocess.run(
        [_helm(), "template", "prz", str(CHART), "--kube-version", KUBE_VERSION, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    return [d for d in yaml.safe_load_all(rendered.stdout) if d]


def _docs_in_pz(*args: str) -> list[dict]:
    """The chart rendered into namespace pz (the proxy's Service name holds it)."""
    rendered = _render("--namespace", "pz", *args)
    assert rendered.returncode == 0, rendered.stderr
    return [d for d in yaml.safe_load_all(rendered.stdout) if d]


def test_worker_runtime_and_egress_proxy_reach_the_operator_and_the_policy() -> None:
    """worker.runtimeClassName and worker.egress become the operator's settings; the
    proxy is a port of the operator's Pods behind a Service, and the workers' policy
    lets them reach that port of those Pods and DNS, nothing else."""
    docs = _docs_in_pz(
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

    fixed = _docs_in_pz("--set", "worker.egress.serviceClusterIP=10.0.0.11")
    config = next(d for d in fixed if d["kind"] == "ConfigMap")["data"]
    assert config["PRAZIUM_EGRESS_PROXY_URL"] == "http://10.0.0.11:3128"
    off = _docs_in_pz("--set", "worker.egress.enabled=false")
    config = next(d for d in off if d["kind"] == "ConfigMap")["data"]
    assert "PRAZIUM_EGRESS_PROXY_LISTEN" not in config
    assert not any(d["metadata"]["name"] == "prz-prazium-egress" for d in off)
    [policy] = [
        d for d in off if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("worker")
    ]
    assert len(policy["spec"]["egress"]) == 1  # DNS only


def test_the_policy_gate_follows_the_network_policy_values() -> None:
    """Worker and verification Pods wait for their NetworkPolicy by default; not when
    the chart renders no policy, nor when the gate is turned off; its limit is a value."""

    def gate(*args: str) -> tuple[str, str]:
        config = next(d for d in _docs_in_pz(*args) if d["kind"] == "ConfigMap")["data"]
        return config["PRAZIUM_WORKER_POLICY_GATE"], config["PRAZIUM_WORKER_POLICY_GATE_SECONDS"]

    assert gate() == ("true", "20")
    assert gate("--set", "networkPolicy.gate.timeoutSeconds=7") == ("true", "7")
    assert gate("--set-json", "networkPolicy.gate.timeoutSeconds=7.5") == ("true", "7.5")
    assert gate("--set", "networkPolicy.enabled=false") == ("false", "20")
    assert gate("--set", "networkPolicy.gate.enabled=false") == ("false", "20")
    refused = _render("--set", "networkPolicy.gate.timeoutSeconds=0")
    assert refused.returncode != 0 and "timeoutSeconds" in refused.stderr, refused.stderr


def test_no_cluster_role_grants_secrets_and_namespaces_render_roles() -> None:
    """Secrets: only the operator's tenant ClusterRole (bound per tenant namespace by
    create-key) grants them; with operator.namespaces its rights on tenants' objects
    are Roles in those namespaces, and its ClusterRole keeps what kopf needs only."""
    docs = _docs_in_pz()
    bound = {d["roleRef"]["name"] for d in docs if d["kind"] == "ClusterRoleBinding"}
    for role in [d for d in docs if d["kind"] == "ClusterRole"]:
        resources = {r for rule in role["rules"] for r in rule["resources"]}
        if "secrets" in resources:
            assert role["metadata"]["name"] == "prz-prazium-operator-tenant"
            assert role["metadata"]["name"] not in bound
    watched = _docs_in_pz("--set", "operator.namespaces={team-a,team-b}")
    [operator_role] = [
        d
        for d in watched
        if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "prz-prazium-operator"
    ]
    assert {r for rule in operator_role["rules"] for r in rule["resources"]} == {
        "customresourcedefinitions",
        "namespaces",
        "nodes",  # read only (get, list): which nodes are lost
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


def test_crds_install_renders_the_crds_as_kept_templates() -> None:
    assert not [d for d in _template_only() if d["kind"] == "CustomResourceDefinition"]
    docs = _template_only("--set", "crds.install=true", "--set", "crds.annotations.team=platform")
    crds = {d["metadata"]["name"]: d for d in docs if d["kind"] == "CustomResourceDefinition"}
    assert set(crds) == {"projects.prazium.io", "runs.prazium.io", "tasks.prazium.io"}
    for name, crd in crds.items():
        source = yaml.safe_load((CHART / "crds" / f"{name.split('s.')[0]}.yaml").read_text())
        assert crd["spec"] == source["spec"], name  # the very same schema as crds/
        assert crd["metadata"]["annotations"] == {
            "helm.sh/resource-policy": "keep",
            "team": "platform",
        }
        assert crd["metadata"]["labels"]["app.kubernetes.io/instance"] == "prz"
        assert crd["metadata"]["labels"]["app.kubernetes.io/part-of"] == "prazium"
    unkept = _template_only("--set", "crds.install=true", "--set", "crds.keep=false")
    for crd in [d for d in unkept if d["kind"] == "CustomResourceDefinition"]:
        assert "annotations" not in crd["metadata"]


# --- aggregated roles -----------------------------------------------------------------------


def test_aggregate_roles_label_prazium_kinds_into_view_edit_and_admin() -> None:
    docs = _docs()
    roles = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRole"}
    view, edit = roles["prz-prazium-aggregate-view"], roles["prz-prazium-aggregate-edit"]
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert view["rules"] == yaml.safe_load(
        (CHART / "files" / "aggregate-view-rules.yaml").read_text()
    )
    assert edit["rules"] == yaml.safe_load(
        (CHART / "files" / "aggregate-edit-rules.yaml").read_text()
    )
    none = _docs("--set", "createAggregateRoles=false")
    assert not [d for d in none if "aggregate" in d["metadata"]["name"]]


def test_aggregated_roles_give_namespace_viewers_and_editors_the_prazium_kinds(
    stack: Stack, namespace: str
) -> None:
    """Applied to the real apiserver: the controller manager aggregates them into the
    default roles, and RoleBindings to view and edit grant what the files say."""
    fullname = f"agg-{namespace}"
    docs = _docs("--set", f"fullnameOverride={fullname}")
    roles = [d for d in docs if d["kind"] == "ClusterRole" and "aggregate" in d["metadata"]["name"]]
    assert len(roles) == 2
    kubectl = [stack.kubectl, "--kubeconfig", stack.kubeconfig]
    subprocess.run(
        [*kubectl, "apply", "-f", "-"],
        input=yaml.safe_dump_all(roles),
        text=True,
        check=True,
        capture_output=True,
    )
    try:
        for user, role in (("alice", "view"), ("bob", "edit"), ("carol", "admin")):
            subprocess.run(
                [
                    *kubectl,
                    "-n",
                    namespace,
                    "create",
                    "rolebinding",
                    user,
                    f"--clusterrole={role}",
                    f"--user={user}",
                ],
                check=True,
                capture_output=True,
            )

        def can(user: str, verb: str, resource: str, *extra: str, where: str = namespace) -> bool:
            answer = subprocess.run(
                [
                    *kubectl,
                    "auth",
                    "can-i",
                    verb,
                    f"{resource}.prazium.io",
                    "-n",
                    where,
                    "--as",
                    user,
                    *extra,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            return answer.stdout.strip() == "yes"

        deadline = time.monotonic() + 60
        while not (can("alice", "list", "runs") and can("bob", "create", "runs")):
            assert time.monotonic() < deadline, "the default roles did not aggregate the rules"
            time.sleep(1)
        for resource in ("projects", "runs", "tasks"):
            for user in ("alice", "bob", "carol"):
                assert can(user, "get", resource) and can(user, "watch", resource), (user, resource)
            assert not can("alice", "create", resource), resource
            assert not can("alice", "delete", resource), resource
        for user in ("bob", "carol"):
            for resource in ("projects", "runs"):
                assert can(user, "create", resource) and can(user, "delete", resource)
            # Tasks and every status are the operator's.
            assert not can(user, "create", "tasks") and not can(user, "delete", "tasks")
            assert not can(user, "patch", "runs", "--subresource=status")
        # Nowhere else: the roles count only where they are bound.
        assert not can("alice", "list", "runs", where="default")
    finally:
        subprocess.run(
            [*kubectl, "delete", "clusterrole", *(r["metadata"]["name"] for r in roles)],
            check=False,
            capture_output=True,
        )


# --- helm test ----------------------------------------------------------------------------------


def test_helm_test_pods_ask_the_api_only_with_the_chart_image_and_a_key_secret() -> None:
    plain = _docs()
    assert _names(plain, "Pod") == {"prz-prazium-test-health"}  # no key: no build test
    docs = _docs(*VARIANTS["shared-cluster"], "--set", "image.tag=9.9.9")
    pods = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Pod"}
    assert set(pods) == {"pz-shared-test-health", "pz-shared-test-build"}
    script = (CHART / "files" / "helm-test.py").read_text()
    for name, pod in pods.items():
        annotations = pod["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "test"
        assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"
        spec = pod["spec"]
        assert spec["automountServiceAccountToken"] is False  # no Kubernetes API
        assert "serviceAccountName" not in spec
        assert spec["securityContext"]["runAsNonRoot"] is True
        [container] = spec["containers"]
        assert container["image"] == "localhost/prazium/prazium:9.9.9"  # the chart's own
        assert container["command"][:3] == ["python", "-c", script]
        assert container["command"][3] == name.rsplit("-", 1)[1]
        env = {e["name"]: e for e in container["env"]}
        assert env["PRAZIUM_TEST_SERVICE"]["value"] == "pz-shared-api"
        secrets = {
            e["valueFrom"]["secretKeyRef"]["name"]
            for e in env.values()
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        # The build's key, and never the database's Secret.
        assert secrets == ({"prazium-test-key"} if name.endswith("build") else set())
    assert pods["pz-shared-test-build"]["metadata"]["annotations"]["helm.sh/hook-weight"] == "1"
    assert not [d for d in _docs("--set", "tests.enabled=false") if d["kind"] == "Pod"]


def _run_helm_test_script(check: str, api_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    """files/helm-test.py as the test Pod runs it, the API Service's variables pointing at
    this test's API."""
    address = urlsplit(api_url)
    return subprocess.run(
        [sys.executable, "-c", (CHART / "files" / "helm-test.py").read_text(), check],
        env={
            **os.environ,
            "PRAZIUM_TEST_SERVICE": "prz-api",
            "PRZ_API_SERVICE_HOST": str(address.hostname),
            "PRZ_API_SERVICE_PORT": str(address.port),
            "POD_NAMESPACE": "prz",
            "PRAZIUM_TEST_TIMEOUT_SECONDS": "600",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_the_helm_test_script_checks_health_and_builds_through_the_real_api(
    operator: ServiceProcess, api: str, namespace: str, make_key: Callable[..., str]
) -> None:
    health = _run_helm_test_script("health", api)
    assert health.returncode == 0, health.stdout + health.stderr
    assert "GET /static/vendor/dagre.min.js: 200" in health.stdout
    key = make_key(namespace)
    built = _run_helm_test_script("build", api, PRAZIUM_API_KEY=key)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "succeeded" in built.stdout and "archived project" in built.stdout
    # It fails, and says why, when the API refuses it.
    refused = _run_helm_test_script("build", api, PRAZIUM_API_KEY="pzm_not-a-key")
    assert refused.returncode != 0
    assert "FAIL: POST /projects answered 401" in refused.stderr, refused.stderr

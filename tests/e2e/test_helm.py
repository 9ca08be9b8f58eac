"""Prazium installed by its Helm chart, used and upgraded and removed, as the README's
Helm section does it: one script, top to bottom (each test needs the ones before).

Cluster-agnostic: everything goes through kubectl, helm and HTTP with the kubeconfig
and values that make helm-e2e (the local node) or make kind-e2e hand over.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.cluster import Cluster, Obj, wait_for

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "prazium"
EXAMPLES = ROOT / "examples"
TENANT = "e2e-team"  # the REST flow's tenant: made by create-key, as NOTES say
KUBECTL_TENANT = "e2e-kubectl"  # the kubectl-only build's, made by an admin
# Generous: the machine may be loaded (two builds at once, each task a Pod).
BUILD_TIMEOUT = 2400.0

pytestmark = pytest.mark.timeout(3000)
state: dict[str, Any] = {}


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    return Cluster.from_env()


def _values_args() -> list[str]:
    values = os.environ.get("PRAZIUM_E2E_VALUES")
    return ["-f", values] if values else []


def _pods(cluster: Cluster, component: str) -> list[Obj]:
    items = cluster.get(
        "-n",
        cluster.namespace,
        "pods",
        "-l",
        f"app.kubernetes.io/instance={cluster.release},app.kubernetes.io/component={component}",
    )["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def _ready(pod: Obj) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _api(cluster: Cluster) -> httpx.Client:
    key = state["key"]
    return httpx.Client(
        base_url=state["api_url"] + "/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


def test_install_runs_postgres_operator_and_api_as_pods(cluster: Cluster) -> None:
    cluster.helm(
        "install",
        cluster.release,
        str(CHART),
        "-n",
        cluster.namespace,
        "--create-namespace",
        *_values_args(),
        "--wait",
        "--timeout",
        "10m",
    )
    full = cluster.fullname
    [database] = _pods(cluster, "database")
    assert _ready(database), database["status"]
    claim = cluster.get("-n", cluster.namespace, "pvc", f"data-{full}-db-0")
    assert claim["status"]["phase"] == "Bound"
    repos = cluster.get("-n", cluster.namespace, "pvc", f"{full}-repos")
    assert repos["status"]["phase"] == "Bound"
    operators, apis = _pods(cluster, "operator"), _pods(cluster, "api")
    assert len(operators) == 1 and all(
        _ready(p) or p["status"]["phase"] == "Running" for p in operators
    )
    assert apis and all(_ready(p) for p in apis)
    secret = cluster.get("-n", cluster.namespace, "secret", f"{full}-db")
    state["db_password"] = secret["data"]["POSTGRES_PASSWORD"]


def test_health_reports_every_component_through_the_api_service(cluster: Cluster) -> None:
    with cluster.service_url(cluster.namespace, f"{cluster.fullname}-api") as url:

        def healthy() -> bool:
            body = httpx.get(f"{url}/v1/health", timeout=10).json()
            return bool(body["status"] == "healthy")

        # The operator's first heartbeat may follow the API's readiness.
        wait_for(healthy, 180, "GET /v1/health healthy")
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        assert httpx.get(f"{url}/livez", timeout=10).status_code == 200


def test_a_key_is_created_the_way_the_notes_say(cluster: Cluster) -> None:
    notes = cluster.helm("get", "notes", cluster.release, "-n", cluster.namespace).stdout
    # The NOTES' command, with this run's tenant.
    line = next(text for text in notes.splitlines() if "admin_cli create-key" in text)
    assert "--tenant my-team" in line
    created = cluster.kubectl(
        "-n",
        cluster.namespace,
        "exec",
        f"deploy/{cluster.fullname}-api",
        "--",
        "python",
        "-m",
        "prazium_api.admin_cli",
        "create-key",
        "--tenant",
        TENANT,
        "--tier",
        "pro",
    )
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("pzm_"), created.stdout + created.stderr
    state["key"] = key
    namespace = cluster.get("namespace", TENANT)
    assert namespace["metadata"]["labels"]["prazium.io/tenant"] == "true"
    binding = cluster.get("-n", TENANT, "rolebinding", f"{cluster.fullname}-tenant")
    assert binding["roleRef"]["name"] == f"{cluster.fullname}-tenant"


def test_the_api_holds_workload_rights_in_tenant_namespaces_only(cluster: Cluster) -> None:
    api = f"system:serviceaccount:{cluster.namespace}:{cluster.fullname}-api"
    assert cluster.can_i(api, "delete", "configmaps", "-n", TENANT)
    assert cluster.can_i(api, "create", "deployments.apps", "-n", TENANT)
    assert not cluster.can_i(api, "delete", "configmaps", "-n", "kube-system")
    assert not cluster.can_i(api, "create", "deployments.apps", "-n", "default")
    assert not cluster.can_i(api, "get", "secrets", "-n", TENANT)
    # RBAC lets it create RoleBindings (for new tenants); the chart's admission
    # policy refuses one anywhere else.
    refused = cluster.kubectl(
        "--as",
        api,
        "-n",
        "kube-system",
        "create",
        "rolebinding",
        "e2e-escalate",
        f"--clusterrole={cluster.fullname}-tenant",
        f"--serviceaccount={cluster.namespace}:{cluster.fullname}-api",
        check=False,
    )
    assert refused.returncode != 0
    assert "tenant namespaces" in refused.stderr, refused.stderr


def test_a_kubectl_only_build_starts(cluster: Cluster) -> None:
    """Started now and checked after the REST flow: both builds run at once."""
    cluster.kubectl("create", "namespace", KUBECTL_TENANT)
    cluster.kubectl("-n", KUBECTL_TENANT, "apply", "-f", str(EXAMPLES / "project-answered.yaml"))
    wait_for(
        lambda: (
            cluster.get("-n", KUBECTL_TENANT, "project", "todo-answered")
            .get("status", {})
            .get("phase")
            == "approved"
        ),
        300,
        "the kubectl Project approved",
    )
    cluster.kubectl("-n", KUBECTL_TENANT, "apply", "-f", str(EXAMPLES / "run.yaml"))


def test_the_readme_rest_flow_builds_an_app(cluster: Cluster) -> None:
    with cluster.service_url(cluster.namespace, f"{cluster.fullname}-api") as url:
        state["api_url"] = url
        with _api(cluster) as api:
            created = api.post(
                "/projects",
                json={
                    "name": "My SaaS App",
                    "description": "A project management tool with task boards and time tracking.",
                },
            )
            assert created.status_code == 201, created.text
            project = created.json()["data"]["id"]
            state["project"] = project
            clarify = api.post(f"/projects/{project}/clarify")
            assert clarify.status_code == 200, clarify.text
            answers = api.post(f"/projects/{project}/answers", json={"answers": []})
            assert answers.status_code == 200, answers.text
            approved = api.post(f"/projects/{project}/approve")
            assert approved.status_code == 200, approved.text
            run = api.post(f"/projects/{project}/runs", json={})
            assert run.status_code == 201, run.text
            run_id = run.json()["data"]["id"]
            state["run"] = run_id

            def finished() -> Obj | None:
                # Worker Jobs run in the release namespace (and are removed when done).
                workers = cluster.get(
                    "-n", cluster.namespace, "pods", "-l", "batch.kubernetes.io/job-name"
                )
                state["worker_pods"] = state.get("worker_pods", 0) + len(workers["items"])
                body = api.get(f"/projects/{project}/runs/{run_id}").json()["data"]
                return body if body["status"] in {"succeeded", "failed", "cancelled"} else None

            done = wait_for(finished, BUILD_TIMEOUT, "the REST run finished", interval=5)
            assert done["status"] == "succeeded", done
            files = api.get(f"/projects/{project}/files", params={"path": "/"})
            assert files.status_code == 200, files.text
            assert files.json()["data"], files.text


def test_the_kubectl_only_build_succeeds(cluster: Cluster) -> None:
    def finished() -> Obj | None:
        run = cluster.get("-n", KUBECTL_TENANT, "run", "todo-answered-build")
        phase = run.get("status", {}).get("phase")
        return run if phase in {"succeeded", "failed", "cancelled"} else None

    run = wait_for(finished, BUILD_TIMEOUT, "the kubectl Run finished", interval=5)
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    assert run["status"]["verificationResult"]["exitCode"] == 0
    # The builds' workers ran as Jobs' Pods in the release namespace.
    assert state.get("worker_pods"), "no worker Pod was seen in the release namespace"


def test_a_preview_turns_live_and_its_url_answers_health(cluster: Cluster) -> None:
    project, run = state["project"], state["run"]
    with cluster.service_url(cluster.namespace, f"{cluster.fullname}-api") as url:
        state["api_url"] = url
        with _api(cluster) as api:
            created = api.post(
                f"/projects/{project}/deploy", json={"runId": run, "provider": "kubernetes"}
            )
            assert created.status_code == 202, created.text
            deployment = created.json()["data"]["deploymentId"]

            def live() -> Obj | None:
                body = api.get(f"/projects/{project}/deployments/{deployment}").json()["data"]
                assert body["status"] != "failed", body
                return body if body["status"] == "live" else None

            preview = wait_for(live, 300, "the preview live", interval=3)
    preview_url = preview["url"]
    assert preview_url, preview
    if cluster.node_address:
        # The URL the API returned answers from this host.
        answer = wait_for(
            lambda: httpx.get(f"{preview_url}/health", timeout=10), 60, "the preview's /health"
        )
    else:
        name = "pzd-" + deployment.removeprefix("dep_")
        with cluster.service_url(TENANT, name) as forwarded:
            answer = wait_for(
                lambda: httpx.get(f"{forwarded}/health", timeout=10), 60, "the preview's /health"
            )
    assert answer.status_code == 200, answer.text


def test_crds_upgrade_with_the_documented_server_side_apply(cluster: Cluster) -> None:
    """Helm never upgrades crds/: the README's step before `helm upgrade` does. An
    in-cluster CRD that lags the chart (a description removed) is brought back."""
    crd = "runs.prazium.io"
    path = "/spec/versions/0/schema/openAPIV3Schema/description"
    assert cluster.get("crd", crd)["spec"]["versions"][0]["schema"]["openAPIV3Schema"].get(
        "description"
    )
    cluster.kubectl(
        "patch", "crd", crd, "--type=json", "-p", json.dumps([{"op": "remove", "path": path}])
    )
    assert (
        "description"
        not in cluster.get("crd", crd)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    )
    # As documented, with the trailing slash (crds is a symlink to the repository's crds/).
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", f"{CHART / 'crds'}/")
    wanted = yaml.safe_load((CHART / "crds" / "run.yaml").read_text())
    found = cluster.get("crd", crd)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert found.get("description") == wanted["spec"]["versions"][0]["schema"][
        "openAPIV3Schema"
    ].get("description")


def test_upgrade_with_a_config_value_rolls_the_pods_and_keeps_the_password(
    cluster: Cluster,
) -> None:
    before = {p["metadata"]["uid"] for c in ("api", "operator") for p in _pods(cluster, c)}
    cluster.helm(
        "upgrade",
        cluster.release,
        str(CHART),
        "-n",
        cluster.namespace,
        "--reuse-values",
        "--set",
        "api.rateLimits.free=61",
        "--wait",
        "--timeout",
        "10m",
    )
    config = cluster.get("-n", cluster.namespace, "configmap", f"{cluster.fullname}-config")
    assert config["data"]["PRAZIUM_RATE_LIMIT_FREE"] == "61"

    def rolled() -> bool:
        pods = [p for c in ("api", "operator") for p in _pods(cluster, c)]
        return bool(pods) and not ({p["metadata"]["uid"] for p in pods} & before)

    wait_for(rolled, 300, "API and operator Pods replaced")
    secret = cluster.get("-n", cluster.namespace, "secret", f"{cluster.fullname}-db")
    assert secret["data"]["POSTGRES_PASSWORD"] == state["db_password"]
    with cluster.service_url(cluster.namespace, f"{cluster.fullname}-api") as url:
        state["api_url"] = url
        with _api(cluster) as api:
            # The same key, the same data, through the new Pods.
            answer = wait_for(
                lambda: api.get(f"/projects/{state['project']}"), 120, "the project after upgrade"
            )
            assert answer.status_code == 200, answer.text


def test_uninstall_leaves_only_what_the_docs_say(cluster: Cluster) -> None:
    full = cluster.fullname
    cluster.helm("uninstall", cluster.release, "-n", cluster.namespace, "--wait")
    kept = {
        ("PersistentVolumeClaim", f"{full}-repos"),
        ("PersistentVolumeClaim", f"data-{full}-db-0"),
        ("Secret", f"{full}-db"),
    }

    def remaining() -> set[tuple[str, str]]:
        labelled = cluster.get(
            "-n",
            cluster.namespace,
            "all,configmaps,secrets,pvc,serviceaccounts,roles,rolebindings,pdb",
            "-l",
            f"app.kubernetes.io/instance={cluster.release}",
        )["items"]
        return {(o["kind"], o["metadata"]["name"]) for o in labelled}

    # Pods of the deleted workloads may take their grace period to go.
    with contextlib.suppress(AssertionError):
        wait_for(lambda: remaining() == kept, 120, "only the kept objects left")
    left = remaining()
    assert left == kept, left
    for kind in ("clusterroles", "clusterrolebindings", "validatingadmissionpolicies"):
        names = {
            o["metadata"]["name"]
            for o in cluster.get(kind, "-l", f"app.kubernetes.io/instance={cluster.release}")[
                "items"
            ]
        }
        assert names == set(), (kind, names)
    # The CRDs (and every Project and Run) stay; the kept Secret holds the install's password.
    assert cluster.get("crd", "projects.prazium.io")
    assert cluster.get("-n", KUBECTL_TENANT, "project", "todo-answered")
    secret = cluster.get("-n", cluster.namespace, "secret", f"{full}-db")
    assert secret["data"]["POSTGRES_PASSWORD"] == state["db_password"]

"""Prazium installed by its Helm chart, used and upgraded and removed, as the README's
Helm section does it: one script, top to bottom (each test needs the ones before).

Cluster-agnostic: everything goes through kubectl, helm and HTTP with the kubeconfig
and values that make helm-e2e (the local node) or make kind-e2e hand over.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.cluster import Cluster, Obj, wait_for
from tests.support.sse import frames

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "prazium"
EXAMPLES = ROOT / "examples"
TENANT = "e2e-team"  # the REST flow's tenant: made by create-key, as NOTES say
KUBECTL_TENANT = "e2e-kubectl"  # the kubectl-only build's, made by an admin
# A Secret in the release namespace with an API key (key apiKey): `helm test`'s build.
TEST_KEY_SECRET = "prazium-test-key"
FINAL = {"succeeded", "failed", "cancelled"}
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
        "--set",
        f"tests.build.apiKeySecret={TEST_KEY_SECRET}",
        "--set",
        f"tests.build.timeoutSeconds={int(BUILD_TIMEOUT)}",  # three builds at once, loaded
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
    # Names are no longer doubled (0.1.0: prazium-prazium-api).
    assert cluster.get("-n", cluster.namespace, "deployment", f"{full}-api")
    assert not cluster.kubectl(
        "-n", cluster.namespace, "get", "deployment", "prazium-prazium-api", check=False
    ).stdout


def test_the_pods_run_the_image_make_image_built_from_a_fresh_clone(cluster: Cluster) -> None:
    """The values give no image: the chart's default names what make image builds
    (here from a fresh clone, imported into the node), and that image runs."""
    image = os.environ.get("PRAZIUM_E2E_IMAGE", "localhost/prazium/prazium:0.1.0")
    # make helm-e2e: the imported archive's manifest and configuration digests.
    digests = [os.environ.get(f"PRAZIUM_E2E_IMAGE_{n}") for n in ("DIGEST", "CONFIG")]
    for component in ("api", "operator"):
        for pod in _pods(cluster, component):
            [container] = pod["spec"]["containers"]
            assert container["image"] == image, container["image"]
            [status] = pod["status"]["containerStatuses"]
            if all(digests):  # the node resolved the name to the archive's image
                assert any(status["imageID"].endswith(str(d)) for d in digests), (
                    status["imageID"],
                    digests,
                )


def test_health_reports_every_component_through_the_api_service(cluster: Cluster) -> None:
    with cluster.service_url(cluster.namespace, f"{cluster.fullname}-api") as url:

        def healthy() -> bool:
            body = httpx.get(f"{url}/v1/health", timeout=10).json()
            return bool(body["status"] == "healthy")

        # The operator's first heartbeat may follow the API's readiness.
        wait_for(healthy, 180, "GET /v1/health healthy")
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        assert httpx.get(f"{url}/livez", timeout=10).status_code == 200


def test_the_dashboard_and_its_vendored_libraries_are_served(cluster: Cluster) -> None:
    """static/vendor/ is git-ignored: the image's web stage made it from the npm lock."""
    with cluster.service_url(cluster.namespace, f"{cluster.fullname}-api") as url:
        page = httpx.get(f"{url}/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower(), page.text[:200]
        for asset in (
            "dagre.min.js",
            "markdown-it.min.js",
            "highlight.min.js",
            "redoc.standalone.js",
        ):
            answer = httpx.get(f"{url}/static/vendor/{asset}", timeout=30)
            assert answer.status_code == 200, (asset, answer.status_code, answer.text[:200])
            assert len(answer.content) > 10_000, asset


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
    # helm test's build runs with this tenant's key, from a Secret (never a value).
    cluster.kubectl(
        "-n",
        cluster.namespace,
        "create",
        "secret",
        "generic",
        TEST_KEY_SECRET,
        f"--from-literal=apiKey={key}",
    )
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
    # `helm test` meanwhile: the health Pod, then a third build through the REST API.
    state["helm_test"] = subprocess.Popen(
        [
            cluster.helm_bin,
            "--kubeconfig",
            cluster.kubeconfig,
            "test",
            cluster.release,
            "-n",
            cluster.namespace,
            "--logs",
            "--timeout",
            "40m",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


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


def test_helm_test_checks_health_and_builds_an_app(cluster: Cluster) -> None:
    helm_test: subprocess.Popen[str] = state["helm_test"]
    output, _ = helm_test.communicate(timeout=BUILD_TIMEOUT)
    assert helm_test.returncode == 0, output
    assert f"TEST SUITE:     {cluster.fullname}-test-health" in output, output
    assert f"TEST SUITE:     {cluster.fullname}-test-build" in output, output
    assert output.count("Phase:          Succeeded") == 2, output
    assert "GET /static/vendor/dagre.min.js: 200" in output, output
    assert "succeeded;" in output and "archived project" in output, output


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


def _approved_rest_project(api: httpx.Client, name: str) -> str:
    created = api.post(
        "/projects",
        json={"name": name, "description": "A habit tracker where users log daily habits."},
    )
    assert created.status_code == 201, created.text
    project = str(created.json()["data"]["id"])
    for step, body in (("clarify", None), ("answers", {"answers": []}), ("approve", None)):
        answer = api.post(f"/projects/{project}/{step}", json=body)
        assert answer.status_code == 200, (step, answer.text)
    return project


class _EventFollower(threading.Thread):
    """An SSE client of one run that reconnects with Last-Event-ID whenever its
    connection ends before the run's final event, as a browser's EventSource does."""

    def __init__(self, url: str, key: str, project: str, run: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{url}/v1/projects/{project}/runs/{run}/events/stream"
        self.key = key
        self.events: list[tuple[str, str]] = []  # (id, type)
        self.connections = 0
        self.errors: list[str] = []
        self.deadline = time.monotonic() + BUILD_TIMEOUT

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            headers = {"Authorization": f"Bearer {self.key}"}
            if self.events:
                headers["Last-Event-ID"] = self.events[-1][0]
            try:
                with httpx.stream("GET", self.url, headers=headers, timeout=60) as response:
                    if response.status_code != 200:
                        self.errors.append(f"HTTP {response.status_code}")
                        time.sleep(2)
                        continue
                    self.connections += 1
                    for frame in frames(response):
                        self.events.append((frame.id or "", frame.event or ""))
                        if frame.event in {"RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELLED"}:
                            return
            except httpx.HTTPError as exc:  # the API Pod went away mid-stream
                self.errors.append(repr(exc))
            time.sleep(1)


def _journal(api: httpx.Client, project: str, run: str) -> list[Obj]:
    events: list[Obj] = []
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if events:
            params["afterId"] = events[-1]["id"]
        page = api.get(f"/projects/{project}/runs/{run}/events", params=params)
        assert page.status_code == 200, page.text
        batch = page.json()["data"]
        if not batch:
            return events
        events.extend(batch)


def _timestamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_upgrade_to_a_new_image_tag_with_runs_in_flight(cluster: Cluster) -> None:
    """helm upgrade to another image tag while two builds run (one through REST, followed
    over SSE; one with kubectl alone): the operator and the API roll onto the new image,
    both runs succeed, the SSE client resumes across the API's replacement, and its
    events are the journal's, none missing and none twice."""
    new_image = os.environ.get("PRAZIUM_E2E_UPGRADE_IMAGE")
    if not new_image:
        pytest.skip("PRAZIUM_E2E_UPGRADE_IMAGE is not set (make helm-e2e sets it)")
    repository, tag = new_image.rsplit(":", 1)
    manifest = yaml.safe_load((EXAMPLES / "project-answered.yaml").read_text())
    manifest["metadata"]["name"] = "todo-inflight"
    cluster.kubectl("-n", KUBECTL_TENANT, "apply", "-f", "-", input=yaml.safe_dump(manifest))
    with cluster.service_url(cluster.namespace, f"{cluster.fullname}-api") as url:
        state["api_url"] = url
        with _api(cluster) as api:
            project = _approved_rest_project(api, "In-flight App")
            started = api.post(f"/projects/{project}/runs", json={})
            assert started.status_code == 201, started.text
            run = str(started.json()["data"]["id"])
            follower = _EventFollower(url, state["key"], project, run)
            follower.start()
            wait_for(
                lambda: (
                    cluster.get("-n", KUBECTL_TENANT, "project", "todo-inflight")
                    .get("status", {})
                    .get("phase")
                    == "approved"
                ),
                300,
                "the in-flight kubectl Project approved",
            )
            kubectl_run = yaml.safe_load((EXAMPLES / "run.yaml").read_text())
            kubectl_run["metadata"]["name"] = "todo-inflight-build"
            kubectl_run["spec"]["projectRef"]["name"] = "todo-inflight"
            cluster.kubectl(
                "-n", KUBECTL_TENANT, "apply", "-f", "-", input=yaml.safe_dump(kubectl_run)
            )

            def working() -> Obj | None:
                body = api.get(f"/projects/{project}/runs/{run}").json()["data"]
                if body["status"] in FINAL:  # not an AssertionError: wait_for would retry
                    pytest.fail(f"the run ended before the upgrade began: {body}")
                busy = [
                    t for t in body.get("tasks") or [] if t["status"] in {"running", "succeeded"}
                ]
                return body if busy else None

            wait_for(working, 900, "a task of the REST run under way", interval=3)
            before = {p["metadata"]["uid"] for c in ("api", "operator") for p in _pods(cluster, c)}
            cluster.helm(
                "upgrade",
                cluster.release,
                str(CHART),
                "-n",
                cluster.namespace,
                "--reuse-values",
                "--set",
                f"image.repository={repository}",
                "--set",
                f"image.tag={tag}",
                "--wait",
                "--timeout",
                "15m",
            )

            def rolled() -> list[Obj] | None:
                pods = [p for c in ("api", "operator") for p in _pods(cluster, c)]
                fresh = bool(pods) and not ({p["metadata"]["uid"] for p in pods} & before)
                return pods if fresh and all(_ready(p) for p in pods) else None

            pods = wait_for(rolled, 600, "API and operator Pods replaced")
            for pod in pods:
                assert pod["spec"]["containers"][0]["image"] == new_image
            config = cluster.get("-n", cluster.namespace, "configmap", f"{cluster.fullname}-config")
            assert config["data"]["PRAZIUM_WORKER_IMAGE"] == new_image
            [operator] = [
                p
                for p in pods
                if p["metadata"]["labels"]["app.kubernetes.io/component"] == "operator"
            ]
            at_upgrade = wait_for(
                lambda: api.get(f"/projects/{project}/runs/{run}").json()["data"]["status"],
                120,
                "the run through the new API Pods",
            )

            def finished() -> Obj | None:
                body = api.get(f"/projects/{project}/runs/{run}").json()["data"]
                return body if body["status"] in FINAL else None

            done = wait_for(finished, BUILD_TIMEOUT, "the REST run finished", interval=5)
            assert done["status"] == "succeeded", done
            follower.join(timeout=300)
            assert not follower.is_alive(), "the SSE client did not see the run's end"
            journal = _journal(api, project, run)

    def kubectl_finished() -> Obj | None:
        found = cluster.get("-n", KUBECTL_TENANT, "run", "todo-inflight-build")
        return found if found.get("status", {}).get("phase") in FINAL else None

    built = wait_for(kubectl_finished, BUILD_TIMEOUT, "the kubectl Run finished", interval=5)
    assert built["status"]["phase"] == "succeeded", built["status"].get("message")
    # The REST run was in flight across the upgrade: the new operator carried it on
    # (journaled some of it after its start, its end included).
    print(f"REST run at the upgrade's end: {at_upgrade}; SSE connections {follower.connections}")
    operator_start = _timestamp(str(operator["status"]["startTime"]))
    after = [e["eventType"] for e in journal if _timestamp(e["createdAt"]) > operator_start]
    assert "RUN_COMPLETED" in after, f"the run ended before the new operator started: {after}"
    # Nothing lost, nothing twice: the SSE client's events are the journal's.
    assert follower.connections >= 2, (
        f"the SSE stream was never resumed ({follower.connections} connection(s), "
        f"errors {follower.errors}): the API Pods it used were not replaced mid-run"
    )
    streamed = [event_id for event_id, _ in follower.events]
    assert len(streamed) == len(set(streamed)), "an event arrived twice"
    types = [e["eventType"] for e in journal]
    assert types.count("RUN_COMPLETED") == 1, types
    # The stream ends with the run's final event (the contract): compare up to it.
    through_end = [e["id"] for e in journal[: types.index("RUN_COMPLETED") + 1]]
    assert streamed == through_end, (streamed, through_end)


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
        # The last `helm test`'s Pods (hooks are not the release's: Helm leaves them).
        ("Pod", f"{full}-test-health"),
        ("Pod", f"{full}-test-build"),
    }

    def remaining() -> set[tuple[str, str]]:
        labelled = cluster.get(
            "-n",
            cluster.namespace,
            "all,configmaps,secrets,pvc,serviceaccounts,roles,rolebindings,pdb,networkpolicies",
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


# --- a second install: from a registry, its own names, the CRDs as templates -------------------


def _shared() -> tuple[str, str, str]:
    return (
        os.environ.get("PRAZIUM_E2E_SHARED_NAMESPACE", "prazium-shared"),
        os.environ.get("PRAZIUM_E2E_SHARED_RELEASE", "e2e-shared"),
        os.environ.get("PRAZIUM_E2E_SHARED_FULLNAME", "pz-shared"),
    )


def _helm_result(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [cluster.helm_bin, "--kubeconfig", cluster.kubeconfig, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


CRDS = ("projects.prazium.io", "runs.prazium.io", "tasks.prazium.io")


def test_crds_install_refuses_crds_it_does_not_own_and_says_how_to_adopt_them(
    cluster: Cluster,
) -> None:
    """The CRDs come from the first install's crds/, outside any release."""
    namespace, release, full = _shared()
    refused = _helm_result(
        cluster,
        "install",
        release,
        str(CHART),
        "-n",
        namespace,
        "--create-namespace",
        *_values_args(),
        "--set",
        "crds.install=true",
        "--set",
        f"fullnameOverride={full}",
    )
    assert refused.returncode != 0
    assert "exists and is not this release's" in refused.stderr, refused.stderr
    assert f"meta.helm.sh/release-name={release}" in refused.stderr, refused.stderr
    assert "--skip-crds" in refused.stderr
    assert _helm_result(cluster, "status", release, "-n", namespace).returncode != 0


def test_a_second_install_from_a_registry_with_its_own_names_and_templated_crds(
    cluster: Cluster,
) -> None:
    namespace, release, full = _shared()
    registry = os.environ.get("PRAZIUM_E2E_REGISTRY")
    image = ["--set", f"image.repository={registry}/prazium", "--set", "image.pullPolicy=Always"]
    db_ip = os.environ.get("PRAZIUM_E2E_SHARED_DB_IP")
    # Adopted as the README says: then the release owns them.
    for crd in CRDS:
        cluster.kubectl("label", "--overwrite", "crd", crd, "app.kubernetes.io/managed-by=Helm")
        cluster.kubectl(
            "annotate",
            "--overwrite",
            "crd",
            crd,
            f"meta.helm.sh/release-name={release}",
            f"meta.helm.sh/release-namespace={namespace}",
        )
    cluster.helm(
        "install",
        release,
        str(CHART),
        "-n",
        namespace,
        "--create-namespace",
        "--skip-crds",
        *_values_args(),
        *(image if registry else []),
        *(["--set", f"database.bundled.service.clusterIP={db_ip}"] if db_ip else []),
        "--set",
        "crds.install=true",
        "--set",
        f"fullnameOverride={full}",
        "--set",
        "api.replicas=1",
        "--wait",
        "--timeout",
        "10m",
    )
    deployments = cluster.get("-n", namespace, "deployments")["items"]
    assert {d["metadata"]["name"] for d in deployments} == {f"{full}-api", f"{full}-operator"}
    assert cluster.get("-n", namespace, "statefulset", f"{full}-db")
    labelled = cluster.get(
        "-n",
        namespace,
        "all,configmaps,secrets,pvc,serviceaccounts",
        "-l",
        f"app.kubernetes.io/instance={release}",
    )["items"]
    for obj in labelled:
        name = obj["metadata"]["name"]
        assert name.startswith(f"{full}-") or name == f"data-{full}-db-0", name
    if registry:  # the node pulled the image from the registry make image-push filled
        for pod in _pods_of(cluster, namespace, release, "api"):
            [status] = pod["status"]["containerStatuses"]
            assert status["image"] == f"{registry}/prazium:0.1.0", status
            assert status["imageID"].startswith(f"{registry}/prazium@sha256:"), status
    for crd in CRDS:
        meta = cluster.get("crd", crd)["metadata"]
        assert meta["labels"]["app.kubernetes.io/instance"] == release
        assert meta["annotations"]["helm.sh/resource-policy"] == "keep"
    # What the first install built is still there: the CRDs changed hands, not content.
    assert cluster.get("-n", KUBECTL_TENANT, "project", "todo-answered")
    # helm test without a key: the health Pod only.
    tested = _helm_result(cluster, "test", release, "-n", namespace, "--logs", "--timeout", "10m")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert f"{full}-test-health" in tested.stdout and f"{full}-test-build" not in tested.stdout
    # helm upgrade upgrades the templated CRDs: one made to lag is brought back.
    path = "/spec/versions/0/schema/openAPIV3Schema/description"
    cluster.kubectl(
        "patch",
        "crd",
        "runs.prazium.io",
        "--type=json",
        "-p",
        json.dumps([{"op": "remove", "path": path}]),
    )
    cluster.helm(
        "upgrade",
        release,
        str(CHART),
        "-n",
        namespace,
        "--reuse-values",
        "--wait",
        "--timeout",
        "10m",
    )
    wanted = yaml.safe_load((CHART / "crds" / "run.yaml").read_text())
    found = cluster.get("crd", "runs.prazium.io")["spec"]["versions"][0]["schema"]
    assert (
        found["openAPIV3Schema"].get("description")
        == wanted["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"]
    )
    # Uninstalled, the kept CRDs stay, and every Project with them.
    cluster.helm("uninstall", release, "-n", namespace, "--wait")
    for crd in CRDS:
        assert cluster.get("crd", crd)
    assert cluster.get("-n", KUBECTL_TENANT, "project", "todo-answered")


def _pods_of(cluster: Cluster, namespace: str, release: str, component: str) -> list[Obj]:
    items = cluster.get(
        "-n",
        namespace,
        "pods",
        "-l",
        f"app.kubernetes.io/instance={release},app.kubernetes.io/component={component}",
    )["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]

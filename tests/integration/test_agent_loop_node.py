"""The coding-agent loop in worker Pods on the test stack's node, for both providers.

The stand-in listens on the node's bridge address, which Pods reach only through the
operator's egress proxy (the stand-in is the installation's LLM endpoint); the worker
gets its key, base URL included, from the admin-provisioned credentials Secret
"<tenant>.<name>" in the job namespace (envFrom), as a real install would.
task-001's session fixes a failing test it ran in the Pod; task-002's command looks
for the key and the platform's secrets from inside the Pod, where it shares the
worker's uid: the worker's /proc environment is closed to it (PR_SET_DUMPABLE 0), its
own environment holds no key, no ServiceAccount token is mounted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from prazium_kit import paths
from prazium_operator.executor.kubernetes import credentials_secret_name
from prazium_operator.worker_contract import log_path
from tests.support.build import create, events, kubectl_apply, tasks_of, wait_phase, wait_run_done
from tests.support.llm_standin import LLMStandin
from tests.support.loop_scripts import fix_session, probe_session
from tests.support.node import PodRecorder, job_namespace, node, operator_env
from tests.support.providers import ANTHROPIC, OPENAI, PROVIDERS, Provider
from tests.support.services import Stack, start_operator, wait_for

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEYS = {
    OPENAI.name: "sk-loop-node-0f1e2d3c4b5a69",
    ANTHROPIC.name: "sk-ant-loop-node-a1b2c3d4e5f607",
}
SECRET = "agent-keys"


@pytest.fixture(params=PROVIDERS, ids=lambda p: p.name)
def provider(request: pytest.FixtureRequest) -> Provider:
    found: Provider = request.param
    return found


@pytest.fixture
def standin(provider: Provider) -> Iterator[LLMStandin]:
    with provider.standin(KEYS[provider.name], host=node().host_address) as server:
        yield server


@pytest.fixture
def jobs_ns(stack: Stack, data_dir: Path) -> Iterator[str]:
    with job_namespace(data_dir) as name:
        yield name


def test_the_loop_runs_in_worker_pods_and_its_commands_reach_no_secret(
    stack: Stack,
    namespace: str,
    jobs_ns: str,
    data_dir: Path,
    tmp_path: Path,
    provider: Provider,
    standin: LLMStandin,
) -> None:
    from tests.conftest import _heartbeat_seen

    key = KEYS[provider.name]
    client.CoreV1Api().create_namespaced_secret(
        jobs_ns,
        {
            "metadata": {"name": credentials_secret_name(namespace, SECRET)},
            "stringData": {provider.key_env: key, provider.base_url_env: standin.base_url},
        },
    )
    standin.script("task-001", fix_session())
    standin.script("task-002", probe_session(stack.kubeconfig, key))
    logs = tmp_path / "logs"
    # The installation's LLM endpoint is the stand-in: the egress proxy lets worker Pods
    # reach it (and nothing else of the node's network), as an admin's setting would.
    operator = start_operator(
        stack,
        data_dir,
        [namespace],
        logs,
        **operator_env(jobs_ns, **{provider.base_url_env: standin.base_url}),
    )
    try:
        wait_for(
            lambda: _heartbeat_seen(stack.database_url, operator.pid),
            30,
            "operator heartbeat",
            operator,
        )
        kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
        wait_phase(namespace, "projects", "notes-gitops", {"approved"}, operator)
        with PodRecorder(jobs_ns) as pods:
            create(
                namespace,
                "runs",
                "Run",
                "notes-pods",
                {
                    "projectRef": {"name": "notes-gitops"},
                    "agent": {
                        "coder": provider.name,
                        "model": "standin-1",
                        "credentialsSecret": SECRET,
                    },
                },
            )
            run = wait_run_done(namespace, "notes-pods", operator, timeout=900)
    finally:
        operator.stop()
    assert standin.session_failures == [], standin.session_failures
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    tasks = tasks_of(namespace, "notes-pods")
    assert {t["status"]["executor"]["kind"] for t in tasks} == {"kubernetes"}
    workers = [
        p for p in pods.seen.values() if p["metadata"]["labels"]["prazium.io/role"] == "worker"
    ]
    assert len(workers) == len(tasks)
    assert {v.task_id for v in standin.session_views} == {
        t["spec"]["definition"]["id"] for t in tasks
    }
    # task-001's transcript, written in its Pod, kept on the volume.
    result = paths.result_path(data_dir, namespace, "notes-pods", "task-001", 1)
    log = log_path(result).read_text()
    assert "step 3: run command='python -m unittest -v tests.test_health' -> ok: exit 1" in log
    assert "stopped: Finished after 6 steps" in log
    outcome = json.loads(result.read_text())
    assert (outcome["reason"], outcome["usage"]["requests"]) == ("Finished", 6)
    journal = events(stack.database_url, namespace, "notes-pods")
    assert sum(1 for e in journal if e["type"] == "AGENT_USAGE" and e["task"] == "task-001") == 6
    for path in [*data_dir.rglob("*"), *logs.rglob("*")]:
        if path.is_file() and not path.is_symlink():
            assert key.encode() not in path.read_bytes(), path

"""Untrusted code runs without platform credentials and sees only its own project,
with both executors: a description can steer a model and a `command` is whatever the
tenant wrote, so what a worker runs is never trusted.

A tenant's `command` coder builds the app (the template coder, run from the command)
and, in every task, probes what it can reach: its environment, another tenant's
repository on the same volume, the operator's kubeconfig and environment, a
ServiceAccount token, and a PostgreSQL login as the platform's user. It commits what
it found (in README.md and a file under app/model/), and appends the same probe to
the generated app's tests, so verification runs it too and prints it. Every probe
must come back denied, nothing of the platform's secrets (the database password, the
kubeconfig's key material, the operator's LLM key) may appear in any branch, file on
the volume, log, journal event or Kubernetes Event, and the build still succeeds.

In worker and verification Pods the probe also reads the kernel it runs on (gVisor's
own under the node's default runtime) and opens connections to the node's
PostgreSQL, apiserver (through its Service, the way Pods reach it), kubelet, the
operator's metrics port and the API's port (both listening on every address): all
are refused or time out (the host firewall and the Pods' NetworkPolicies).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml
from kubernetes import client

from prazium_kit import paths
from tests.support.build import (
    create,
    git,
    kubectl_apply,
    tasks_of,
    wait_final_event,
    wait_phase,
    wait_run_done,
)
from tests.support.node import PodRecorder, job_namespace, node, operator_env, stack_port
from tests.support.sandbox_python import python_line
from tests.support.services import (
    ServiceProcess,
    Stack,
    free_port,
    start_api,
    start_operator,
    wait_for,
)

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RUN = "notes-probe"
OPERATOR_LLM_KEY = f"sk-operator-canary-{uuid.uuid4().hex}"
VICTIM_CANARY = f"victim-canary-{uuid.uuid4().hex}"
PROBE_MARK = "PRAZIUM-PROBE "
# The apiserver's `kubernetes` Service (scripts/cluster.sh's service range).
KUBERNETES_SERVICE_IP = "10.0.0.1"

# What the probe does (the same source in the coder and in the generated test); the
# targets are filled in per test. Standard library only: the verification sandbox has
# nothing else.
PROBE = """
import json as _json, os as _os, pathlib as _pathlib, socket as _socket, struct as _struct


def _read(path):
    try:
        target = _pathlib.Path(path)
        if target.is_dir():
            return "READ:" + ",".join(sorted(_os.listdir(target)))
        return "READ:" + target.read_text(errors="replace")[:300]
    except Exception as exc:
        return "denied:" + type(exc).__name__


def _pg_login(host, port):
    try:
        conn = _socket.create_connection((host, port), timeout=5)
        body = _struct.pack("!I", 196608) + b"user\\0prazium\\0database\\0prazium\\0\\0"
        conn.sendall(_struct.pack("!I", len(body) + 4) + body)
        head = conn.recv(9)
        conn.close()
    except Exception as exc:
        return "refused:" + type(exc).__name__
    if head[:1] == b"R" and len(head) == 9 and _struct.unpack("!I", head[5:9])[0] == 0:
        return "LOGGED-IN"
    return "refused:" + repr(head[:1])


def _connect(host, port):
    try:
        _socket.create_connection((host, port), timeout=5).close()
    except Exception as exc:
        return "closed:" + type(exc).__name__
    return "open"


def probe():
    env = dict(_os.environ)
    return {
        "kernel": _read("/proc/version"),
        "ports": {name: _connect(*where) for name, where in PORTS.items()},
        "uid": _os.getuid(),
        "env": env,
        "victimRepo": _read(VICTIM + "/HEAD"),
        "victimFile": _read(VICTIM_FILE),
        "reposDir": _read(DATA_DIR + "/repos"),
        "kubeconfig": _read(KUBECONFIG),
        "token": _read("/var/run/secrets/kubernetes.io/serviceaccount/token"),
        "operatorEnviron": _read("/proc/%d/environ" % OPERATOR_PID),
        "postgres": _pg_login(PG_HOST, PG_PORT),
    }
"""

CODER = """
import json, os, pathlib
from prazium_operator.agents import get_coder
task = json.loads(os.environ["PRAZIUM_TASK_JSON"])
docs = {p.name: p.read_text() for p in pathlib.Path("docs/spec").glob("*.md")}
get_coder("template").code(task, docs, pathlib.Path("."))
found = json.dumps(probe(), sort_keys=True)
scope = task["pathScope"]
trees = [pattern[:-3] for pattern in scope if pattern.endswith("/**")]
if trees:
    pathlib.Path(trees[0], "probe_" + task["id"] + ".json").write_text(found)
if "README.md" in scope:
    with open("README.md", "a") as readme:
        readme.write("\\n" + PROBE_MARK + found + "\\n")
if "tests/test_smoke.py" in scope:
    with open("tests/test_smoke.py", "a") as smoke:
        smoke.write("\\n\\nimport atexit as _ae\\n" + SRC + "\\n" + AT_EXIT + "\\n")
"""

# Appended to the generated smoke test (with the probe): at exit, after unittest's
# summary, so it is in the verification output's tail, it prints what it found.
AT_EXIT = "_ae.register(lambda: print(PROBE_MARK + _json.dumps(probe(), sort_keys=True)))"


def _targets(
    data_dir: Path,
    victim: Path,
    kubeconfig: str,
    pg_host: str,
    pg_port: int,
    operator_pid: int,
    ports: dict[str, tuple[str, int]] | None = None,
) -> str:
    return (
        f"PORTS = {ports or {}!r}\n"
        f"VICTIM = {str(victim)!r}\n"
        f"VICTIM_FILE = {str(data_dir / 'victim-secret.txt')!r}\n"
        f"DATA_DIR = {str(data_dir)!r}\n"
        f"KUBECONFIG = {kubeconfig!r}\n"
        f"PG_HOST = {pg_host!r}\n"
        f"PG_PORT = {pg_port}\n"
        f"OPERATOR_PID = {operator_pid}\n"
        f"PROBE_MARK = {PROBE_MARK!r}\n"
    )


def _command(targets: str) -> str:
    """The coder, compressed: a Run's agent.command holds at most 2000 bytes."""
    src = targets + PROBE
    code = f"SRC = {src!r}\nAT_EXIT = {AT_EXIT!r}\nexec(SRC)\n" + CODER
    packed = base64.b85encode(zlib.compress(code.encode(), 9)).decode()
    return python_line(f"import base64, zlib\nexec(zlib.decompress(base64.b85decode({packed!r})))")


def _victim_repository(data_dir: Path) -> Path:
    """Another tenant's repository on the same volume, holding a canary."""
    repo = paths.repo_path(data_dir, f"victim-{uuid.uuid4().hex[:8]}", "bank")
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    blob = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"],
        cwd=repo,
        input=VICTIM_CANARY,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (repo / "canary-blob").write_text(blob)
    (data_dir / "victim-secret.txt").write_text(VICTIM_CANARY)
    return repo


def _platform_secrets(stack: Stack) -> dict[str, str]:
    """What must never reach untrusted code or anything it can write."""
    password = urlsplit(stack.database_url).password
    assert password, "the test stack's DSN carries a password"
    kubeconfig = yaml.safe_load(Path(stack.kubeconfig).read_text())
    user = kubeconfig["users"][0]["user"]
    key_file = user.get("client-key")
    key_text = (
        Path(key_file).read_text()
        if key_file
        else base64.b64decode(user["client-key-data"]).decode()
    )
    key_lines = [line for line in key_text.splitlines() if line and "-----" not in line]
    return {
        "database password": password,
        "kubeconfig key material": key_lines[len(key_lines) // 2],
        "operator LLM key": OPERATOR_LLM_KEY,
    }


def _assert_denied(found: dict[str, Any], where: str, victim: Path, own_namespace: str) -> None:
    """One probe's findings: nothing of the platform or another tenant was reachable."""
    for name, result in found["ports"].items():
        assert result.startswith("closed:"), (where, name, result)
    env = found["env"]
    assert found["uid"] != 0, (where, found["uid"])
    for name in ("PRAZIUM_DATABASE_URL", "DATABASE_URL", "KUBECONFIG", "PRAZIUM_KUBECONFIG"):
        assert name not in env, (where, name)
    assert "OPENAI_API_KEY" not in env and "ANTHROPIC_API_KEY" not in env, (where, sorted(env))
    for key in ("victimRepo", "victimFile", "kubeconfig", "token", "operatorEnviron"):
        assert found[key].startswith("denied:"), (where, key, found[key])
    assert found["postgres"].startswith("refused:"), (where, found["postgres"])
    listing = found["reposDir"]
    # A Pod sees the mount points of its own project only; locally nothing at all.
    assert listing.startswith("denied:") or listing == f"READ:{own_namespace}", (where, listing)
    assert victim.parent.name not in listing


def _local_env_is_the_contract(found: dict[str, Any], where: str) -> None:
    """Locally: PATH, HOME, LANG and PRAZIUM_TASK_* (plus what the shell itself sets)."""
    shell_own = {"PWD", "SHLVL", "_", "OLDPWD"}
    extra = {
        key
        for key in found["env"]
        if key not in {"PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE", *shell_own}
        and not key.startswith("PRAZIUM_TASK_")
    }
    assert not extra, (where, sorted(extra))


def _probes_in_branches(repo: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/").split()
    for ref in refs:
        for path in git(repo, "ls-tree", "-r", "--name-only", ref).split():
            if re.search(r"probe_task-\d+\.json$", path):
                found[f"{ref}:{path}"] = json.loads(git(repo, "show", f"{ref}:{path}"))
            elif path == "README.md":
                for line in git(repo, "show", f"{ref}:{path}").splitlines():
                    if line.startswith(PROBE_MARK):
                        found[f"{ref}:{path}"] = json.loads(line[len(PROBE_MARK) :])
    return found


def _everything_written(
    stack: Stack, namespace: str, repo: str, data_dir: Path, logs: Path
) -> dict[str, bytes]:
    """Every place the platform or the tenant's code could have left a secret."""
    texts: dict[str, bytes] = {
        "all branches": git(repo, "log", "--all", "-p", "--format=%H %s").encode(),
    }
    for file in [*data_dir.rglob("*"), *logs.rglob("*")]:
        if file.is_file() and not file.is_symlink():
            texts[str(file)] = file.read_bytes()
    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute(
            "SELECT event_type, payload::text FROM events WHERE namespace = %s", (namespace,)
        ).fetchall()
    texts["journal"] = json.dumps(rows).encode()
    k8s_events = client.CoreV1Api().list_namespaced_event(namespace).items
    texts["kubernetes events"] = "\n".join(str(e.message) for e in k8s_events).encode()
    statuses = [t.get("status", {}) for t in tasks_of(namespace, RUN)]
    texts["task statuses"] = json.dumps(statuses).encode()
    return texts


def _build_and_check(
    stack: Stack,
    namespace: str,
    operator: ServiceProcess,
    data_dir: Path,
    logs: Path,
    victim: Path,
    targets: str,
    *,
    local: bool,
    kernel: str = "",
) -> dict[str, Any]:
    kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
    project = wait_phase(namespace, "projects", "notes-gitops", {"approved"}, operator)
    # status.repoPath is relative to the data dir (no host paths in status)
    repo = str(data_dir / project["status"]["repoPath"])
    create(
        namespace,
        "runs",
        "Run",
        RUN,
        {
            "projectRef": {"name": "notes-gitops"},
            "agent": {"coder": "command", "command": _command(targets)},
        },
    )
    run = wait_run_done(namespace, RUN, operator, timeout=420)
    status = run["status"]
    # A normal build still succeeds, its own tests passing in verification.
    assert status["phase"] == "succeeded", status.get("message")
    verification = status["verificationResult"]
    assert verification["exitCode"] == 0 and verification["passed"] > 0, verification

    # The coder's probes, from every task branch that could hold one.
    probes = _probes_in_branches(repo)
    assert any(k.endswith("README.md") for k in probes), sorted(probes)
    assert any("app/model/" in k for k in probes), sorted(probes)
    # The generated test's probe, from the verification output.
    # (kept beside the run's results, not in status: GET .../verification/logs serves it)
    output = paths.verification_log_path(data_dir, namespace, RUN).read_text()
    marked = [line for line in output.splitlines() if line.startswith(PROBE_MARK)]
    assert marked, output[-1500:]
    probes["verification"] = json.loads(marked[-1][len(PROBE_MARK) :])
    for where, found in probes.items():
        _assert_denied(found, where, victim, namespace)
        if local:
            _local_env_is_the_contract(found, where)
        if kernel:  # the Pods' runtime, seen from inside (gVisor: a kernel of its own)
            assert kernel in found["kernel"].lower(), (where, found["kernel"])
    if not local:
        assert all(found["ports"] for found in probes.values()), "no connection was tried"

    # Nothing of the platform's secrets anywhere the tenant's code or the platform wrote.
    journal = wait_final_event(stack.database_url, namespace, RUN, operator)
    assert journal[-1]["type"] == "RUN_COMPLETED"
    secrets = _platform_secrets(stack)
    written = _everything_written(stack, namespace, repo, data_dir, logs)
    for what, secret in secrets.items():
        leaks = [where for where, text in written.items() if secret.encode() in text]
        assert not leaks, f"the {what} appears in {leaks}"
    for where, text in written.items():
        if where.startswith(str(victim)) or where.endswith("victim-secret.txt"):
            continue
        assert VICTIM_CANARY.encode() not in text, f"another tenant's canary in {where}"
    return status


def test_local_executor_keeps_untrusted_code_from_credentials_and_other_tenants(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
) -> None:
    victim = _victim_repository(data_dir)
    logs = tmp_path / "logs"
    # The operator holds an LLM key of its own: its built-in coders' (in the worker),
    # never the tenant's command's or the generated tests'.
    proc = start_operator(stack, data_dir, [namespace], logs, OPENAI_API_KEY=OPERATOR_LLM_KEY)
    try:
        wait_for(lambda: _heartbeat(stack.database_url, proc.pid), 30, "operator heartbeat", proc)
        pg = urlsplit(stack.database_url)
        targets = _targets(
            data_dir,
            victim,
            stack.kubeconfig,
            str(pg.hostname),
            int(pg.port or 5432),
            proc.pid,
        )
        _build_and_check(stack, namespace, proc, data_dir, logs, victim, targets, local=True)
    finally:
        proc.stop()


@pytest.fixture
def jobs_ns(stack: Stack, data_dir: Path) -> Iterator[str]:
    with job_namespace(data_dir) as name:
        yield name


def test_kubernetes_executor_keeps_untrusted_code_from_credentials_and_other_tenants(
    stack: Stack, namespace: str, jobs_ns: str, data_dir: Path, tmp_path: Path
) -> None:
    victim = _victim_repository(data_dir)
    logs = tmp_path / "logs"
    metrics_port = free_port()
    # The operator's metrics and the API on every address, as in a cluster: a Pod could
    # reach them at the node's address if nothing stopped it.
    proc = start_operator(
        stack,
        data_dir,
        [namespace],
        logs,
        **operator_env(
            jobs_ns,
            OPENAI_API_KEY=OPERATOR_LLM_KEY,
            PRAZIUM_OPERATOR_METRICS_PORT=str(metrics_port),
            PRAZIUM_OPERATOR_METRICS_HOST="0.0.0.0",
        ),
    )
    api, api_url = start_api(stack, data_dir, logs, PRAZIUM_HOST="0.0.0.0")
    try:
        wait_for(lambda: _heartbeat(stack.database_url, proc.pid), 30, "operator heartbeat", proc)
        pg = urlsplit(stack.database_url)
        gateway = node().host_address
        api_port = int(urlsplit(api_url).port or 0)
        for port in (metrics_port, api_port):  # open from the node itself
            socket.create_connection((gateway, port), timeout=5).close()
        targets = _targets(
            data_dir,
            victim,
            stack.kubeconfig,
            gateway,
            int(pg.port or 5432),
            proc.pid,
            {  # short names: the command, compressed, has 2000 bytes in all
                "pg": (gateway, int(pg.port or 5432)),
                "apiserver": (KUBERNETES_SERVICE_IP, 443),
                "kubelet": (gateway, stack_port("KUBELET")),
                "metrics": (gateway, metrics_port),
                "api": (gateway, api_port),
            },
        )
        with PodRecorder(jobs_ns) as pods:
            _build_and_check(
                stack,
                namespace,
                proc,
                data_dir,
                logs,
                victim,
                targets,
                local=False,
                kernel="gvisor" if node().runtime_class == "gvisor" else "",
            )
        roles = {p["metadata"]["labels"].get("prazium.io/role") for p in pods.seen.values()}
        assert roles == {"worker", "verification"}, roles
        for seen in pods.seen.values():
            spec = seen["spec"]
            assert spec["automountServiceAccountToken"] is False
            [container] = spec["containers"]
            assert not any("valueFrom" in e for e in container.get("env") or [])
            mounts = [m for m in container["volumeMounts"] if m["name"] == "repos"]
            assert mounts and all(m.get("subPath") for m in mounts), mounts
            assert all(
                m["subPath"].startswith(
                    (f"repos/{namespace}/", f"workspaces/{namespace}/", f"results/{namespace}/")
                )
                for m in mounts
            ), mounts
        if node().runtime_class:
            assert all(
                seen["spec"].get("runtimeClassName") == node().runtime_class
                for seen in pods.seen.values()
            )
    finally:
        api.stop()
        proc.stop()


def _heartbeat(dsn: str, pid: int) -> bool:
    with psycopg.connect(dsn) as conn:
        return (
            conn.execute(
                "SELECT 1 FROM operator_heartbeats WHERE instance LIKE %s", (f"%-{pid}",)
            ).fetchone()
            is not None
        )

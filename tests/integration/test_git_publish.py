"""Publish: after a successful run the operator pushes the merged commit to the
remote spec.publish names, with credentials from a Secret - against a real git
server on loopback (git http-backend behind HTTP Basic, tests/support/gitserver.py).
The credential never shows in status, Events, the journal or the operator's log."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from kubernetes import client

from prazium_api.auth import tenant_access
from prazium_api.settings import ApiSettings
from tests.support.build import create, wait_final_event, wait_phase, wait_run_done
from tests.support.gitserver import GitServer
from tests.support.rbac import chart_file_rules, delete_cluster_role, service_account_kubeconfig
from tests.support.services import (
    ROOT,
    ServiceProcess,
    Stack,
    kill_workers,
    start_operator,
    wait_for,
)

pytestmark = pytest.mark.integration

USERNAME = "robot"
PASSWORD = "publish-s3cret-8d1f4c2e"
WRONG = "wrong-s3cret-5a7b9c0d"
# What the tenant reads of any failed push (operator/prazium_operator/publish.py).
GENERIC = (
    "the push did not go through: the remote refused it or could not be reached (check"
    " spec.publish's url and branch and the credentials Secret); the operator's log has"
    " the details"
)


def _operator(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path, **env: str
) -> Iterator[ServiceProcess]:
    """The operator with the settings in env and the chart's rights only: none on
    Secrets cluster-wide, get on them in the tenant's namespace through the RoleBinding
    tenant set-up makes (prazium_api.auth.tenant_access, as create-key runs it)."""
    kubeconfig, role = service_account_kubeconfig(
        stack.kubeconfig, namespace, "operator", tmp_path / "kubeconfig"
    )
    tenant_role = f"{role}-tenant"
    rbac = client.RbacAuthorizationV1Api()
    rbac.create_cluster_role(
        {"metadata": {"name": tenant_role}, "rules": chart_file_rules("operator-tenant")}
    )
    tenant_access.grant_api(
        ApiSettings(
            operator_tenant_cluster_role=tenant_role,
            operator_service_account=f"{namespace}/{role}",
        ),
        namespace,
    )
    proc = start_operator(
        stack,
        data_dir,
        [namespace],
        tmp_path / "logs",
        PRAZIUM_KUBECONFIG=str(kubeconfig),
        **env,
    )

    def heartbeat() -> bool:
        with psycopg.connect(stack.database_url) as conn:
            row = conn.execute(
                "SELECT 1 FROM operator_heartbeats WHERE instance LIKE %s", (f"%-{proc.pid}",)
            ).fetchone()
        return row is not None

    wait_for(heartbeat, 30, "operator heartbeat", proc)
    yield proc
    proc.stop()
    kill_workers(data_dir)
    delete_cluster_role(role)
    rbac.delete_cluster_role(tenant_role)


@pytest.fixture
def publishing_operator(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
) -> Iterator[ServiceProcess]:
    """The operator, allowed to push over plain http to a loopback remote (the test's
    git server has no TLS and listens on 127.0.0.1): both off by default."""
    yield from _operator(
        stack,
        namespace,
        data_dir,
        tmp_path,
        PRAZIUM_PUBLISH_ALLOW_HTTP="true",
        PRAZIUM_PUBLISH_ALLOW_PRIVATE_TARGETS="true",
    )


@pytest.fixture
def guarded_operator(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
) -> Iterator[ServiceProcess]:
    """The operator with the default for loopback and link-local remotes: refused."""
    yield from _operator(stack, namespace, data_dir, tmp_path, PRAZIUM_PUBLISH_ALLOW_HTTP="true")


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[GitServer]:
    with GitServer(tmp_path / "remote", USERNAME, PASSWORD) as server:
        yield server


def _secret(namespace: str, name: str, password: str) -> None:
    client.CoreV1Api().create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=name),
            string_data={"username": USERNAME, "password": password},
        ),
    )


def _project_with_publish(namespace: str, publish: dict[str, Any]) -> None:
    manifest = yaml.safe_load((ROOT / "examples" / "project-gitops.yaml").read_text())
    create(
        namespace,
        "projects",
        "Project",
        manifest["metadata"]["name"],
        {**manifest["spec"], "publish": publish},
    )


def _events(namespace: str, run: str) -> list[client.CoreV1Event]:
    return list(
        client.CoreV1Api()
        .list_namespaced_event(namespace, field_selector=f"involvedObject.name={run}")
        .items
    )


def _journal_text(dsn: str, namespace: str) -> str:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT event_type, payload FROM events WHERE namespace = %s", (namespace,)
        ).fetchall()
    return json.dumps([[row[0], row[1]] for row in rows])


def test_publish_pushes_the_merged_commit_and_a_refused_push_fails_clearly(
    stack: Stack,
    namespace: str,
    publishing_operator: ServiceProcess,
    remote: GitServer,
    tmp_path: Path,
) -> None:
    operator = publishing_operator
    url = remote.create_repo("notes")
    _secret(namespace, "remote-creds", PASSWORD)
    _secret(namespace, "stale-creds", WRONG)
    _project_with_publish(
        namespace, {"url": url, "branch": "release", "credentialsSecret": "remote-creds"}
    )
    wait_phase(namespace, "projects", "notes-gitops", {"approved"}, operator)

    # 1. The Project's remote, good credentials: pushed, recorded, told.
    create(namespace, "runs", "Run", "notes-one", {"projectRef": {"name": "notes-gitops"}})
    run = wait_run_done(namespace, "notes-one", operator)
    status = run["status"]
    assert status["phase"] == "succeeded", status.get("message")
    merged = status["mergedCommit"]
    assert remote.head("notes", "release") == merged
    published = status["publish"]
    assert published["phase"] == "succeeded" and published["commit"] == merged
    assert published["url"] == url and published["branch"] == "release"
    assert published["pushedAt"]
    condition = next(c for c in status["conditions"] if c["type"] == "Published")
    assert (condition["status"], condition["reason"]) == ("True", "Published")
    assert [c["status"] for c in status["conditions"] if c["type"] == "Ready"] == ["True"]
    journal = wait_final_event(stack.database_url, namespace, "notes-one", operator)
    types = [e["type"] for e in journal]
    assert types[-2:] == ["PUBLISH_COMPLETED", "RUN_COMPLETED"], types
    assert journal[-2]["payload"] == {"url": url, "branch": "release", "commit": merged}
    wait_for(
        lambda: any(e.reason == "Published" for e in _events(namespace, "notes-one")),
        30,
        "the Published Event",
        operator,
    )

    # 2. A Run overriding the remote with a stale credential: the build still
    # succeeds (its code is on main and tagged), the push is refused and says so.
    create(
        namespace,
        "runs",
        "Run",
        "notes-two",
        {
            "projectRef": {"name": "notes-gitops"},
            "publish": {"url": url, "branch": "release", "credentialsSecret": "stale-creds"},
        },
    )
    run = wait_run_done(namespace, "notes-two", operator)
    status = run["status"]
    assert status["phase"] == "succeeded", status.get("message")
    failed = status["publish"]
    assert failed["phase"] == "failed" and "commit" not in failed
    # The tenant is told that it failed, not how: git's words would tell a closed
    # port from an open one (the operator's log below has them).
    assert failed["message"] == GENERIC, failed
    assert "publishing to" in status["message"] and "failed" in status["message"]
    condition = next(c for c in status["conditions"] if c["type"] == "Published")
    assert (condition["status"], condition["reason"]) == ("False", "PublishFailed")
    assert remote.head("notes", "release") == merged  # unchanged
    assert 401 in remote.statuses()
    journal = wait_final_event(stack.database_url, namespace, "notes-two", operator)
    assert [e["type"] for e in journal][-2:] == ["PUBLISH_FAILED", "RUN_COMPLETED"]
    warning = wait_for(
        lambda: next(
            (e for e in _events(namespace, "notes-two") if e.reason == "PublishFailed"), None
        ),
        30,
        "the PublishFailed Event",
        operator,
    )
    assert warning.type == "Warning"

    # 3. Neither secret anywhere: status, Events, journal, the operator's log.
    runs = [wait_run_done(namespace, name, operator) for name in ("notes-one", "notes-two")]
    events = [
        e.message or "" for name in ("notes-one", "notes-two") for e in _events(namespace, name)
    ]
    log = operator.log_path.read_text(errors="replace")
    assert "refused the credentials" in log  # the failure was logged, scrubbed
    assert "refused the credentials" not in json.dumps(runs) + json.dumps(events)
    assert "refused the credentials" not in _journal_text(stack.database_url, namespace)
    for where, text in (
        ("status", json.dumps(runs)),
        ("events", json.dumps(events)),
        ("journal", _journal_text(stack.database_url, namespace)),
        ("log", log),
    ):
        for secret in _forms(PASSWORD) + _forms(WRONG):
            assert secret not in text, f"a credential leaked into the {where}"


def _forms(password: str) -> list[str]:
    """The password, and the Basic header value it travels in."""
    return [password, base64.b64encode(f"{USERNAME}:{password}".encode()).decode()]


def test_a_loopback_remote_is_refused_unless_allowed_with_the_generic_message(
    stack: Stack, namespace: str, guarded_operator: ServiceProcess, remote: GitServer
) -> None:
    """A remote on the operator's own loopback (or link-local, such as a cloud's
    metadata address) is not pushed to by default: the tenant reads the same
    message as for any failed push, the operator's log says why."""
    url = remote.create_repo("notes")
    _secret(namespace, "remote-creds", PASSWORD)
    _project_with_publish(
        namespace, {"url": url, "branch": "release", "credentialsSecret": "remote-creds"}
    )
    wait_phase(namespace, "projects", "notes-gitops", {"approved"}, guarded_operator)
    create(namespace, "runs", "Run", "notes-one", {"projectRef": {"name": "notes-gitops"}})
    status = wait_run_done(namespace, "notes-one", guarded_operator)["status"]
    assert status["phase"] == "succeeded", status.get("message")
    assert status["publish"]["phase"] == "failed", status["publish"]
    assert status["publish"]["message"] == GENERIC, status["publish"]
    condition = next(c for c in status["conditions"] if c["type"] == "Published")
    assert (condition["status"], condition["reason"]) == ("False", "PublishFailed")
    assert GENERIC in condition["message"] and "loopback" not in condition["message"]
    journal = wait_final_event(stack.database_url, namespace, "notes-one", guarded_operator)
    failed = next(e for e in journal if e["type"] == "PUBLISH_FAILED")
    assert failed["payload"]["message"] == GENERIC
    assert remote.statuses() == []  # not even a connection
    assert remote.head("notes", "release") is None
    log = guarded_operator.log_path.read_text(errors="replace")
    assert "loopback" in log and "PRAZIUM_PUBLISH_ALLOW_PRIVATE_TARGETS" in log, log[-2000:]

"""publish.push against a real git remote on loopback (git http-backend behind Basic
auth, tests/support/gitserver.py): good and bad credentials, a refused
non-fast-forward, and a project repository whose own config tries to redirect the
push (and its credential) elsewhere."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from prazium_kit.models import Publish
from prazium_operator import publish
from prazium_operator.publish import Credentials, PublishError
from tests.support.gitserver import GitServer

PASSWORD = "pa55-w0rd-that-must-not-leak"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        },
    ).stdout.strip()


def _commit(repo: Path, parent: str | None, message: str) -> str:
    tree = (
        _git(repo, "write-tree")
        if parent is None
        else _git(repo, "rev-parse", f"{parent}^{{tree}}")
    )
    args = ["commit-tree", tree, "-m", message] + (["-p", parent] if parent else [])
    return _git(repo, *args)


@pytest.fixture
def project_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "project.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(repo)], check=True)
    return repo


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitServer]:
    with GitServer(tmp_path / "remote", "robot", PASSWORD) as running:
        yield running


def _push(repo: Path, commit: str, url: str, credentials: Credentials | None) -> None:
    """To the loopback git server: plain http and a loopback remote both allowed."""
    publish.push(
        repo,
        commit,
        Publish(url=url, branch="release"),
        credentials,
        allow_http=True,
        timeout=60,
        allow_private_targets=True,
    )


def test_push_with_good_credentials_then_fast_forward(
    project_repo: Path, server: GitServer
) -> None:
    url = server.create_repo("app")
    first = _commit(project_repo, None, "one")
    _push(project_repo, first, url, Credentials("robot", PASSWORD))
    assert server.head("app", "release") == first
    second = _commit(project_repo, first, "two")
    _push(project_repo, second, url, Credentials("robot", PASSWORD))
    assert server.head("app", "release") == second
    _push(project_repo, second, url, Credentials("robot", PASSWORD))  # again: a no-op
    assert 401 not in server.statuses()


def test_bad_or_missing_credentials_fail_without_leaking(
    project_repo: Path, server: GitServer
) -> None:
    url = server.create_repo("app")
    commit = _commit(project_repo, None, "one")
    wrong = Credentials("robot", "wrong-" + PASSWORD)
    with pytest.raises(PublishError) as refused:
        _push(project_repo, commit, url, wrong)
    assert str(refused.value) == publish.PUSH_FAILED  # the tenant's
    detail = refused.value.detail  # the operator's log's
    assert "refused the credentials" in detail and "HTTP 401" in detail
    for secret in wrong.secrets():
        assert secret not in detail
    assert PASSWORD not in repr(wrong)
    with pytest.raises(PublishError) as anonymous:
        _push(project_repo, commit, url, None)
    assert "wants credentials" in anonymous.value.detail
    assert server.head("app", "release") is None
    assert 401 in server.statuses()


def test_a_remote_branch_that_moved_is_never_overwritten(
    project_repo: Path, server: GitServer
) -> None:
    url = server.create_repo("app")
    base = _commit(project_repo, None, "base")
    _push(project_repo, base, url, Credentials("robot", PASSWORD))
    theirs = _commit(project_repo, base, "someone else's")
    _push(project_repo, theirs, url, Credentials("robot", PASSWORD))
    ours = _commit(project_repo, base, "ours, diverged")
    with pytest.raises(PublishError) as refused:
        _push(project_repo, ours, url, Credentials("robot", PASSWORD))
    assert "rejected" in refused.value.detail or "fetch first" in refused.value.detail
    assert server.head("app", "release") == theirs


def test_the_project_repository_config_and_hooks_are_not_used(
    project_repo: Path, server: GitServer, tmp_path: Path
) -> None:
    """Worker code can write the project repository's config: an insteadOf that sends
    the push (with the credential) elsewhere, or a pre-push hook, must do nothing."""
    url = server.create_repo("app")
    server.create_repo("evil")
    _git(project_repo, "config", f"url.{server.url('evil')}.insteadOf", url)
    marker = tmp_path / "hook-ran"
    hook = project_repo / "hooks" / "pre-push"
    hook.write_text(f"#!/bin/sh\nenv > {marker}\n")
    hook.chmod(0o755)
    commit = _commit(project_repo, None, "one")
    _push(project_repo, commit, url, Credentials("robot", PASSWORD))
    assert server.head("app", "release") == commit
    assert server.head("evil", "release") is None
    assert not marker.exists()


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://127.0.0.1/a.git", "loopback"),
        ("https://127.9.8.7:8443/a.git", "loopback"),
        ("https://localhost/a.git", "loopback"),
        ("https://[::1]/a.git", "loopback"),
        ("https://[::ffff:127.0.0.1]/a.git", "loopback"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/a.git", "link-local"),
        ("https://0.0.0.0/a.git", "unspecified"),
    ],
)
def test_loopback_and_link_local_remotes_are_refused_unless_allowed(
    project_repo: Path, url: str, kind: str
) -> None:
    with pytest.raises(PublishError) as refused:
        publish.push(project_repo, "0" * 40, Publish(url=url), None, allow_http=False, timeout=5)
    assert str(refused.value) == publish.PUSH_FAILED
    assert kind in refused.value.detail
    assert "PRAZIUM_PUBLISH_ALLOW_PRIVATE_TARGETS" in refused.value.detail


def test_private_networks_stay_allowed_and_unknown_names_fail_alike() -> None:
    """Only loopback, link-local and unspecified addresses are refused: a git host in
    the company's own network (10/8, 172.16/12, 192.168/16) is a normal remote."""
    for address in ("10.1.2.3", "192.168.0.9", "172.16.0.1", "8.8.8.8", "2001:db8::1"):
        assert publish.refused_network(address) is None, address
    # git connects to the addresses checked (curl's resolve list), not to a second answer.
    assert (
        publish._pinned("git.example.com", 443, ["10.0.0.1", "2001:db8::1"])
        == "git.example.com:443:10.0.0.1,[2001:db8::1]"
    )
    with pytest.raises(PublishError) as unknown:
        publish.resolve_target("https://no-such-host.invalid/x.git")
    assert str(unknown.value) == publish.PUSH_FAILED
    assert "cannot resolve no-such-host.invalid" in unknown.value.detail


def test_plain_http_is_refused_unless_allowed(project_repo: Path) -> None:
    with pytest.raises(PublishError, match="plain http"):
        publish.push(
            project_repo,
            "0" * 40,
            Publish(url="http://git.example.com/a.git"),
            Credentials("u", "p" * 8),
            allow_http=False,
            timeout=5,
        )


def test_scrub_removes_every_form_of_the_secret_and_url_userinfo() -> None:
    creds = Credentials("robot", PASSWORD)
    text = (
        f"fatal: unable to access 'https://robot:{PASSWORD}@host/x.git/': 401;"
        f" header Authorization: Basic {creds.basic}; {creds.username}:{creds.password}"
    )
    cleaned = publish.scrub(text, creds)
    assert PASSWORD not in cleaned and creds.basic not in cleaned
    assert "https://***@host/x.git/" in cleaned


# --- What the tenant learns of the network ------------------------------------------------


@pytest.fixture
def port_states(tmp_path: Path) -> Iterator[dict[str, str]]:
    """https URLs on loopback ports in three states a port scan tells apart: nothing
    listening, a plain TCP service that does not speak TLS, and a TLS server."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    plain = socket.create_server(("127.0.0.1", 0))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(listener: socket.socket, wrap: bool) -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with contextlib.suppress(OSError):
                if wrap:
                    conn = context.wrap_socket(conn, server_side=True)
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                else:
                    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
                conn.close()

    threads = [
        threading.Thread(target=serve, args=(plain, False), daemon=True),
        threading.Thread(target=serve, args=(tls, True), daemon=True),
    ]
    for thread in threads:
        thread.start()
    yield {
        "closed": f"https://127.0.0.1:{closed_port}/app.git",
        "plain": f"https://127.0.0.1:{plain.getsockname()[1]}/app.git",
        "tls": f"https://127.0.0.1:{tls.getsockname()[1]}/app.git",
    }
    stop.set()
    for thread in threads:
        thread.join()
    plain.close()
    tls.close()


def test_a_failed_push_tells_the_tenant_nothing_about_the_port(
    project_repo: Path, port_states: dict[str, str]
) -> None:
    """Closed, open without TLS, open with TLS: one message for the tenant; git's own
    words (which differ, and would make publish a port scanner) only in detail."""
    commit = _commit(project_repo, None, "one")
    told, logged = set(), set()
    for url in port_states.values():
        with pytest.raises(PublishError) as failed:
            publish.push(
                project_repo,
                commit,
                Publish(url=url),
                None,
                allow_http=False,
                timeout=20,
                allow_private_targets=True,  # the ports are on loopback here
            )
        told.add(str(failed.value))
        logged.add(failed.value.detail)
    assert told == {publish.PUSH_FAILED}, told
    assert len(logged) == 3, logged

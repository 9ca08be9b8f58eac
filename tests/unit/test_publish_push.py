"""publish.push against a real git remote on loopback (git http-backend behind Basic
auth, tests/support/gitserver.py): good and bad credentials, a refused
non-fast-forward, and a project repository whose own config tries to redirect the
push (and its credential) elsewhere."""

from __future__ import annotations

import subprocess
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
    publish.push(
        repo,
        commit,
        Publish(url=url, branch="release"),
        credentials,
        allow_http=True,
        timeout=60,
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
    message = str(refused.value)
    assert "refused the credentials" in message and "HTTP 401" in message
    for secret in wrong.secrets():
        assert secret not in message
    assert PASSWORD not in repr(wrong)
    with pytest.raises(PublishError, match="wants credentials"):
        _push(project_repo, commit, url, None)
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
    assert "rejected" in str(refused.value) or "fetch first" in str(refused.value)
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

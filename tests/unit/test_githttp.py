"""http_backend.serve runs the real `git http-backend` on a real bare repository; gitauth
reads the API key from the Basic credentials git sends."""

from __future__ import annotations

import asyncio
import base64
import subprocess
from pathlib import Path

import pytest

from prazium_api.git import credentials, http_backend


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    bare = tmp_path / "repos" / "app.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(bare)], check=True)
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "--quiet", str(bare), str(work)], check=True)
    (work / "README.md").write_text("hello\n")
    for args in (
        ["add", "README.md"],
        ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "--quiet", "-m", "one"],
        ["push", "--quiet", "origin", "main"],
    ):
        subprocess.run(["git", *args], cwd=work, check=True)
    return bare


async def _answer(
    repo: Path, request: http_backend.CgiRequest
) -> tuple[int, dict[str, str], bytes]:
    response = await http_backend.serve(repo, request, None)
    body = b"".join([chunk async for chunk in response.body])
    return response.status, dict(response.headers), body


def test_upload_pack_advertisement(repo: Path) -> None:
    status, headers, body = asyncio.run(
        _answer(repo, http_backend.CgiRequest("GET", "info/refs", "service=git-upload-pack"))
    )
    assert status == 200
    assert headers["Content-Type"] == "application/x-git-upload-pack-advertisement"
    assert b"# service=git-upload-pack" in body and b"refs/heads/main" in body


def test_receive_pack_and_dumb_files_are_refused_by_the_backend_itself(repo: Path) -> None:
    # The router refuses these before the backend runs; the backend is read-only anyway.
    for request in (
        http_backend.CgiRequest("GET", "info/refs", "service=git-receive-pack"),
        http_backend.CgiRequest("GET", "HEAD"),
        http_backend.CgiRequest("GET", "objects/info/packs"),
    ):
        status, _, _ = asyncio.run(_answer(repo, request))
        assert status == 403, request


def test_the_backend_gets_none_of_the_api_environment(repo: Path) -> None:
    env = http_backend.cgi_env(repo, http_backend.CgiRequest("GET", "info/refs", "service=x"))
    assert not [name for name in env if name.startswith("PRAZIUM_")]
    assert env["PATH_INFO"] == "/app.git/info/refs"
    assert env["GIT_PROJECT_ROOT"] == str(repo.parent)


def _basic(text: str) -> bytes:
    return b"Basic " + base64.b64encode(text.encode())


def test_basic_password_is_the_key() -> None:
    assert credentials.basic_password(_basic("anyone:pzm_abc")) == "pzm_abc"
    assert credentials.basic_password(_basic(":pzm_abc")) == "pzm_abc"
    assert credentials.basic_password(_basic("pzm_abc")) is None  # no password part
    assert credentials.basic_password(_basic("user:")) is None
    assert credentials.basic_password(b"Basic !!!not-base64") is None
    assert credentials.basic_password(b"Bearer pzm_abc") is None

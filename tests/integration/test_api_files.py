"""Files and exports over real HTTP, on a real bare repository and Run status."""

from __future__ import annotations

import base64
import io
import tarfile
import uuid
import zipfile
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support import apistate
from tests.support.apistate import assert_error
from tests.support.services import Stack, start_api, wait_for

pytestmark = pytest.mark.integration

FILES = {
    "README.md": b"# My SaaS App\n\npython -m app\n",
    "app/__init__.py": b"APP_NAME = 'My SaaS App'\n",
    "app/__main__.py": b"print('hi')\n",
    "app/logo.png": bytes(range(256)),
}


@pytest.fixture
def built(namespace: str, data_dir: Path, tmp_path: Path) -> str:
    """Project "my-saas" with run 1 succeeded at a real merged commit; its sha."""
    apistate.create_project(namespace, "my-saas", "My SaaS App")
    apistate.set_status(
        namespace, "projects", "my-saas", {"phase": "built", "spec": apistate.approved_spec()}
    )
    _, sha = apistate.make_repo(data_dir, namespace, "my-saas", FILES, tmp_path)
    apistate.create_run(
        namespace,
        "my-saas",
        "my-saas-r1",
        {"runNumber": 1, "phase": "succeeded", "mergedCommit": sha},
    )
    apistate.create_run(namespace, "my-saas", "my-saas-r2", {"runNumber": 2, "phase": "failed"})
    return sha


def test_list_directories_at_branch_tag_and_commit(http: httpx.Client, built: str) -> None:
    root = http.get("/projects/proj_my-saas/files").json()["data"]
    assert root["ref"] == "main" and root["path"] == "/"
    assert root["entries"] == [
        {"name": "app", "type": "directory"},
        {"name": "README.md", "type": "file", "size": len(FILES["README.md"])},
    ]
    app = http.get("/projects/proj_my-saas/files", params={"path": "app", "ref": "v1"})
    assert [e["name"] for e in app.json()["data"]["entries"]] == [
        "__init__.py",
        "__main__.py",
        "logo.png",
    ]
    by_sha = http.get("/projects/proj_my-saas/files", params={"path": "/app/", "ref": built})
    assert by_sha.status_code == 200 and by_sha.json()["data"]["commit"] == built

    assert_error(http.get("/projects/proj_my-saas/files", params={"ref": "nope"}), 404, "NOT_FOUND")
    assert_error(
        http.get("/projects/proj_my-saas/files", params={"path": "missing"}), 404, "NOT_FOUND"
    )
    assert_error(
        http.get("/projects/proj_my-saas/files", params={"ref": "--output=/tmp/x"}),
        400,
        "VALIDATION_ERROR",
    )


def test_file_content_text_and_binary(http: httpx.Client, built: str) -> None:
    text = http.get("/projects/proj_my-saas/files/README.md").json()["data"]
    assert text == {
        "path": "README.md",
        "ref": "main",
        "commit": built,
        "content": FILES["README.md"].decode(),
        "encoding": "utf-8",
        "size": len(FILES["README.md"]),
    }
    binary = http.get("/projects/proj_my-saas/files/app/logo.png", params={"ref": "v1"}).json()[
        "data"
    ]
    assert binary["encoding"] == "base64"
    assert base64.b64decode(binary["content"]) == FILES["app/logo.png"]
    assert_error(http.get("/projects/proj_my-saas/files/app"), 404, "NOT_FOUND")
    assert_error(http.get("/projects/proj_my-saas/files/nope.txt"), 404, "NOT_FOUND")


def test_path_traversal_is_refused(http: httpx.Client, built: str) -> None:
    for url in (
        "/projects/proj_my-saas/files/%2E%2E/%2E%2E/etc/passwd",
        "/projects/proj_my-saas/files/app/..%2F..%2Fsecret",
    ):
        assert_error(http.get(url), 400, "VALIDATION_ERROR")
    assert_error(
        http.get("/projects/proj_my-saas/files", params={"path": "../../"}), 400, "VALIDATION_ERROR"
    )


def test_project_without_repository_is_404(http: httpx.Client, namespace: str) -> None:
    apistate.create_project(namespace, "empty", "Empty")
    assert_error(http.get("/projects/proj_empty/files"), 404, "NOT_FOUND")


def _export(http: httpx.Client, fmt: str) -> dict:
    created = http.post(
        "/projects/proj_my-saas/export", json={"runId": "run_my-saas-r1", "format": fmt}
    )
    assert created.status_code == 202, created.text
    data = created.json()["data"]
    assert data["status"] == "processing" and data["format"] == fmt
    assert data["id"].startswith("exp_")
    return dict(
        wait_for(
            lambda: (
                (d := http.get(f"/projects/proj_my-saas/exports/{data['id']}").json()["data"])[
                    "status"
                ]
                == "completed"
                and d
            ),
            30,
            "the export to complete",
        )
    )


def test_export_zip_and_tar_gz_then_download(http: httpx.Client, built: str) -> None:
    done = _export(http, "zip")
    assert done["downloadUrl"] == f"/projects/proj_my-saas/exports/{done['id']}/download"
    assert done["sizeBytes"] > 0 and done["expiresAt"]
    download = http.get(done["downloadUrl"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["content-disposition"] == 'attachment; filename="my-saas-app-run-1.zip"'
    assert len(download.content) == done["sizeBytes"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert archive.read("my-saas-app-run-1/app/__main__.py") == FILES["app/__main__.py"]

    tgz = _export(http, "tar.gz")
    download = http.get(tgz["downloadUrl"])
    assert (
        download.headers["content-disposition"] == 'attachment; filename="my-saas-app-run-1.tar.gz"'
    )
    with tarfile.open(fileobj=io.BytesIO(download.content), mode="r:gz") as archive:
        member = archive.extractfile("my-saas-app-run-1/README.md")
        assert member is not None and member.read() == FILES["README.md"]


def test_export_errors(http: httpx.Client, built: str, db: psycopg.Connection) -> None:
    assert_error(
        http.post(
            "/projects/proj_my-saas/export", json={"runId": "run_my-saas-r2", "format": "zip"}
        ),
        409,
        "CONFLICT",
    )
    assert_error(
        http.post(
            "/projects/proj_my-saas/export", json={"runId": "run_my-saas-r1", "format": "rar"}
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert_error(
        http.post("/projects/proj_my-saas/export", json={"runId": "run_x"}), 404, "NOT_FOUND"
    )
    assert_error(http.get("/projects/proj_my-saas/exports/exp_unknown"), 404, "NOT_FOUND")
    assert_error(http.get("/projects/proj_my-saas/exports/exp_unknown/download"), 404, "NOT_FOUND")
    done = _export(http, "zip")
    db.execute(
        "UPDATE exports SET expires_at = now() - interval '1 second' WHERE id = %s", (done["id"],)
    )
    error = assert_error(http.get(f"/projects/proj_my-saas/exports/{done['id']}"), 404, "NOT_FOUND")
    assert error["details"]["reason"] == "EXPIRED"
    assert_error(http.get(done["downloadUrl"]), 404, "NOT_FOUND")


def _stale_row(db: psycopg.Connection, namespace: str, age: str) -> str:
    """An export row as a replica that died mid-build leaves it."""
    export_id = f"exp_{uuid.uuid4().hex[:16]}"
    db.execute(
        "INSERT INTO exports (id, namespace, project, run, format, status, file_path,"
        " file_name, created_at, expires_at) VALUES (%s, %s, 'my-saas', 'my-saas-r1',"
        " 'zip', 'processing', '/nonexistent/x.zip', 'x.zip', now() - %s::interval,"
        " now() + interval '1 day')",
        (export_id, namespace, age),
    )
    return export_id


def test_export_left_processing_by_a_dead_replica_fails_with_a_clear_error(
    http: httpx.Client,
    built: str,
    db: psycopg.Connection,
    namespace: str,
    stack: Stack,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    # On a status read (the API under test has the default bound of 900 s).
    stale = _stale_row(db, namespace, "20 minutes")
    fresh = _stale_row(db, namespace, "1 minute")
    data = http.get(f"/projects/proj_my-saas/exports/{stale}").json()["data"]
    assert data["status"] == "failed" and data["format"] == "zip", data
    assert "did not finish within 900 s" in data["error"]
    assert "request a new export" in data["error"]
    assert "downloadUrl" not in data
    assert db.execute("SELECT status FROM exports WHERE id = %s", (stale,)).fetchone() == (
        "failed",
    )
    assert_error(http.get(f"/projects/proj_my-saas/exports/{stale}/download"), 409, "CONFLICT")
    # A build younger than the bound is left alone.
    assert http.get(f"/projects/proj_my-saas/exports/{fresh}").json()["data"] == {
        "id": fresh,
        "status": "processing",
        "format": "zip",
    }

    # Without any read: the reaper of a (re)starting replica, then periodically.
    proc, _ = start_api(
        stack,
        data_dir,
        tmp_path / "reaper",
        PRAZIUM_EXPORT_STALE_SECONDS="30",
        PRAZIUM_EXPORT_REAP_INTERVAL_SECONDS="0.5",
    )
    try:
        wait_for(
            lambda: (
                db.execute("SELECT status, error FROM exports WHERE id = %s", (fresh,)).fetchone()[
                    0
                ]
                == "failed"
            ),
            10,
            "the start-up reaper",
            proc,
        )
        later = _stale_row(db, namespace, "31 seconds")
        wait_for(
            lambda: (
                db.execute("SELECT status FROM exports WHERE id = %s", (later,)).fetchone()[0]
                == "failed"
            ),
            10,
            "the periodic reaper",
            proc,
        )
    finally:
        proc.stop()
    # A real export still completes normally afterwards.
    assert _export(http, "zip")["status"] == "completed"

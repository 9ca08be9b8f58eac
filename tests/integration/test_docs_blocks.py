"""The README's and the getting-started pages' shell blocks, run as a reader would paste
them: in order, in one shell per document, each document from a clean state, against
the test stack with a real operator (local executor, no node needed) and API.

The blocks are written for `make up`'s stack; two things differ here and are mapped,
nothing else: the API's address (http://127.0.0.1:3001 becomes this test's API) and
the repository's `.dev/` (the blocks run in a scratch copy of the checkout, made of
links, whose `.dev` is the test stack's: its kubeconfig and kubectl). `make api-key`
gets the test stack's kubeconfig and database through the variables it already reads.
Blocks marked not-executed (make up, make test, make down) are left out, and
tests/unit/test_docs.py checks each says why."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from kubernetes import client

from tests.support import docblocks
from tests.support.services import ROOT, ServiceProcess, Stack, start_api, start_operator, wait_for

pytestmark = pytest.mark.integration

DOCUMENTED_API = "http://127.0.0.1:3001"
# The namespaces the documents build in: the kubeconfig's default one (the kubectl
# path) and the tenant `make api-key TENANT=demo` creates.
NAMESPACES = ["default", "demo"]
DOCUMENT_TIMEOUT_SECONDS = 900  # three template builds on a loaded machine


def _heartbeat(stack: Stack, proc: ServiceProcess) -> bool:
    import psycopg

    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute(
            "SELECT 1 FROM operator_heartbeats WHERE instance LIKE %s", (f"%-{proc.pid}",)
        ).fetchone()
    return row is not None


def _scratch_checkout(where: Path, dev_dir: Path) -> Path:
    """A directory that reads like the repository's root: a link per top-level entry,
    and `.dev` the test stack's state directory."""
    where.mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name not in (".dev", ".git"):
            (where / entry.name).symlink_to(entry)
    (where / ".dev").symlink_to(dev_dir)
    return where


def _clean(stack: Stack) -> None:
    """What the documents make, gone (with the operator still running, which removes
    the finalizers): the kubectl path's objects, the demo tenant."""
    for args in (
        ["delete", "runs.prazium.io", "--all", "-n", "default", "--wait", "--timeout=180s"],
        ["delete", "projects.prazium.io", "--all", "-n", "default", "--wait", "--timeout=180s"],
        ["delete", "namespace", "demo", "--ignore-not-found", "--wait", "--timeout=300s"],
    ):
        subprocess.run(
            [stack.kubectl, "--kubeconfig", stack.kubeconfig, *args],
            check=True,
            capture_output=True,
            timeout=330,
        )
    core = client.CoreV1Api()
    assert "demo" not in {ns.metadata.name for ns in core.list_namespace().items}


@pytest.mark.timeout(2 * DOCUMENT_TIMEOUT_SECONDS + 600)
def test_readme_and_getting_started_blocks_run(
    stack: Stack, data_dir: Path, tmp_path: Path
) -> None:
    operator = start_operator(stack, data_dir, NAMESPACES, tmp_path / "logs")
    wait_for(lambda: _heartbeat(stack, operator), 60, "operator heartbeat", operator)
    api, base = start_api(stack, data_dir, tmp_path / "logs")
    dev_dir = Path(stack.kubeconfig).parent
    try:
        for name, paths in docblocks.EXECUTED_DOCUMENTS.items():
            _clean(stack)
            work = _scratch_checkout(tmp_path / name, dev_dir)
            home = tmp_path / f"{name}-home"
            home.mkdir()
            env = {
                k: v
                for k, v in os.environ.items()
                if k not in ("PRAZIUM_API_URL", "PRAZIUM_API_KEY", "PRAZIUM_PROJECT")
                and k not in ("PRAZIUM_CONFIG", "XDG_CONFIG_HOME", "KUBECONFIG")
            }
            env.update(
                HOME=str(home),  # the CLI's config file lands here, not in the user's
                PRAZIUM_KUBECONFIG=stack.kubeconfig,
                PRAZIUM_DATABASE_URL=stack.database_url,
            )
            text = docblocks.script(paths, {DOCUMENTED_API: base})
            (tmp_path / f"{name}.sh").write_text(text)
            done = subprocess.run(
                ["bash", str(tmp_path / f"{name}.sh")],
                check=False,
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=DOCUMENT_TIMEOUT_SECONDS,
            )
            markers = [line for line in done.stderr.splitlines() if line.startswith("@@ ")]
            assert done.returncode == 0 and markers[-1:] == ["@@ done"], (
                f"{name}: a block failed at {markers[-1] if markers else '?'}"
                f" (exit {done.returncode})\n--- stdout\n{done.stdout[-3000:]}"
                f"\n--- stderr\n{done.stderr[-3000:]}"
                f"\n--- operator\n{operator.log_tail()}"
            )
            # What the blocks claim to leave behind: the REST path's zip, the CLI's tar.gz.
            assert list(work.glob("*.zip")), f"{name}: no exported zip"
            assert list(work.glob("*.tar.gz")), f"{name}: no exported tar.gz"
            assert "succeeded" in done.stdout
    finally:
        api.stop()
        operator.stop()

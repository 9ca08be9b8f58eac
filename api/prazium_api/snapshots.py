"""A Run's spec snapshot as the API answers it: status.specSnapshot names the commit
holding the approved documents (docs/spec/ in the project's repository); the
documents are read from there, so the Run's status does not carry them."""

from __future__ import annotations

from pathlib import Path

from prazium_api.contract.errors import ApiError
from prazium_api.git import repo
from prazium_kit import paths
from prazium_kit.types import Obj

SPEC_DIR = "docs/spec"
SPEC_DOCUMENTS = ("SPEC.md", "ACCEPTANCE.md", "ROUTES.md", "DATA.md")


def spec_snapshot(data_dir: Path, namespace: str, run: Obj) -> Obj | None:
    """{version, commitSha, documents}, or the stored snapshot as it is when it has no
    commit (an older run keeps its documents inline) or the commit cannot be read."""
    stored = run.get("status", {}).get("specSnapshot")
    if not stored or not stored.get("commitSha") or stored.get("documents"):
        return stored
    project = run.get("spec", {}).get("projectRef", {}).get("name", "")
    bare = paths.repo_path(data_dir, namespace, project)
    commit = str(stored["commitSha"])
    try:
        documents = {
            name: repo.read_file(bare, commit, f"{SPEC_DIR}/{name}").decode(errors="replace")
            for name in SPEC_DOCUMENTS
        }
    except ApiError:
        return stored  # the repository went (project deleted) or the commit is gone
    return {**stored, "documents": documents}

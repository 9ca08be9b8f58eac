"""A Run's spec snapshot as the API answers it: status.specSnapshot names the commit
holding the approved documents (docs/spec/ in the project's repository); the
documents are read from there, so the Run's status does not carry them."""

from __future__ import annotations

from pathlib import Path

from prazium_api.contract.errors import ApiError
from prazium_api.git import repo
from prazium_kit import paths
from prazium_kit.kinds import Run
from prazium_kit.models import SpecSnapshot

SPEC_DIR = "docs/spec"
SPEC_DOCUMENTS = ("SPEC.md", "ACCEPTANCE.md", "ROUTES.md", "DATA.md")


def spec_snapshot(data_dir: Path, namespace: str, run: Run) -> SpecSnapshot | None:
    """{version, commitSha, documents}, or the stored snapshot as it is when it has no
    commit (an older run keeps its documents inline) or the commit cannot be read."""
    stored = run.status.spec_snapshot
    if stored is None or not stored.commit_sha or stored.documents:
        return stored
    bare = paths.repo_path(data_dir, namespace, run.spec.project_ref.name)
    try:
        documents = {
            name: repo.read_file(bare, stored.commit_sha, f"{SPEC_DIR}/{name}").decode(
                errors="replace"
            )
            for name in SPEC_DOCUMENTS
        }
    except ApiError:
        return stored  # the repository went (project deleted) or the commit is gone
    return stored.model_copy(update={"documents": documents})

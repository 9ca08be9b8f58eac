"""Files on the repo volume that go with a deleted Run or Project.

A Run's worktrees and its workers' results (and kept logs) go with the Run; a
Project's repository, workspaces and exports (archives and their records) with
the Project. Deleting a namespace deletes
its Projects and Runs, whose finalizers run these, so nothing of a deleted tenant
stays on the volume. Each step tolerates what an earlier, interrupted step removed.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import psycopg

from prazium_kit import paths
from prazium_operator import gitrepo


def remove_run_files(data_dir: Path, namespace: str, project: str | None, run: str) -> None:
    """The run's worktrees (with git's entries for them) and its results directory."""
    if project:
        repo = paths.repo_path(data_dir, namespace, project)
        run_dir = paths.project_workspace(data_dir, namespace, project) / run
        if run_dir.exists():
            for worktree in sorted(run_dir.iterdir()):
                if repo.exists():
                    gitrepo.remove_worktree(repo, worktree)
            shutil.rmtree(run_dir, ignore_errors=True)
    results = paths.run_results(data_dir, namespace, run)
    shutil.rmtree(results, ignore_errors=True)
    _remove_if_empty(results.parent)


def remove_project_files(data_dir: Path, namespace: str, project: str) -> None:
    """The project's bare repository and every workspace under it."""
    repo = paths.repo_path(data_dir, namespace, project)
    workspace = paths.project_workspace(data_dir, namespace, project)
    for path in (repo, workspace):
        shutil.rmtree(path, ignore_errors=True)
        _remove_if_empty(path.parent)


def remove_project_exports(dsn: str, data_dir: Path, namespace: str, project: str) -> int:
    """The project's export archives (written by the API as exports/<ns>/<export id>.<ext>)
    and their records; how many. The file is found by its name in this side's exports
    directory (the API may mount the volume elsewhere), so nothing outside it is touched."""
    exports = paths.exports_dir(data_dir, namespace)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id, file_path FROM exports WHERE namespace = %s AND project = %s",
            (namespace, project),
        ).fetchall()
        for export_id, file_path in rows:
            name = Path(file_path or "").name
            if name.startswith(f"{export_id}."):
                (exports / name).unlink(missing_ok=True)
        conn.execute(
            "DELETE FROM exports WHERE namespace = %s AND id = ANY(%s)",
            (namespace, [export_id for export_id, _ in rows]),
        )
    _remove_if_empty(exports)
    return len(rows)


def _remove_if_empty(directory: Path) -> None:
    """A tenant's own directory (repos/<ns>, results/<ns>, ...) once nothing is left in it."""
    # OSError: not empty (another project or run), or already gone.
    with contextlib.suppress(OSError):
        directory.rmdir()

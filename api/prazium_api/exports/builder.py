"""Building an export's archive: `git archive` of a project's repository at a run's
merged commit, in a background thread of the API process that accepted the request.
The file (under paths.exports_dir) is written to a temporary name and renamed, so a
"completed" export always has its whole file; one finished after the reaper failed
the export (records.py) is removed.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import secrets
import threading
from pathlib import Path

from prazium_api.contract.errors import ApiError
from prazium_api.contract.responses import ExportFormat
from prazium_api.db import Database
from prazium_api.exports import records
from prazium_api.git import repo
from prazium_kit import paths

log = logging.getLogger(__name__)
EXTENSIONS = {"zip": "zip", "tar.gz": "tar.gz"}


def new_export_id() -> str:
    return "exp_" + secrets.token_hex(8)


def start(
    database: Database,
    data_dir: Path,
    namespace: str,
    project: str,
    run: str,
    *,
    fmt: ExportFormat,
    commit: str,
    base_name: str,
    ttl_seconds: int,
) -> str:
    """Record a new export and start building its archive; its id."""
    export_id = new_export_id()
    file_name = f"{base_name}.{EXTENSIONS[fmt]}"
    target = paths.exports_dir(data_dir, namespace) / f"{export_id}.{EXTENSIONS[fmt]}"
    records.insert(
        database, (export_id, namespace, project, run, fmt), target, file_name, ttl_seconds
    )
    bare = paths.repo_path(data_dir, namespace, project)
    # In the request's context, so its log lines carry the request id, tenant and key id.
    threading.Thread(
        target=contextvars.copy_context().run,
        args=(_build, database, export_id, bare, commit, fmt, base_name, target),
        name=f"export-{export_id}",
        daemon=True,
    ).start()
    return export_id


def _build(
    database: Database, export_id: str, bare: Path, commit: str, fmt: str, prefix: str, target: Path
) -> None:
    partial = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        repo.archive(bare, commit, fmt, prefix, partial)
        partial.rename(target)
        size = target.stat().st_size
        if not records.mark_completed(database, export_id, size):  # reaped: it stays failed
            target.unlink(missing_ok=True)
            log.warning("export %s finished after it was marked failed", export_id)
            return
        log.info("export %s completed (%d bytes)", export_id, size)
    except Exception as exc:  # recorded for the client; the details stay in the log
        log.exception("export %s failed", export_id)
        partial.unlink(missing_ok=True)
        error = f"{records.BUILD_FAILED} ({exc.__class__.__name__})"
        with contextlib.suppress(ApiError):  # the database is down: the reaper fails it
            records.mark_failed(database, export_id, error)

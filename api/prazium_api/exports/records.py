"""Export archives (zip, tar.gz) of a project's repository at a run's merged commit.

The record lives in PostgreSQL (exports), the file under paths.exports_dir; the
archive is built by `git archive` in a background thread of the API process that
accepted the request. Files are written to a temporary name and renamed, so a
"completed" export always has its whole file.

If that process dies, nothing would finish the export: a reaper marks exports
still "processing" after export_stale_seconds as "failed" with an error that
says so - at API start, every export_reap_interval_seconds, and on a status
read. A build that finishes after being reaped does not resurrect the export
(the client may already have seen "failed"); its file is removed.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import logging
import secrets
import threading
from pathlib import Path

from prazium_api.contract.errors import ApiError
from prazium_api.contract.responses import ExportFormat, ExportState
from prazium_api.db import Database
from prazium_api.git import repo
from prazium_kit import paths
from prazium_kit.timefmt import iso_z

log = logging.getLogger(__name__)
EXTENSIONS = {"zip": "zip", "tar.gz": "tar.gz"}
MEDIA_TYPES = {"zip": "application/zip", "tar.gz": "application/gzip"}
_COLUMNS = (
    "id, namespace, project, run, format, status, file_path, file_name, size_bytes,"
    " error, created_at, expires_at, expires_at <= now() AS expired,"
    " created_at < now() - make_interval(secs => %s) AS stale"
)
BUILD_FAILED = "the archive could not be built"


@dataclasses.dataclass(frozen=True)
class ExportRecord:
    """A row of the exports table (with whether it has expired or gone stale)."""

    id: str
    namespace: str
    project: str
    run: str
    format: ExportFormat
    status: ExportState
    file_path: str
    file_name: str
    size_bytes: int | None
    error: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    expired: bool
    stale: bool


_REAP = (
    "UPDATE exports SET status = 'failed', error = %s WHERE status = 'processing'"
    " AND created_at < now() - make_interval(secs => %s)"
)


def stale_error(stale_seconds: float) -> str:
    return (
        f"the export did not finish within {stale_seconds:g} s (the API replica"
        " building it stopped); request a new export"
    )


def reap_stale(database: Database, stale_seconds: float) -> int:
    """Mark every export "processing" for longer than stale_seconds as failed."""
    with database.connection() as conn:
        count = conn.execute(_REAP, (stale_error(stale_seconds), stale_seconds)).rowcount
    if count:
        log.warning("marked %d stale export(s) as failed", count)
    return count


def new_export_id() -> str:
    return "exp_" + secrets.token_hex(8)


def start(
    database: Database,
    data_dir: Path,
    namespace: str,
    project: str,
    run: str,
    *,
    fmt: str,
    commit: str,
    base_name: str,
    ttl_seconds: int,
) -> str:
    """Record a new export and start building its archive; its id."""
    export_id = new_export_id()
    file_name = f"{base_name}.{EXTENSIONS[fmt]}"
    target = paths.exports_dir(data_dir, namespace) / f"{export_id}.{EXTENSIONS[fmt]}"
    with database.connection() as conn:
        conn.execute(
            "INSERT INTO exports (id, namespace, project, run, format, status, file_path,"
            " file_name, expires_at) VALUES (%s, %s, %s, %s, %s, 'processing', %s, %s,"
            " now() + make_interval(secs => %s))",
            (export_id, namespace, project, run, fmt, str(target), file_name, ttl_seconds),
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
        with database.connection() as conn:
            done = conn.execute(
                "UPDATE exports SET status = 'completed', size_bytes = %s"
                " WHERE id = %s AND status = 'processing'",
                (size, export_id),
            ).rowcount
        if not done:  # reaped meanwhile: it stays failed
            target.unlink(missing_ok=True)
            log.warning("export %s finished after it was marked failed", export_id)
            return
        log.info("export %s completed (%d bytes)", export_id, size)
    except Exception as exc:  # recorded for the client; the details stay in the log
        log.exception("export %s failed", export_id)
        partial.unlink(missing_ok=True)
        try:
            with database.connection() as conn:
                conn.execute(
                    "UPDATE exports SET status = 'failed', error = %s"
                    " WHERE id = %s AND status = 'processing'",
                    (f"{BUILD_FAILED} ({exc.__class__.__name__})", export_id),
                )
        except ApiError:
            pass


def get(
    database: Database,
    namespace: str,
    project: str,
    export_id: str,
    stale_seconds: float | None = None,
) -> ExportRecord:
    """The export's record; 404 when unknown, of another project/tenant, or expired.
    A "processing" record older than stale_seconds is reaped first."""
    stale = stale_seconds if stale_seconds is not None else 1e12
    with database.connection() as conn:
        cur = conn.execute(
            f"SELECT {_COLUMNS} FROM exports WHERE id = %s AND namespace = %s AND project = %s",
            (stale, export_id, namespace, project),
        )
        row = cur.fetchone()
        if row is None:
            raise ApiError("NOT_FOUND", f"export {export_id} not found")
        record = ExportRecord(*row)
        if record.status == "processing" and record.stale:
            error = stale_error(stale)
            if conn.execute(
                "UPDATE exports SET status = 'failed', error = %s"
                " WHERE id = %s AND status = 'processing'",
                (error, export_id),
            ).rowcount:
                log.warning("export %s was stale: marked failed", export_id)
                record = dataclasses.replace(record, status="failed", error=error)
            else:  # finished or reaped meanwhile: read it again
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM exports WHERE id = %s", (stale, export_id)
                ).fetchone()
                assert row is not None
                record = ExportRecord(*row)
    if record.expired:
        Path(record.file_path).unlink(missing_ok=True)
        raise ApiError(
            "NOT_FOUND",
            f"export {export_id} expired at {iso_z(record.expires_at)}",
            {"reason": "EXPIRED"},
        )
    return record

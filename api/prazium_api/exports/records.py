"""Export records in PostgreSQL (table exports): an export is "processing" from the
request that started it until its archive is built (builder.py), then "completed"
(or "failed"), and answers 404 once it expired.

If the process building it dies, nothing would finish the export: a reaper marks
exports still "processing" after export_stale_seconds as "failed" with an error
that says so - at API start, every export_reap_interval_seconds, and on a status
read. A build that finishes after being reaped does not resurrect the export
(the client may already have seen "failed").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path

from prazium_api.contract.errors import ApiError
from prazium_api.contract.responses import ExportFormat, ExportState, Page, Pagination
from prazium_api.db import Database
from prazium_kit.timefmt import iso_z

log = logging.getLogger(__name__)
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


def insert(
    database: Database,
    record: tuple[str, str, str, str, str],
    target: Path,
    file_name: str,
    ttl_seconds: int,
) -> None:
    """A new export, "processing": record is (id, namespace, project, run, format)."""
    with database.connection() as conn:
        conn.execute(
            "INSERT INTO exports (id, namespace, project, run, format, status, file_path,"
            " file_name, expires_at) VALUES (%s, %s, %s, %s, %s, 'processing', %s, %s,"
            " now() + make_interval(secs => %s))",
            (*record, str(target), file_name, ttl_seconds),
        )


def mark_completed(database: Database, export_id: str, size: int) -> bool:
    """False when the export is no longer processing (the reaper failed it meanwhile)."""
    with database.connection() as conn:
        return bool(
            conn.execute(
                "UPDATE exports SET status = 'completed', size_bytes = %s"
                " WHERE id = %s AND status = 'processing'",
                (size, export_id),
            ).rowcount
        )


def mark_failed(database: Database, export_id: str, error: str) -> None:
    with database.connection() as conn:
        conn.execute(
            "UPDATE exports SET status = 'failed', error = %s"
            " WHERE id = %s AND status = 'processing'",
            (error, export_id),
        )


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


def page(
    database: Database,
    namespace: str,
    project: str,
    paging: Page,
    stale_seconds: float,
    run: str | None = None,
) -> tuple[list[ExportRecord], Pagination]:
    """A project's exports that have not expired, newest first, optionally one run's
    (a "processing" one past stale_seconds shows as recorded until the reaper or a
    status read fails it)."""
    where = "namespace = %s AND project = %s AND expires_at > now()"
    params: list[object] = [namespace, project]
    if run is not None:
        where += " AND run = %s"
        params.append(run)
    offset = (paging.page - 1) * paging.page_size
    with database.connection() as conn:
        counted = conn.execute(f"SELECT count(*) FROM exports WHERE {where}", params).fetchone()
        total = int(counted[0]) if counted else 0
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM exports WHERE {where}"
            " ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
            [stale_seconds, *params, paging.page_size, offset],
        ).fetchall()
    pagination = Pagination(
        page=paging.page,
        pageSize=paging.page_size,
        total=total,
        totalPages=-(-total // paging.page_size),
    )
    return [ExportRecord(*row) for row in rows], pagination

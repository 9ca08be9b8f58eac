"""Pruned Runs read back from the run archive in PostgreSQL (prazium_kit.archive).

The operator prunes finished Runs from the cluster by its retention policy after
archiving them; the API answers for them from here, in the same shapes. A Run
that is still in the cluster is always answered from the cluster (it is newer).
"""

from __future__ import annotations

from collections.abc import Sequence

from prazium_api.db import Database
from prazium_kit import archive
from prazium_kit.kinds import RUN, TASK, Run, Task


def run(database: Database, namespace: str, name: str) -> Run | None:
    with database.connection() as conn:
        found = archive.get_run(conn, namespace, name)
    return None if found is None else RUN.of(found)


def tasks(database: Database, namespace: str, run_name: str) -> list[Task]:
    with database.connection() as conn:
        found = archive.get_tasks(conn, namespace, run_name)
    return [TASK.of(task) for task in found]


def run_keys(
    database: Database, namespace: str, project: str, phase: str | None
) -> list[archive.RunKey]:
    with database.connection() as conn:
        return archive.run_keys(conn, namespace, project, phase)


def runs(database: Database, namespace: str, names: Sequence[str]) -> list[Run]:
    with database.connection() as conn:
        found = archive.get_runs(conn, namespace, names)
    return [RUN.of(run) for run in found]

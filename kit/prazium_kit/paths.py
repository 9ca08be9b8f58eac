"""Where a project's files live on the shared repo volume (PRAZIUM_DATA_DIR).

    <data>/repos/<namespace>/<project>.git                 bare repository, branch main
    <data>/workspaces/<namespace>/<project>/<run>/<task>    one worktree per task
    <data>/results/<namespace>/<run>/<task>-<attempt>.json  a worker's result
    <data>/results/<namespace>/<run>/<task>-<attempt>.log   its output (kept log, capped)
    <data>/results/<namespace>/<run>/verification.log       the verification's output
    <data>/exports/<namespace>/<export-id>.<ext>            export archives

Every component is a validated DNS-1123 name, so no path escapes its root.
"""

from __future__ import annotations

from pathlib import Path

from prazium_kit.ids import DNS1123_LABEL


def _safe(*parts: str) -> tuple[str, ...]:
    for part in parts:
        if not DNS1123_LABEL.fullmatch(part):
            raise ValueError(f"{part!r} is not a DNS-1123 name; refusing to build a path from it")
    return parts


def repo_path(data_dir: Path, namespace: str, project: str) -> Path:
    ns, name = _safe(namespace, project)
    return data_dir / "repos" / ns / f"{name}.git"


def project_workspace(data_dir: Path, namespace: str, project: str) -> Path:
    ns, name = _safe(namespace, project)
    return data_dir / "workspaces" / ns / name


def task_worktree(data_dir: Path, namespace: str, project: str, run: str, task: str) -> Path:
    _safe(run, task)
    return project_workspace(data_dir, namespace, project) / run / task


def run_results(data_dir: Path, namespace: str, run: str) -> Path:
    """The results (and kept logs) of one run's workers."""
    ns, run_name = _safe(namespace, run)
    return data_dir / "results" / ns / run_name


def result_path(data_dir: Path, namespace: str, run: str, task: str, attempt: int) -> Path:
    (task_name,) = _safe(task)
    return run_results(data_dir, namespace, run) / f"{task_name}-{attempt}.json"


def volume_relative(data_dir: Path, path: Path) -> str:
    """path as status and API answers show it: relative to the repo volume, so no
    host path (the data dir) leaks to kubectl users or API clients."""
    return path.relative_to(data_dir).as_posix()


def task_log_path(data_dir: Path, namespace: str, run: str, task: str, attempt: int) -> Path:
    """The attempt's kept output, beside its result (prazium_kit.tasklogs)."""
    return result_path(data_dir, namespace, run, task, attempt).with_suffix(".log")


def verification_log_path(data_dir: Path, namespace: str, run: str) -> Path:
    """The run's verification output (a task's file always ends in -<attempt>.log)."""
    ns, run_name = _safe(namespace, run)
    return data_dir / "results" / ns / run_name / "verification.log"


def exports_dir(data_dir: Path, namespace: str) -> Path:
    (ns,) = _safe(namespace)
    return data_dir / "exports" / ns

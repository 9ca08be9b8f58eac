"""Settings every Prazium process shares, read from the environment (prefix PRAZIUM_).

The operator (prazium_operator.settings) and the API (prazium_api.settings) each
extend this base with their own fields; neither inherits the other's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KitSettings(BaseSettings):
    """Secrets (the database password, agent credentials) come from the
    environment or a Kubernetes Secret mounted as environment; never from a CR."""

    model_config = SettingsConfigDict(env_prefix="PRAZIUM_", extra="ignore")

    # Where bare repositories and worktrees live (the shared repo volume).
    data_dir: Path = Path(".dev/data")
    # PostgreSQL DSN for the event journal, API keys, sessions, exports.
    database_url: str = "postgresql://prazium@127.0.0.1:5432/prazium"
    # Empty: in-cluster config, then ~/.kube/config.
    kubeconfig: str = ""
    log_level: str = "INFO"
    # json (default): one JSON object per log line, with the request's or task's ids;
    # text: readable lines for a terminal (`make up`). See prazium_kit/logs.py.
    # The operator's kopf lines follow it too (kopf's JSON, or its plain format).
    log_format: Literal["json", "text"] = "json"
    # The cap of each kept log on the repo volume (a task attempt's output, a run's
    # verification output): past it the start and the end are kept around a
    # "[prazium: log truncated, N bytes omitted]" line (prazium_kit/tasklogs.py).
    task_log_max_bytes: int = Field(default=1024 * 1024, ge=1024)

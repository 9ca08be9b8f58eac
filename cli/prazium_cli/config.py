"""Where the CLI finds the API and its key: a 0600 JSON file, overridden by env.

Precedence, highest first: --api-url/--api-key style env vars (PRAZIUM_API_URL,
PRAZIUM_API_KEY), then the config file (--config, else PRAZIUM_CONFIG, else
$XDG_CONFIG_HOME/prazium/config.json, else ~/.config/prazium/config.json).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Config:
    api_url: str | None
    api_key: str | None
    path: Path


def default_path() -> Path:
    if explicit := os.environ.get("PRAZIUM_CONFIG"):
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "prazium" / "config.json"


def normalize_url(url: str) -> str:
    """http://host:3001, http://host:3001/ and http://host:3001/v1 all name one API."""
    url = url.strip().rstrip("/")
    return url.removesuffix("/v1")


def read_file(path: Path) -> dict[str, str]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the config file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"the config file {path} does not hold a JSON object")
    return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}


def load(path: Path | None = None) -> Config:
    path = path or default_path()
    stored = read_file(path)
    url = os.environ.get("PRAZIUM_API_URL") or stored.get("apiUrl")
    key = os.environ.get("PRAZIUM_API_KEY") or stored.get("apiKey")
    return Config(normalize_url(url) if url else None, key or None, path)


def save(path: Path, api_url: str, api_key: str) -> None:
    """Write the file readable by its owner only (0600), atomically: a reader never
    sees half a file, and the key is never on disk with wider permissions."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = json.dumps({"apiUrl": normalize_url(api_url), "apiKey": api_key}, indent=2) + "\n"
    fd, temp = tempfile.mkstemp(prefix=".config-", dir=path.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise

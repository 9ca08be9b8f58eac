"""Where the CLI finds the API, its key and the current project: a 0600 JSON file
({"apiUrl", "apiKey", "project"?}), overridden by env.

Precedence, highest first: env vars (PRAZIUM_API_URL, PRAZIUM_API_KEY,
PRAZIUM_PROJECT), then the config file (--config, else PRAZIUM_CONFIG, else
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
    project: str | None = None  # the current project: commands' default PROJECT


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
    project = os.environ.get("PRAZIUM_PROJECT") or stored.get("project")
    return Config(normalize_url(url) if url else None, key or None, path, project or None)


def save(path: Path, api_url: str, api_key: str) -> None:
    """Keep URL and key; the current project stays only while both are unchanged
    (another key may belong to another tenant)."""
    try:
        stored = read_file(path)
    except ValueError:  # an unreadable file is replaced
        stored = {}
    url = normalize_url(api_url)
    same = stored.get("apiUrl") == url and stored.get("apiKey") == api_key
    project = stored.get("project") if same else None
    write(path, {"apiUrl": url, "apiKey": api_key, **({"project": project} if project else {})})


def update(path: Path, **changes: str | None) -> dict[str, str]:
    """Set (a string) or remove (None) entries of the file, keeping the others;
    the file as written."""
    values = read_file(path)
    for name, value in changes.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
    write(path, values)
    return values


def write(path: Path, values: dict[str, str]) -> None:
    """Write the file readable by its owner only (0600), atomically: a reader never
    sees half a file, and the key is never on disk with wider permissions."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = json.dumps(values, indent=2) + "\n"
    fd, temp = tempfile.mkstemp(prefix=".config-", dir=path.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise

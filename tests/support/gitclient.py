"""The real git client as a user runs it, cut off from this machine's git config
and from any prompt (a missing credential fails at once instead of waiting)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def client_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }


def run_git(
    home: Path, *args: str, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd or home,
        env=client_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc


def with_password(url: str, key: str, user: str = "anyone") -> str:
    """The clone URL with the API key as the Basic password (git asks after the 401)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}:{key}@{rest}"


def bearer(key: str) -> list[str]:
    """git options that send the key as a bearer header with every request."""
    return ["-c", f"http.extraHeader=Authorization: Bearer {key}"]

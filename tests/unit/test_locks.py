"""requirements.lock (runtime, the image) and requirements-dev.lock (the venv) agree."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for raw in (ROOT / name).read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            package, _, version = line.partition("==")
            assert version, f"{name}: {line!r} is not pinned with =="
            pins[package.lower().replace("_", "-")] = version
    return pins


def test_every_runtime_pin_is_in_the_dev_lock_at_the_same_version() -> None:
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert {p: v for p, v in runtime.items() if dev.get(p) != v} == {}


def test_runtime_lock_holds_no_test_tools() -> None:
    assert not {"pytest", "schemathesis", "mypy", "ruff"} & set(_pins("requirements.lock"))


def test_pyprojects_exact_pins_are_the_locks_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    exact = {}
    for requirement in project["dependencies"]:
        name, _, version = requirement.partition("==")
        if version:
            exact[name.split("[")[0].strip().lower().replace("_", "-")] = version.strip()
    assert exact  # the LLM SDKs at least
    for lock in ("requirements.lock", "requirements-dev.lock"):
        pins = _pins(lock)
        assert {p: v for p, v in exact.items() if pins.get(p) != v} == {}, lock

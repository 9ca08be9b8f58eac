"""requirements.lock (runtime, the image) and requirements-dev.lock (the venv) agree,
and every pin in them carries the hashes its install is checked against."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ("requirements.lock", "requirements-dev.lock")
SHA256 = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: tuple[str, ...]


def _requirements(name: str) -> list[str]:
    """The lock's requirements, each on one line (continuations joined), no comments."""
    text = (ROOT / name).read_text().replace("\\\n", " ")
    lines = (line.split("#")[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def _pins(name: str) -> dict[str, Pin]:
    pins = {}
    for line in _requirements(name):
        requirement, *options = line.split()
        package, _, version = requirement.partition("==")
        assert version, f"{name}: {line!r} is not pinned with =="
        hashes = tuple(option for option in options if SHA256.fullmatch(option))
        assert hashes, f"{name}: {package} has no sha256 hash"
        assert len(hashes) == len(options), f"{name}: {package}: {options}"
        pins[_normal(package)] = Pin(version, hashes)
    return pins


def _normal(package: str) -> str:
    return re.sub(r"[-_.]+", "-", package.split("[", maxsplit=1)[0].strip()).lower()


def _versions(name: str) -> dict[str, str]:
    return {package: pin.version for package, pin in _pins(name).items()}


def test_every_pin_is_exact_and_carries_its_hashes() -> None:
    for lock in LOCKS:
        pins = _pins(lock)
        assert len(pins) > 50, lock  # the whole file was read, not one line of it


def test_each_lock_says_how_it_is_made() -> None:
    for lock in LOCKS:
        header = (ROOT / lock).read_text().splitlines()[:5]
        assert any(line.startswith("#") and "scripts/lock.sh" in line for line in header), lock


def test_every_runtime_pin_is_in_the_dev_lock_at_the_same_version_and_hashes() -> None:
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert {p: pin for p, pin in runtime.items() if dev.get(p) != pin} == {}


def test_runtime_lock_holds_no_test_tools() -> None:
    assert not {"pytest", "schemathesis", "mypy", "ruff"} & set(_pins("requirements.lock"))


def test_every_direct_dependency_is_locked() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_normal(re.split(r"[=<>~!;]", r)[0]) for r in project["dependencies"]}
    dev = {_normal(re.split(r"[=<>~!;]", r)[0]) for r in project["optional-dependencies"]["dev"]}
    assert runtime - set(_pins("requirements.lock")) == set()
    assert (runtime | dev) - set(_pins("requirements-dev.lock")) == set()


def test_pyprojects_exact_pins_are_the_locks_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    exact = {}
    for requirement in project["dependencies"]:
        name, _, version = requirement.partition("==")
        if version:
            exact[_normal(name)] = version.strip()
    assert exact  # the LLM SDKs at least
    for lock in LOCKS:
        versions = _versions(lock)
        assert {p: v for p, v in exact.items() if versions.get(p) != v} == {}, lock

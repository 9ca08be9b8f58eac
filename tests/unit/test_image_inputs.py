"""images/Dockerfile and scripts/image.sh agree on what the image is made of: the
script keys its cached archive on IMAGE_INPUTS, so a file the Dockerfile copies but the
key leaves out would let a changed tree reuse a stale image."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "images" / "Dockerfile"
IMAGE_SCRIPT = ROOT / "scripts" / "image.sh"


def _instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _copied_from_context() -> set[str]:
    sources: set[str] = set()
    for line in _instructions():
        words = shlex.split(line)
        if words[0].upper() not in {"COPY", "ADD"}:
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from=") for w in words[1:]):
            continue  # from another stage, not from the context
        sources.update(a.rstrip("/") for a in args[:-1])
    return sources


def _image_inputs() -> set[str]:
    match = re.search(r"^IMAGE_INPUTS=\((.*?)\)", IMAGE_SCRIPT.read_text(), re.M | re.S)
    assert match, "scripts/image.sh defines IMAGE_INPUTS=(...)"
    return set(shlex.split(match.group(1)))


def test_the_cache_key_covers_exactly_what_the_dockerfile_copies() -> None:
    copied = _copied_from_context()
    assert copied, "no COPY from the build context found"
    # The build's own recipe is part of the key too.
    assert _image_inputs() == copied | {"images/Dockerfile", ".dockerignore"}


def test_every_package_of_the_project_is_copied() -> None:
    """pyproject.toml's package roots: each top-level package under them is in the image."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    roots = pyproject["tool"]["setuptools"]["packages"]["find"]["where"]
    packages = [
        path.parent.relative_to(ROOT).as_posix()
        for root in roots
        for path in sorted((ROOT / root).glob("*/__init__.py"))
    ]
    assert packages
    copied = _copied_from_context()
    missing = [
        p
        for p in packages
        if not any(p == c or p.startswith(c + "/") for c in copied)
        # appgen/tests and appgen/bench are test folders, not packages of the image.
        and not p.startswith(("appgen/tests", "appgen/bench"))
    ]
    assert missing == [], f"packages the Dockerfile does not copy: {missing}"


def test_nothing_the_dockerfile_copies_is_ignored_by_the_build_context() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for source in _copied_from_context():
        assert source not in ignored, source
        assert (ROOT / source).exists(), source
    # What a checkout generates never reaches the image: the web stage makes it.
    assert "api/prazium_api/web/static/vendor" in ignored

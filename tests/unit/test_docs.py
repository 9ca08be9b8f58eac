"""The documentation holds together: the generated reference pages are current, the site
builds with mkdocs --strict (no broken link or anchor, no page left out of the nav), the
README stays a short front door whose links resolve, every shell block a newcomer follows
is either run by tests/integration/test_docs_blocks.py or says why not, and nothing
points outside the repository."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from tests.support import docblocks

ROOT = Path(__file__).resolve().parents[2]
README_MAX_LINES = 250
# Pages that stand alone: no file outside the repository, no word of how it was made.
STANDALONE = [
    ROOT / "README.md",
    ROOT / "ARCHITECTURE.md",
    ROOT / "charts" / "prazium" / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
]
OUTSIDE = re.compile(
    r"DESIGN\.md|shared/contract|api-v1\.txt|\bissues? \d+|merged tree|\bsession \d|"
    r"(?:first|second|third) session",
    re.IGNORECASE,
)
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _reference_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_reference", ROOT / "scripts" / "docs_reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_reference_pages_are_current() -> None:
    stale = _reference_script().stale()
    assert stale == [], f"run scripts/docs_reference.py: {stale} not current"


def test_site_builds_strictly(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert built.returncode == 0, built.stderr[-4000:]
    assert (tmp_path / "reference" / "rest-api" / "index.html").is_file()
    rest = (tmp_path / "reference" / "rest-api" / "index.html").read_text()
    text = re.sub(r"<[^>]+>", "", rest)
    assert "/v1/projects/{projectId}/runs" in text  # rendered from the OpenAPI document


def test_strict_build_catches_a_broken_link(tmp_path: Path) -> None:
    """The check above can fail: a page linking to a missing page stops the build."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[gone](missing.md) and [anchor](#nowhere)\n")
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: t\nstrict: true\nvalidation: {anchors: warn, unrecognized_links: warn}\n"
    )
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert built.returncode != 0
    assert "missing.md" in built.stderr


def test_readme_is_short_and_its_links_resolve() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, len(lines)
    for page in (ROOT / "README.md", ROOT / "ARCHITECTURE.md", ROOT / "charts/prazium/README.md"):
        for target in _LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            assert (page.parent / target).exists(), f"{page.name}: {target} does not exist"


def test_pages_stand_alone() -> None:
    found = []
    for page in STANDALONE:
        for number, line in enumerate(page.read_text().splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{page.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_every_shell_block_a_newcomer_follows_runs_or_says_why_not() -> None:
    seen = 0
    for paths in docblocks.EXECUTED_DOCUMENTS.values():
        for path in paths:
            for block in docblocks.blocks(path):
                seen += 1
                where = f"{path}:{block.line}"
                if block.not_executed is not None:
                    assert block.not_executed.strip(), f"{where}: say why it is not executed"
                else:
                    # Only bash blocks run: anything else would be skipped silently.
                    assert block.language == "bash", f"{where}: ```{block.language}"
    assert seen >= 6


def test_the_block_reader_finds_marks_and_order() -> None:
    blocks = docblocks.blocks("README.md")
    assert blocks[0].not_executed  # make up / make test
    executed = [b for b in blocks if b.not_executed is None]
    assert "kubectl apply" in executed[0].code
    assert "make test" in blocks[0].code  # .ci/run runs exactly this command

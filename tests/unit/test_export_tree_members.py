"""export_tree's own member checks (Pythons without tarfile extraction filters)."""

from __future__ import annotations

import tarfile

import pytest

from prazium_operator.gitrepo import _check_member


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def test_ordinary_files_dirs_and_inner_links_pass() -> None:
    _check_member(_member("app/main.py"))
    _check_member(_member("app", tarfile.DIRTYPE))
    _check_member(_member("app/link", tarfile.SYMTYPE, "../README.md"))


@pytest.mark.parametrize(
    "member",
    [
        _member("/etc/passwd"),
        _member("../outside"),
        _member("a/../../b"),
        _member("link", tarfile.SYMTYPE, "/etc/passwd"),
        _member("a/link", tarfile.SYMTYPE, "../../outside"),
        _member("dev", tarfile.CHRTYPE),
        _member("hard", tarfile.LNKTYPE, "app/main.py"),
    ],
)
def test_paths_and_links_out_of_the_tree_are_refused(member: tarfile.TarInfo) -> None:
    with pytest.raises(ValueError, match="archive"):
        _check_member(member)

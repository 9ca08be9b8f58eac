#!/usr/bin/env bash
# Write requirements-dev.lock (runtime + dev: the checkout's .venv) and requirements.lock
# (runtime: the Prazium image) from pyproject.toml's dependencies, every pin with the
# sha256 hashes of its files on PyPI; scripts/venv.sh and the image build install them
# with hash checking required. Never edit the locks by hand:
#   scripts/lock.sh                          after a change to pyproject.toml's dependencies;
#                                            every pin still allowed stays where it is
#   scripts/lock.sh --upgrade-package NAME   move NAME (and what it needs) to its newest
#   scripts/lock.sh --upgrade                move every package to its newest
# The dev lock is resolved first and bounds the runtime one, so a package pinned in both
# has one version (tests/unit/test_locks.py checks). Resolved for CPython 3.11 on Linux
# x86_64, the image's platform (a .venv on a newer Python takes the same pins). Needs
# PyPI, not the .venv.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/uv.sh"
bootstrap_uv
cd "$PRAZIUM_ROOT"

# lock FILE HEADER [uv pip compile options]: FILE rewritten in place (uv keeps the pins it
# already holds unless told to upgrade), under HEADER.
lock() {
  local file=$1 header=$2 work
  shift 2
  work=$(mktemp -d); trap 'rm -rf "${work:-}"' RETURN
  # The current pins, for uv to keep (its own output file is where it looks for them).
  [ ! -f "$file" ] || grep -v '^#' "$file" >"$work/$file" || true
  "$UV" pip compile -q pyproject.toml --python-version 3.11 \
    --python-platform x86_64-unknown-linux-gnu --generate-hashes --no-header \
    -o "$work/$file" "$@" || die "resolving $file failed"
  { printf '%s\n' "$header" \
      "# Written by scripts/lock.sh (uv pip compile of pyproject.toml, with hashes): run it" \
      "# to change a pin, never edit this file by hand."
    cat "$work/$file"; } >"$file"
  say "wrote $file ($(grep -c '^[A-Za-z0-9]' "$file") packages)"
}

lock requirements-dev.lock \
  "# The checkout's .venv (scripts/venv.sh): the runtime and the dev dependencies." \
  --extra dev "$@"
lock requirements.lock \
  "# The runtime (the Prazium image): requirements-dev.lock's versions of what runs." \
  --constraint requirements-dev.lock

#!/usr/bin/env bash
# The checkout's own Python environment, .venv: exactly the pins of
# requirements-dev.lock, plus this project installed in editable mode (no deps),
# so `prazium-operator`, `python -m prazium_api`... find it like any installed package.
#
# Made with uv (pinned below, bootstrapped from PyPI into the user cache), whose
# package cache makes a new .venv a matter of seconds: CI's fresh clones and
# several checkouts on one machine each get their own .venv, filled from the one
# shared cache (uv locks it; nothing in it points back to a checkout).
# Rebuilt from scratch whenever the lock, pyproject.toml, the interpreter or this
# script (uv's version with it) change; the stamp is written last, so an interrupted
# build is redone.
# Idempotent; needs no Go and no services.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

UV_VERSION=0.13.9
TOOLS=$CACHE_DIR/tools/uv-$UV_VERSION
UV=$TOOLS/bin/uv
export UV_CACHE_DIR=${UV_CACHE_DIR:-$CACHE_DIR/uv}
# Files are hard-linked from the cache (uv copies instead when it sits on another filesystem).
export UV_LINK_MODE=${UV_LINK_MODE:-hardlink}
export UV_NO_PROGRESS=1
export UV_PYTHON_DOWNLOADS=never  # always this machine's python3, never a fetched one
# Bytecode compiled at install, as pip does: with PYTHONDONTWRITEBYTECODE set (CI, some
# shells) nothing would ever write it, and every process (operator, API, each worker)
# would compile the SDKs' thousands of modules again at import: seconds of CPU each.
export UV_COMPILE_BYTECODE=1

bootstrap_uv() {
  [ -x "$UV" ] && return 0
  say "installing uv $UV_VERSION into ${TOOLS/#$HOME/\~}"
  local tmp
  mkdir -p "$(dirname "$TOOLS")"
  tmp=$(mktemp -d "$TOOLS.XXXXXX")
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check \
    --target "$tmp" "uv==$UV_VERSION"
  # Another checkout may have won the race; either copy is the same uv.
  mv -T "$tmp" "$TOOLS" 2>/dev/null || rm -rf "$tmp"
  [ -x "$UV" ] || die "uv $UV_VERSION did not install into $TOOLS"
}

PYTHON3=$(command -v python3) || die "python3 (3.11 or newer) is required"
VENV_DIR=$PRAZIUM_ROOT/.venv  # lib.sh's PRAZIUM_PYTHON lives here
STAMP=$VENV_DIR/.prazium-stamp
# This script is part of the recipe: a change to it rebuilds too.
wanted=$( { cat "$PRAZIUM_ROOT/requirements-dev.lock" "$PRAZIUM_ROOT/pyproject.toml" "$0"
            "$PYTHON3" -c 'import sys; print(sys.version, sys.base_prefix)'; } |
          sha256sum | cut -c1-16)

# One build at a time per checkout (parallel `make` targets share .venv).
mkdir -p "$PRAZIUM_ROOT/.dev"
exec 9>"$PRAZIUM_ROOT/.dev/venv.lock"
flock 9

if [ -L "$VENV_DIR" ]; then
  rm -f "$VENV_DIR"  # the shared venv of old checkouts, linked: drop the link only
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$wanted" ]; then
  bootstrap_uv
  t0=$SECONDS
  say "creating .venv from requirements-dev.lock (uv cache ${UV_CACHE_DIR/#$HOME/\~})"
  rm -rf "$VENV_DIR"
  "$UV" venv -q --python "$PYTHON3" "$VENV_DIR"
  "$UV" pip sync -q --python "$VENV_DIR/bin/python" "$PRAZIUM_ROOT/requirements-dev.lock"
  # setuptools finds the packages from pyproject.toml ([tool.setuptools.packages.find]);
  # nothing here names them.
  "$UV" pip install -q --python "$VENV_DIR/bin/python" --no-deps -e "$PRAZIUM_ROOT"
  echo "$wanted" >"$STAMP"
  say ".venv ready in $((SECONDS - t0)) s"
fi

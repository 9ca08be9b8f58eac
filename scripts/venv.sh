#!/usr/bin/env bash
# The checkout's own Python environment, .venv: exactly the pins of
# requirements-dev.lock, plus this project installed in editable mode (no deps),
# so `prazium-operator`, `python -m prazium_api`... find it like any installed package.
#
# Made with uv (pinned in uv.sh, bootstrapped from PyPI into the user cache), whose
# package cache makes a new .venv a matter of seconds: CI's fresh clones and
# several checkouts on one machine each get their own .venv, filled from the one
# shared cache (uv locks it; nothing in it points back to a checkout).
# Rebuilt from scratch whenever the lock, pyproject.toml, the interpreter, this
# script or uv.sh (uv's version with it) change; the stamp is written last, so an
# interrupted build is redone. The lock is written by scripts/lock.sh.
# Idempotent; needs no Go and no services.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/uv.sh"

# Files are hard-linked from the cache (uv copies instead when it sits on another filesystem).
export UV_LINK_MODE=${UV_LINK_MODE:-hardlink}
# Bytecode compiled at install, as pip does: with PYTHONDONTWRITEBYTECODE set (CI, some
# shells) nothing would ever write it, and every process (operator, API, each worker)
# would compile the SDKs' thousands of modules again at import: seconds of CPU each.
export UV_COMPILE_BYTECODE=1

PYTHON3=$(command -v python3) || die "python3 (3.11 or newer) is required"
VENV_DIR=$PRAZIUM_ROOT/.venv  # lib.sh's PRAZIUM_PYTHON lives here
STAMP=$VENV_DIR/.prazium-stamp
# This script and uv.sh are part of the recipe: a change to them rebuilds too.
wanted=$( { cat "$PRAZIUM_ROOT/requirements-dev.lock" "$PRAZIUM_ROOT/pyproject.toml" "$0" \
              "$(dirname "$0")/uv.sh"
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
  # Every file checked against the lock's sha256 hashes; a pin without one is refused.
  "$UV" pip sync -q --require-hashes --python "$VENV_DIR/bin/python" \
    "$PRAZIUM_ROOT/requirements-dev.lock"
  # setuptools finds the packages from pyproject.toml ([tool.setuptools.packages.find]);
  # nothing here names them.
  "$UV" pip install -q --python "$VENV_DIR/bin/python" --no-deps -e "$PRAZIUM_ROOT"
  echo "$wanted" >"$STAMP"
  say ".venv ready in $((SECONDS - t0)) s"
fi

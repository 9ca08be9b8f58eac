# uv, pinned, for scripts/venv.sh (installs the locks) and scripts/lock.sh (writes them).
# Source it after lib.sh; bootstrap_uv installs it from PyPI into the user cache once.
# shellcheck shell=bash

UV_VERSION=0.13.9
UV_TOOLS=$CACHE_DIR/tools/uv-$UV_VERSION
UV=$UV_TOOLS/bin/uv
export UV_CACHE_DIR=${UV_CACHE_DIR:-$CACHE_DIR/uv}
export UV_NO_PROGRESS=1
export UV_PYTHON_DOWNLOADS=never  # always this machine's python3, never a fetched one

bootstrap_uv() {
  [ -x "$UV" ] && return 0
  say "installing uv $UV_VERSION into ${UV_TOOLS/#$HOME/\~}"
  local tmp
  mkdir -p "$(dirname "$UV_TOOLS")"
  tmp=$(mktemp -d "$UV_TOOLS.XXXXXX")
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check \
    --target "$tmp" "uv==$UV_VERSION"
  # Another checkout may have won the race; either copy is the same uv.
  mv -T "$tmp" "$UV_TOOLS" 2>/dev/null || rm -rf "$tmp"
  [ -x "$UV" ] || die "uv $UV_VERSION did not install into $UV_TOOLS"
}

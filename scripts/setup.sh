#!/usr/bin/env bash
# Install what Prazium needs on this machine: Debian packages (PostgreSQL,
# openssl, curl, git) when missing, the checkout's .venv (scripts/venv.sh),
# and the local control plane binary. Idempotent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

missing=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
command -v git >/dev/null || missing+=(git)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]}; install them (sudo apt-get install ${missing[*]})"
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
"$PRAZIUM_ROOT/scripts/venv.sh"  # the Python side alone: `make venv`
command -v go >/dev/null || die "Go is required to build the local control plane (go 1.25 or newer)"

"$PRAZIUM_ROOT/scripts/build-cluster.sh"
"$PRAZIUM_ROOT/scripts/build-helm.sh"
say "setup complete"

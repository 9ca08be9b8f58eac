#!/usr/bin/env bash
# Install what Prazium needs on this machine: Debian packages (PostgreSQL,
# openssl, curl, git; npm and chromium for the web dashboard's assets and browser
# tests; for the node: runc, the CNI plugins, iptables, ipset (kube-router's firewall),
# nftables (the host firewall), acl, patch, buildah, mmdebstrap and gcc for the
# images) when missing, the Python environment (the checkout's .venv,
# scripts/venv.sh), the dashboard's vendored assets (scripts/web-assets.sh), the
# local cluster binary (control plane and node), the node's containerd 2, gVisor and
# kube-router (scripts/build-node.sh) and the node's images. Idempotent.
# PRAZIUM_NODE=0 skips the node's part (machines without root: make up EXECUTOR=local).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

missing=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
command -v git >/dev/null || missing+=(git)
# The web dashboard: npm builds its vendored assets (scripts/web-assets.sh); the
# browser tests drive Debian's Chromium (never a browser downloaded by Playwright).
command -v npm >/dev/null || missing+=(npm)
command -v chromium >/dev/null || missing+=(chromium)
NODE=${PRAZIUM_NODE:-1}
if [ "$NODE" = 1 ]; then
  command -v runc >/dev/null || missing+=(runc)
  command -v ipset >/dev/null || missing+=(ipset)
  command -v nft >/dev/null || missing+=(nftables)
  command -v patch >/dev/null || missing+=(patch)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v setfacl >/dev/null || missing+=(acl)
  command -v buildah >/dev/null || missing+=(buildah)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  command -v gcc >/dev/null || missing+=(gcc)
  [ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -n "$(ls /usr/lib/*/libc.a 2>/dev/null)" ] \
    || missing+=(libc6-dev)
fi
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]}; install them (sudo apt-get install ${missing[*]})"
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
"$PRAZIUM_ROOT/scripts/venv.sh"  # the Python side alone: `make venv`
"$PRAZIUM_ROOT/scripts/web-assets.sh"  # before the images: the wheel carries static/vendor
command -v go >/dev/null || die "Go is required to build the local control plane (go 1.25 or newer)"

"$PRAZIUM_ROOT/scripts/build-cluster.sh"
"$PRAZIUM_ROOT/scripts/build-helm.sh"
if [ "$NODE" = 1 ]; then
  "$PRAZIUM_ROOT/scripts/build-node.sh"
  "$PRAZIUM_ROOT/scripts/build-images.sh" pause >/dev/null
  "$PRAZIUM_ROOT/scripts/build-images.sh" prazium >/dev/null
fi
say "setup complete"

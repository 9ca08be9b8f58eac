#!/usr/bin/env bash
# Build the local control plane binary (etcd + kube-apiserver +
# kube-controller-manager + kubectl) from tests/cluster, once per source
# digest. The binary is kept in the user cache, so fresh clones and CI runs
# reuse it; Go's module and build caches stay in their usual stable places.
# Prints nothing but progress on stderr; links .dev/bin/{prazium-cluster,kubectl}.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=$PRAZIUM_ROOT/tests/cluster
command -v go >/dev/null || die "go is not installed; the control plane is built from the Kubernetes Go modules"
digest=$(cd "$src" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-16)
out=$CACHE_DIR/cluster-$digest/prazium-cluster

if [ ! -x "$out" ]; then
  say "building the local control plane (kubernetes $(sed -n 's/^\s*k8s.io\/kubernetes \(v[0-9.]*\).*/\1/p' "$src/go.mod")); a cold build takes several minutes"
  mkdir -p "$(dirname "$out")"
  start=$SECONDS
  kver=$(sed -n 's/^\s*k8s.io\/kubernetes \(v[0-9.]*\).*/\1/p' "$src/go.mod")
  minor=$(echo "$kver" | cut -d. -f2)
  vpkg=k8s.io/component-base/version
  ldflags="-s -w -X $vpkg.gitVersion=$kver -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$out.tmp" .) \
    || die "building the control plane failed (see the Go errors above)"
  mv "$out.tmp" "$out"
  say "built in $((SECONDS - start)) s"
fi

mkdir -p "$DEV_DIR/bin"
ln -sf "$out" "$DEV_DIR/bin/prazium-cluster"
ln -sf "$out" "$DEV_DIR/bin/kubectl"

#!/usr/bin/env bash
# Build the local cluster binary (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy and kubectl) from tests/cluster, once per
# source digest. The binary is kept in the user cache, so fresh clones and CI runs
# reuse it; Go's module and build caches stay in their usual stable places.
# Prints nothing but progress on stderr; links .dev/bin/{prazium-cluster,kubectl}.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=$PRAZIUM_ROOT/tests/cluster
command -v go >/dev/null || die "go is not installed; the control plane is built from the Kubernetes Go modules"
digest=$(cd "$src" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-16)
out=$CACHE_DIR/cluster-$digest/prazium-cluster

# wait_quietly PID SECONDS: true once PID has exited, false if it still runs after SECONDS.
wait_quietly() {
  local i
  for i in $(seq 1 "$2"); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 1
  done
  ! kill -0 "$1" 2>/dev/null
}

if [ ! -x "$out" ]; then
  say "building the local cluster binary (kubernetes $(sed -n 's/^\s*k8s.io\/kubernetes \(v[0-9.]*\).*/\1/p' "$src/go.mod"): control plane and node); a cold build takes 10-15 minutes on 2 cores"
  mkdir -p "$(dirname "$out")"
  start=$SECONDS
  kver=$(sed -n 's/^\s*k8s.io\/kubernetes \(v[0-9.]*\).*/\1/p' "$src/go.mod")
  minor=$(echo "$kver" | cut -d. -f2)
  vpkg=k8s.io/component-base/version
  ldflags="-s -w -X $vpkg.gitVersion=$kver -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$out.tmp" .) &
  build=$!
  # go build is silent for minutes: say that it still works.
  while ! wait_quietly "$build" 30; do
    say "still building ($((SECONDS - start)) s)"
  done
  wait "$build" || die "building the cluster binary failed (see the Go errors above)"
  mv "$out.tmp" "$out"
  say "built in $((SECONDS - start)) s"
fi

mkdir -p "$DEV_DIR/bin"
ln -sf "$out" "$DEV_DIR/bin/prazium-cluster"
ln -sf "$out" "$DEV_DIR/bin/kubectl"

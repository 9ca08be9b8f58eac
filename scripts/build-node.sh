#!/usr/bin/env bash
# Build the local node's runtime and policy engine from their Go modules, once per
# source digest, like build-cluster.sh; cached in ~/.cache/prazium/<tool>-<digest>/bin
# and linked into .dev/bin/node/ (node.sh puts that first on PATH):
#   containerd   containerd 2 (tests/node/containerd): containerd, containerd-shim-runc-v2,
#                ctr. gVisor's shim speaks containerd 2's shim protocol, which Debian's
#                containerd 1.6 does not.
#   gvisor       runsc and containerd-shim-runsc-v1 (tests/node/gvisor, the gvisor.dev
#                module's `go` branch), with one local patch applied to a vendored copy
#                (shim-oom-score.patch: the shim's own oom_score_adj 0 instead of -999,
#                which these machines refuse even to root).
#   kube-router  kube-router (tests/node/kube-router), run only as the NetworkPolicy
#                firewall (node.sh).
#   build-node.sh [TOOL...]   build (or reuse) those tools, all three by default
# Prints nothing but progress on stderr. The digest covers each module's files and the
# build recipe below, so a new pin, patch or flag rebuilds; nothing else does.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v go >/dev/null || die "go is not installed; the node's runtime is built from Go modules"
# Bump when the build commands below change.
RECIPE=1

# wait_quietly PID SECONDS: true once PID has exited, false if it still runs after SECONDS.
wait_quietly() {
  local i
  for i in $(seq 1 "$2"); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 1
  done
  ! kill -0 "$1" 2>/dev/null
}

# with_progress WHAT CMD...: run CMD, saying every 30 s that it still works.
with_progress() {
  local what=$1 start=$SECONDS pid
  shift
  "$@" &
  pid=$!
  while ! wait_quietly "$pid" 30; do
    say "still building $what ($((SECONDS - start)) s)"
  done
  wait "$pid"
}

version_of() { # version_of DIR MODULE: the version go.mod pins
  sed -n "s#^\s*require $2 \(v[^ ]*\).*#\1#p; s#^\s*$2 \(v[^ ]*\).*#\1#p" "$1/go.mod" | head -n1
}

# build_TOOL DIR: the tool's binaries into DIR.
build_containerd() {
  local tmp=$1
  (cd "$PRAZIUM_ROOT/tests/node/containerd" && CGO_ENABLED=0 go build -trimpath \
    -tags "no_btrfs no_devmapper no_zfs no_aufs" -ldflags "-s -w" -o "$tmp/" \
    github.com/containerd/containerd/v2/cmd/containerd \
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr)
}

build_gvisor() {
  local tmp=$1 src=$PRAZIUM_ROOT/tests/node/gvisor
  # Go refuses -overlay for files in the module cache: the patch goes into a vendored
  # copy of the module graph, made afresh for each build.
  cp "$src/go.mod" "$src/go.sum" "$src/tools.go" "$tmp/"
  (cd "$tmp" && go mod vendor) || return 1
  patch --quiet -p1 -d "$tmp/vendor/gvisor.dev/gvisor" <"$src/shim-oom-score.patch" || return 1
  (cd "$tmp" && CGO_ENABLED=0 go build -mod=vendor -trimpath -ldflags "-s -w" -o "$tmp/" \
    gvisor.dev/gvisor/runsc gvisor.dev/gvisor/shim) || return 1
  mv "$tmp/shim" "$tmp/containerd-shim-runsc-v1"
  rm -rf "$tmp/vendor" "$tmp/go.mod" "$tmp/go.sum" "$tmp/tools.go"
}

build_kube_router() {
  local tmp=$1 src=$PRAZIUM_ROOT/tests/node/kube-router version
  version=$(version_of "$src" github.com/cloudnativelabs/kube-router/v2)
  (cd "$src" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$version" \
    -o "$tmp/" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router)
}

# build TOOL: the tool's binaries in the cache (built when missing), linked into .dev/bin/node.
build() {
  local tool=$1 src module minutes digest dir tmp start
  src=$PRAZIUM_ROOT/tests/node/$tool
  case $tool in
    containerd) module=github.com/containerd/containerd/v2; minutes="2-5" ;;
    gvisor) module=gvisor.dev/gvisor; minutes="3-15" ;;
    kube-router) module=github.com/cloudnativelabs/kube-router/v2; minutes="2-8" ;;
    *) die "unknown node tool $tool (containerd, gvisor or kube-router)" ;;
  esac
  digest=$( (cd "$src" && cat go.mod go.sum ./*.go ./*.patch 2>/dev/null; echo "$RECIPE"; \
    declare -f "build_${tool//-/_}") | sha256sum | cut -c1-16)
  dir=$CACHE_DIR/$tool-$digest/bin
  if [ ! -f "$dir/.complete" ]; then
    say "building $tool $(version_of "$src" "$module") from its Go module; a cold build takes $minutes minutes on 2 cores"
    mkdir -p "$(dirname "$dir")"
    tmp=$(mktemp -d "$CACHE_DIR/$tool-$digest/build.XXXXXX")
    start=$SECONDS
    with_progress "$tool" "build_${tool//-/_}" "$tmp" \
      || { rm -rf "$tmp"; die "building $tool failed (see the Go errors above)"; }
    touch "$tmp/.complete"
    # Another build of the same digest may have finished meanwhile: keep either.
    mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
    say "built $tool in $((SECONDS - start)) s"
  fi
  mkdir -p "$DEV_DIR/bin/node"
  local file
  for file in "$dir"/*; do
    ln -sf "$file" "$DEV_DIR/bin/node/$(basename "$file")"
  done
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(containerd gvisor kube-router)
for tool in "${tools[@]}"; do
  build "$tool"
done

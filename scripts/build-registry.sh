#!/usr/bin/env bash
# Build the CNCF Distribution registry (pinned) from its Go module once, into the user
# cache, and print its path: make helm-e2e runs one on loopback to push the image to
# (make image-push) and install the chart from it, as from any registry.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

REGISTRY_VERSION=v3.0.0
out=$CACHE_DIR/registry-$REGISTRY_VERSION/registry
if [ ! -x "$out" ]; then
  say "building the registry $REGISTRY_VERSION from its Go module (a few minutes, once)"
  mkdir -p "$(dirname "$out")"
  GOBIN=$(dirname "$out") CGO_ENABLED=0 go install -trimpath -ldflags='-s -w' \
    "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION" >&2 \
    || die "building the registry failed"
fi
echo "$out"

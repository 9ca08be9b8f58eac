#!/usr/bin/env bash
# Build helm (pinned) from its Go module once, into the user cache, for the
# chart tests and for users without helm; links .dev/bin/helm.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

HELM_VERSION=v3.22.0
out=$CACHE_DIR/helm-$HELM_VERSION/helm
if [ ! -x "$out" ]; then
  say "building helm $HELM_VERSION from its Go module (about a minute, once)"
  mkdir -p "$(dirname "$out")"
  GOBIN=$(dirname "$out") CGO_ENABLED=0 go install -trimpath -ldflags='-s -w' \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" || die "building helm failed"
fi
mkdir -p "$DEV_DIR/bin"
ln -sf "$out" "$DEV_DIR/bin/helm"

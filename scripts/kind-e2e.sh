#!/usr/bin/env bash
# `make kind-e2e`, for machines with Docker, kind, kubectl and helm: a kind cluster,
# the Prazium and PostgreSQL images built with Docker and loaded into it, then the
# same end-to-end suite as make helm-e2e (tests/e2e) against its kubeconfig. Services
# are reached through `kubectl port-forward` (no NodePort on the host). It cannot run
# on the machine that develops Prazium (no Docker there); make helm-e2e is the same
# suite on the local node.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || die "$tool is missing: make kind-e2e needs docker, kind, kubectl and helm"
done
CLUSTER=${KIND_CLUSTER:-prazium-e2e}
KUBECONFIG_FILE=$DEV_DIR/kind-kubeconfig
TAG=e2e
cleanup() { kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
docker build -f "$PRAZIUM_ROOT/images/Dockerfile" -t "prazium/prazium:$TAG" "$PRAZIUM_ROOT"
kind create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_FILE" --wait 120s
kind load docker-image --name "$CLUSTER" "prazium/prazium:$TAG"
# kind's default StorageClass (local-path) is ReadWriteOnce only: one node, so the
# repo volume may be ReadWriteOnce too.
cat >"$DEV_DIR/values-kind.yaml" <<YAML
image: {repository: prazium/prazium, tag: "$TAG", pullPolicy: Never}
repoVolume: {accessModes: [ReadWriteOnce], size: 2Gi}
api:
  deploy: {image: "prazium/prazium:$TAG"}
database:
  bundled:
    image: {repository: postgres, tag: "15", pullPolicy: IfNotPresent}
    storageSize: 2Gi
YAML
export PRAZIUM_E2E_KUBECONFIG=$KUBECONFIG_FILE PRAZIUM_E2E_KUBECTL=$(command -v kubectl) \
  PRAZIUM_E2E_HELM=$(command -v helm) PRAZIUM_E2E_NAMESPACE=prazium-system \
  PRAZIUM_E2E_RELEASE=prazium PRAZIUM_E2E_VALUES=$DEV_DIR/values-kind.yaml
cd "$PRAZIUM_ROOT"
"$PRAZIUM_PYTHON" -m pytest tests/e2e -v -p no:cacheprovider "$@"

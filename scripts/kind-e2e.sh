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
# The chart's default image name (make image's), and a second tag for the upgrade test.
IMAGE=localhost/prazium/prazium:$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$PRAZIUM_ROOT/charts/prazium/Chart.yaml")
UPGRADE_IMAGE=localhost/prazium/prazium:e2e-upgrade
cleanup() { kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
docker build -f "$PRAZIUM_ROOT/images/Dockerfile" -t "$IMAGE" -t "$UPGRADE_IMAGE" "$PRAZIUM_ROOT"
kind create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_FILE" --wait 120s
kind load docker-image --name "$CLUSTER" "$IMAGE" "$UPGRADE_IMAGE"
# kind's default StorageClass (local-path) is ReadWriteOnce only: one node, so the
# repo volume may be ReadWriteOnce too.
cat >"$DEV_DIR/values-kind.yaml" <<YAML
repoVolume: {accessModes: [ReadWriteOnce], size: 2Gi}
api:
  deploy: {image: "$IMAGE"}
database:
  bundled:
    image: {repository: postgres, tag: "15", pullPolicy: IfNotPresent}
    storageSize: 2Gi
YAML
export PRAZIUM_E2E_KUBECONFIG=$KUBECONFIG_FILE PRAZIUM_E2E_KUBECTL=$(command -v kubectl) \
  PRAZIUM_E2E_HELM=$(command -v helm) PRAZIUM_E2E_NAMESPACE=prazium-system \
  PRAZIUM_E2E_RELEASE=prazium PRAZIUM_E2E_VALUES=$DEV_DIR/values-kind.yaml \
  PRAZIUM_E2E_IMAGE=$IMAGE PRAZIUM_E2E_UPGRADE_IMAGE=$UPGRADE_IMAGE
cd "$PRAZIUM_ROOT"
"$PRAZIUM_PYTHON" -m pytest tests/e2e -v -p no:cacheprovider "$@"

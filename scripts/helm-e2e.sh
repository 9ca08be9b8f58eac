#!/usr/bin/env bash
# `make helm-e2e`: Prazium installed by its Helm chart into a throw-away local cluster
# (control plane + node, state in .dev/helm-e2e, apart from `make up` and `make test`;
# no host PostgreSQL, no host operator or API: all of them run as Pods), then the
# end-to-end suite tests/e2e (install, key, REST flow, kubectl build, preview,
# CRD upgrade, helm upgrade, uninstall), then teardown. Extra arguments go to pytest.
# The images (prazium, pause, postgres) are built once and cached.
set -euo pipefail
export PRAZIUM_DEV_DIR=${PRAZIUM_E2E_DEV_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.dev/helm-e2e}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export PRAZIUM_APISERVER_PORT=$(free_port) PRAZIUM_ETCD_PORT=$(free_port) \
  PRAZIUM_ETCD_PEER_PORT=$(free_port) PRAZIUM_CM_PORT=$(free_port) PRAZIUM_PG_PORT=$(free_port)
export PRAZIUM_SCHEDULER_PORT=$(free_port) PRAZIUM_KUBELET_PORT=$(free_port) \
  PRAZIUM_KUBELET_HEALTHZ_PORT=$(free_port) PRAZIUM_PROXY_HEALTHZ_PORT=$(free_port) \
  PRAZIUM_PROXY_METRICS_PORT=$(free_port)
export PRAZIUM_POD_CIDR=${PRAZIUM_E2E_POD_CIDR:-10.246.$(( 0x$(echo "$PRAZIUM_DEV_DIR" | sha256sum | cut -c1-2) )).0/24}
. "$(dirname "$0")/lib.sh"

NAMESPACE=prazium-system
RELEASE=prazium
FULL=$RELEASE-prazium
# The bundled PostgreSQL's Service address: the node has no cluster DNS, so the
# chart's DSN names this fixed ClusterIP (cluster.sh's service range 10.0.0.0/24,
# in its band for static addresses).
DB_CLUSTER_IP=10.0.0.10
KUBECONFIG_FILE=$DEV_DIR/kubeconfig
kubectl() { "$DEV_DIR/bin/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

teardown() {
  "$PRAZIUM_ROOT/scripts/node.sh" stop || true
  "$PRAZIUM_ROOT/scripts/cluster.sh" stop || true
  rm -rf "$DEV_DIR"
}
teardown >/dev/null 2>&1  # leftovers of an interrupted run
trap teardown EXIT
"$PRAZIUM_ROOT/scripts/setup.sh"
t0=$SECONDS
prazium_image=$("$PRAZIUM_ROOT/scripts/build-images.sh" prazium)
postgres_image=$("$PRAZIUM_ROOT/scripts/build-images.sh" postgres)
"$PRAZIUM_ROOT/scripts/build-helm.sh"
"$PRAZIUM_ROOT/scripts/cluster.sh" start
"$PRAZIUM_ROOT/scripts/node.sh" start
pid_alive "$DEV_DIR/node/kube-proxy.pid" || die "another local stack's kube-proxy owns this \
machine's Service rules (see /run/prazium-kube-proxy.owner); the chart's Services need this \
stack's own: stop that stack (make down, or let make test finish) and run make helm-e2e again"
"$PRAZIUM_ROOT/scripts/build-images.sh" import "$DEV_DIR/node/containerd/containerd.sock" postgres

# Volumes: the node has no provisioner, so hostPath PersistentVolumes are made for
# the chart's two claims, each reserved for its claim (claimRef).
VOLUMES=$DEV_DIR/volumes
mkdir -p "$VOLUMES/repos" "$VOLUMES/db"
chown 10001:10001 "$VOLUMES/repos"  # operator, API and workers (uid 10001)
chown 999:999 "$VOLUMES/db"         # PostgreSQL (uid 999)
chmod 0700 "$VOLUMES/db"
dir=$VOLUMES
while [ "$dir" != / ]; do chmod o+x "$dir" 2>/dev/null || true; dir=$(dirname "$dir"); done
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: e2e-repos}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: "$VOLUMES/repos", type: Directory}
  claimRef: {namespace: $NAMESPACE, name: $FULL-repos}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: e2e-db}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: "$VOLUMES/db", type: Directory}
  claimRef: {namespace: $NAMESPACE, name: data-$FULL-db-0}
YAML

# The values the README's Helm section gives for the local node.
cat >"$DEV_DIR/values-local.yaml" <<YAML
image: {repository: ${prazium_image%:*}, tag: "${prazium_image##*:}", pullPolicy: Never}
repoVolume: {size: 2Gi}
api:
  service: {type: NodePort}
  deploy:
    image: $prazium_image
    serviceType: NodePort
    urlTemplate: "http://127.0.0.1:{nodePort}"
database:
  bundled:
    image: {repository: ${postgres_image%:*}, tag: "${postgres_image##*:}", pullPolicy: Never}
    storageSize: 2Gi
    service: {clusterIP: $DB_CLUSTER_IP}
YAML
say "local cluster ready for the chart in $((SECONDS - t0)) s"

export PRAZIUM_E2E_KUBECONFIG=$KUBECONFIG_FILE PRAZIUM_E2E_KUBECTL=$DEV_DIR/bin/kubectl \
  PRAZIUM_E2E_HELM=$DEV_DIR/bin/helm PRAZIUM_E2E_NAMESPACE=$NAMESPACE \
  PRAZIUM_E2E_RELEASE=$RELEASE PRAZIUM_E2E_VALUES=$DEV_DIR/values-local.yaml \
  PRAZIUM_E2E_NODE_ADDRESS=127.0.0.1
cd "$PRAZIUM_ROOT"
t1=$SECONDS
status=0
"$PRAZIUM_PYTHON" -m pytest tests/e2e -v -p no:cacheprovider "$@" || status=$?
say "helm e2e suite: $((SECONDS - t1)) s (whole run $((SECONDS - t0)) s)"
if [ "$status" != 0 ]; then
  kubectl get pods -A -o wide >&2 || true
  for c in api operator database; do
    kubectl -n "$NAMESPACE" logs -l "app.kubernetes.io/component=$c" --tail=40 --all-containers >&2 || true
  done
fi
exit "$status"

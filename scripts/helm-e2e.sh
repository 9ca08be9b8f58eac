#!/usr/bin/env bash
# `make helm-e2e`: Prazium installed by its Helm chart into the local cluster - the
# operator, the API and PostgreSQL all as Pods - and the end-to-end suite tests/e2e
# (install, key, REST flow, kubectl build, preview, CRD upgrade, helm upgrade,
# uninstall). Extra arguments go to pytest. The images (prazium, pause, postgres) are
# built once and cached.
#   - With `make up` running, its cluster and node are used: its host operator and API
#     are stopped for the run (they would act on the same objects as the chart's
#     operator) and started again afterwards; the release goes to its own namespace,
#     and everything the run made is removed at the end.
#   - Otherwise a throw-away cluster and node (state in .dev/helm-e2e, like make test's).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
up_ready() {
  [ -f "$ROOT/.dev/kubeconfig" ] && [ -x "$ROOT/.dev/bin/kubectl" ] && [ "$("$ROOT/.dev/bin/kubectl" \
    --kubeconfig "$ROOT/.dev/kubeconfig" --request-timeout=5s get node prazium-node \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
if [ -z "${PRAZIUM_E2E_DEV_DIR:-}" ] && up_ready; then
  MODE=up
  export PRAZIUM_DEV_DIR=$ROOT/.dev
else
  MODE=own
  export PRAZIUM_DEV_DIR=${PRAZIUM_E2E_DEV_DIR:-$ROOT/.dev/helm-e2e}
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  export PRAZIUM_APISERVER_PORT=$(free_port) PRAZIUM_ETCD_PORT=$(free_port) \
    PRAZIUM_ETCD_PEER_PORT=$(free_port) PRAZIUM_CM_PORT=$(free_port) PRAZIUM_PG_PORT=$(free_port)
  export PRAZIUM_SCHEDULER_PORT=$(free_port) PRAZIUM_KUBELET_PORT=$(free_port) \
    PRAZIUM_KUBELET_HEALTHZ_PORT=$(free_port) PRAZIUM_PROXY_HEALTHZ_PORT=$(free_port) \
    PRAZIUM_PROXY_METRICS_PORT=$(free_port)
  export PRAZIUM_POD_CIDR=${PRAZIUM_E2E_POD_CIDR:-10.246.$(( 0x$(echo "$PRAZIUM_DEV_DIR" | sha256sum | cut -c1-2) )).0/24}
fi
. "$ROOT/scripts/lib.sh"

# make up's own worker namespace is prazium-system: the release gets another.
NAMESPACE=$([ "$MODE" = up ] && echo prazium-e2e || echo prazium-system)
RELEASE=prazium
FULL=$RELEASE-prazium
# The bundled PostgreSQL's Service address: the node has no cluster DNS, so the
# chart's DSN names this fixed ClusterIP (cluster.sh's service range 10.0.0.0/24,
# in its band for static addresses); likewise the egress proxy's, which workers get.
DB_CLUSTER_IP=10.0.0.10
EGRESS_CLUSTER_IP=10.0.0.11
KUBECONFIG_FILE=$DEV_DIR/kubeconfig
VOLUMES=$DEV_DIR/helm-e2e-volumes
kubectl() { "$DEV_DIR/bin/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

teardown() {
  if [ "$MODE" = up ]; then
    # What the run made in make up's cluster, then make up's host processes again.
    "$DEV_DIR/bin/helm" --kubeconfig "$KUBECONFIG_FILE" uninstall "$RELEASE" -n "$NAMESPACE" \
      --wait >/dev/null 2>&1 || true
    # The tenants' Projects carry the operator's finalizer: make up's operator, started
    # again below, completes their deletion.
    kubectl delete namespace "$NAMESPACE" e2e-team e2e-kubectl --ignore-not-found \
      --wait=false >/dev/null 2>&1 || true
    kubectl delete pv e2e-repos e2e-db --ignore-not-found --wait=false >/dev/null 2>&1 || true
    rm -rf "$VOLUMES"
    EXECUTOR=$(cut -d' ' -f1 "$DEV_DIR/run/executor" 2>/dev/null || echo kubernetes) \
      "$PRAZIUM_ROOT/scripts/stack.sh" up >/dev/null 2>&1 \
      || say "make up's operator and API did not restart: run make up"
  else
    "$PRAZIUM_ROOT/scripts/node.sh" stop || true
    "$PRAZIUM_ROOT/scripts/cluster.sh" stop || true
    rm -rf "$DEV_DIR"
  fi
}
[ "$MODE" = own ] && teardown >/dev/null 2>&1  # leftovers of an interrupted run
trap teardown EXIT
t0=$SECONDS
if [ "$MODE" = up ]; then
  say "using make up's cluster; its host operator and API stop for the run"
  stop_pidfile api "$DEV_DIR/run/api.pid"
  stop_pidfile operator "$DEV_DIR/run/operator.pid"
  for ns in "$NAMESPACE" e2e-team e2e-kubectl; do  # leftovers of an earlier run
    if kubectl get namespace "$ns" >/dev/null 2>&1; then
      die "namespace $ns is left from an earlier run: wait until make up's operator has deleted it (kubectl get ns $ns), then run again"
    fi
  done
  kubectl delete pv e2e-repos e2e-db --ignore-not-found >/dev/null
  rm -rf "$VOLUMES"
else
  "$PRAZIUM_ROOT/scripts/setup.sh"
fi
prazium_image=$("$PRAZIUM_ROOT/scripts/build-images.sh" prazium)
postgres_image=$("$PRAZIUM_ROOT/scripts/build-images.sh" postgres)
"$PRAZIUM_ROOT/scripts/build-helm.sh"
if [ "$MODE" = own ]; then
  "$PRAZIUM_ROOT/scripts/cluster.sh" start
  "$PRAZIUM_ROOT/scripts/node.sh" start
fi
pid_alive "$DEV_DIR/node/kube-proxy.pid" || die "another local stack's kube-proxy owns this \
machine's Service rules (see /run/prazium-kube-proxy.owner); the chart's Services need this \
stack's own: stop that stack (make down, or let make test finish) and run make helm-e2e again"
"$PRAZIUM_ROOT/scripts/build-images.sh" import "$DEV_DIR/node/containerd/containerd.sock" prazium postgres

# Volumes: the node has no provisioner, so hostPath PersistentVolumes are made for
# the chart's two claims, each reserved for its claim (claimRef).
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
cat >"$VOLUMES/values-local.yaml" <<YAML
image: {repository: ${prazium_image%:*}, tag: "${prazium_image##*:}", pullPolicy: Never}
repoVolume: {size: 2Gi}
api:
  service: {type: NodePort}
  deploy:
    image: $prazium_image
    serviceType: NodePort
    urlTemplate: "http://127.0.0.1:{nodePort}"
    data: {mode: none}   # no provisioner for a preview's claim on this node
database:
  bundled:
    image: {repository: ${postgres_image%:*}, tag: "${postgres_image##*:}", pullPolicy: Never}
    storageSize: 2Gi
    service: {clusterIP: $DB_CLUSTER_IP}
worker:
  runtimeClassName: gvisor
  egress: {serviceClusterIP: $EGRESS_CLUSTER_IP}
YAML
say "local cluster ready for the chart in $((SECONDS - t0)) s"

export PRAZIUM_E2E_KUBECONFIG=$KUBECONFIG_FILE PRAZIUM_E2E_KUBECTL=$DEV_DIR/bin/kubectl \
  PRAZIUM_E2E_HELM=$DEV_DIR/bin/helm PRAZIUM_E2E_NAMESPACE=$NAMESPACE \
  PRAZIUM_E2E_RELEASE=$RELEASE PRAZIUM_E2E_VALUES=$VOLUMES/values-local.yaml \
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

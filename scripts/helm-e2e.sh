#!/usr/bin/env bash
# `make helm-e2e`: Prazium installed by its Helm chart into the local cluster - the
# operator, the API and PostgreSQL all as Pods - and the end-to-end suite tests/e2e
# (install, key, REST flow, kubectl build, helm test, preview, CRD upgrade, helm upgrade
# with runs in flight, uninstall, a second install from a registry with its own names and
# the CRDs as templates). Extra arguments go to pytest. The images are built once and cached:
#   - images/Dockerfile built with buildah from a fresh clone of HEAD (scripts/image.sh
#     build-clone, make image's recipe), imported into the node under the chart's default
#     name, and pushed to a registry on loopback (make image-push) for the second install;
#   - scripts/build-images.sh's prazium (this checkout's code: the upgrade's new tag),
#     pause and postgres.
#   - With `make up` running, its cluster and node are used: its host operator and API
#     are stopped for the run (they would act on the same objects as the chart's
#     operator) and started again afterwards; the release goes to its own namespace,
#     and everything the run made is removed at the end.
#   - Otherwise a throw-away cluster and node (state in .dev/helm-e2e, like make test's).
# Then, once that cluster is gone, the two-node tests on a test stack with two nodes
# (PRAZIUM_NODES=2 scripts/test.sh tests/integration/test_two_nodes.py); extra arguments
# go to the chart's suite only; PRAZIUM_E2E_TWO_NODES=0 leaves the second phase out.
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
FULL=$RELEASE  # the release's name holds the chart's: prazium-api, prazium-db, ...
# The second install: its own namespace, release and names (fullnameOverride).
SHARED_NAMESPACE=prazium-shared
SHARED_RELEASE=e2e-shared
SHARED_FULL=pz-shared
# The bundled PostgreSQL's Service address: the node has no cluster DNS, so the
# chart's DSN names this fixed ClusterIP (cluster.sh's service range 10.0.0.0/24,
# in its band for static addresses); likewise the egress proxy's, which workers get,
# and the second install's database.
DB_CLUSTER_IP=10.0.0.10
EGRESS_CLUSTER_IP=10.0.0.11
SHARED_DB_CLUSTER_IP=10.0.0.12
KUBECONFIG_FILE=$DEV_DIR/kubeconfig
VOLUMES=$DEV_DIR/helm-e2e-volumes
REGISTRY_DIR=$CACHE_DIR/helm-e2e-registry-$(echo "$DEV_DIR" | sha256sum | cut -c1-8)
REGISTRY_PID=$REGISTRY_DIR/registry.pid
kubectl() { "$DEV_DIR/bin/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

teardown() {
  if [ "$MODE" = up ]; then
    # What the run made in make up's cluster, then make up's host processes again.
    "$DEV_DIR/bin/helm" --kubeconfig "$KUBECONFIG_FILE" uninstall "$RELEASE" -n "$NAMESPACE" \
      --wait >/dev/null 2>&1 || true
    "$DEV_DIR/bin/helm" --kubeconfig "$KUBECONFIG_FILE" uninstall "$SHARED_RELEASE" \
      -n "$SHARED_NAMESPACE" --wait >/dev/null 2>&1 || true
    # The tenants' Projects carry the operator's finalizer: make up's operator, started
    # again below, completes their deletion.
    kubectl delete namespace "$NAMESPACE" "$SHARED_NAMESPACE" e2e-team e2e-kubectl \
      --ignore-not-found --wait=false >/dev/null 2>&1 || true
    kubectl delete pv e2e-repos e2e-db e2e-shared-repos e2e-shared-db --ignore-not-found \
      --wait=false >/dev/null 2>&1 || true
    # The CRDs the second install adopted go back to crds/'s state (no release's).
    kubectl label crd projects.prazium.io runs.prazium.io tasks.prazium.io \
      app.kubernetes.io/managed-by- app.kubernetes.io/instance- >/dev/null 2>&1 || true
    kubectl annotate crd projects.prazium.io runs.prazium.io tasks.prazium.io \
      meta.helm.sh/release-name- meta.helm.sh/release-namespace- \
      helm.sh/resource-policy- >/dev/null 2>&1 || true
    rm -rf "$VOLUMES"
    EXECUTOR=$(cut -d' ' -f1 "$DEV_DIR/run/executor" 2>/dev/null || echo kubernetes) \
      "$PRAZIUM_ROOT/scripts/stack.sh" up >/dev/null 2>&1 \
      || say "make up's operator and API did not restart: run make up"
  else
    "$PRAZIUM_ROOT/scripts/node.sh" stop || true
    "$PRAZIUM_ROOT/scripts/cluster.sh" stop || true
    rm -rf "$DEV_DIR"
  fi
  stop_pidfile registry "$REGISTRY_PID"
  rm -rf "$REGISTRY_DIR"
}
[ "$MODE" = own ] && teardown >/dev/null 2>&1  # leftovers of an interrupted run
trap teardown EXIT
t0=$SECONDS
if [ "$MODE" = up ]; then
  say "using make up's cluster; its host operator and API stop for the run"
  stop_pidfile api "$DEV_DIR/run/api.pid"
  stop_pidfile operator "$DEV_DIR/run/operator.pid"
  for ns in "$NAMESPACE" "$SHARED_NAMESPACE" e2e-team e2e-kubectl; do  # leftovers of an earlier run
    if kubectl get namespace "$ns" >/dev/null 2>&1; then
      die "namespace $ns is left from an earlier run: wait until make up's operator has deleted it (kubectl get ns $ns), then run again"
    fi
  done
  kubectl delete pv e2e-repos e2e-db e2e-shared-repos e2e-shared-db --ignore-not-found >/dev/null
  rm -rf "$VOLUMES"
else
  "$PRAZIUM_ROOT/scripts/setup.sh"
fi
# The image a clean clone builds (make image's recipe), under the chart's default name.
t_image=$SECONDS
release_archive=$("$PRAZIUM_ROOT/scripts/image.sh" build-clone)
release_image=$("$PRAZIUM_ROOT/scripts/image.sh" name)
say "the image from a fresh clone: $release_image ($(du -m "$release_archive" | cut -f1) MB OCI archive, $((SECONDS - t_image)) s)"
prazium_image=$("$PRAZIUM_ROOT/scripts/build-images.sh" prazium)
postgres_image=$("$PRAZIUM_ROOT/scripts/build-images.sh" postgres)
"$PRAZIUM_ROOT/scripts/build-helm.sh"
# A registry on loopback (CNCF Distribution, filesystem storage, no TLS) and the image
# pushed to it the way make image-push does; the node's containerd pulls from loopback
# registries over plain HTTP.
registry_bin=$("$PRAZIUM_ROOT/scripts/build-registry.sh")
stop_pidfile registry "$REGISTRY_PID"
rm -rf "$REGISTRY_DIR"; mkdir -p "$REGISTRY_DIR"
registry_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$REGISTRY_DIR/config.yml" <<YAML
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $REGISTRY_DIR/data}}
http: {addr: "127.0.0.1:$registry_port"}
YAML
start_bg registry "$REGISTRY_DIR/registry.log" "$REGISTRY_PID" "$registry_bin" serve "$REGISTRY_DIR/config.yml"
wait_until registry 30 "$REGISTRY_PID" "$REGISTRY_DIR/registry.log" \
  curl -fsS "http://127.0.0.1:$registry_port/v2/"
REGISTRY=127.0.0.1:$registry_port/e2e
IMAGE_ARCHIVE=$release_archive TLS_VERIFY=false "$PRAZIUM_ROOT/scripts/image.sh" push "$REGISTRY" >/dev/null
if [ "$MODE" = own ]; then
  "$PRAZIUM_ROOT/scripts/cluster.sh" start
  "$PRAZIUM_ROOT/scripts/node.sh" start
fi
pid_alive "$DEV_DIR/node/kube-proxy.pid" || die "another local stack's kube-proxy owns this \
machine's Service rules (see /run/prazium-kube-proxy.owner); the chart's Services need this \
stack's own: stop that stack (make down, or let make test finish) and run make helm-e2e again"
"$PRAZIUM_ROOT/scripts/build-images.sh" import "$DEV_DIR/node/containerd/containerd.sock" prazium postgres
# The fresh clone's archive under the chart's default name (what make image hands a node).
ctr --address "$DEV_DIR/node/containerd/containerd.sock" -n k8s.io images import \
  "$release_archive" >/dev/null || die "importing $release_archive into containerd failed"
ctr --address "$DEV_DIR/node/containerd/containerd.sock" -n k8s.io images check \
  "name==$release_image" | grep -q complete \
  || die "containerd does not hold $release_image after importing $release_archive"
# Its manifest's and its configuration's digests: the kubelet reports an imported image
# by the latter (a pulled one by <repository>@<manifest digest>).
release_digest=$(ctr --address "$DEV_DIR/node/containerd/containerd.sock" -n k8s.io images ls \
  "name==$release_image" | awk 'NR==2 {print $3}')
release_config=$(python3 - "$release_archive" <<'PY'
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as archive:
    def blob(digest):
        return json.load(archive.extractfile("blobs/" + digest.replace(":", "/")))
    [manifest] = json.load(archive.extractfile("index.json"))["manifests"]
    print(blob(manifest["digest"])["config"]["digest"])
PY
)

# Volumes: the node has no provisioner, so hostPath PersistentVolumes are made for
# the chart's two claims, each reserved for its claim (claimRef).
mkdir -p "$VOLUMES/repos" "$VOLUMES/db" "$VOLUMES/shared-repos" "$VOLUMES/shared-db"
chown 10001:10001 "$VOLUMES/repos" "$VOLUMES/shared-repos"  # operator, API, workers (uid 10001)
chown 999:999 "$VOLUMES/db" "$VOLUMES/shared-db"            # PostgreSQL (uid 999)
chmod 0700 "$VOLUMES/db" "$VOLUMES/shared-db"
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
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: e2e-shared-repos}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: "$VOLUMES/shared-repos", type: Directory}
  claimRef: {namespace: $SHARED_NAMESPACE, name: $SHARED_FULL-repos}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: e2e-shared-db}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: "$VOLUMES/shared-db", type: Directory}
  claimRef: {namespace: $SHARED_NAMESPACE, name: data-$SHARED_FULL-db-0}
YAML

# The values the README's Helm section gives for the local node: the chart's default
# image (make image's, imported above), no image value at all.
cat >"$VOLUMES/values-local.yaml" <<YAML
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
  PRAZIUM_E2E_NODE_ADDRESS=127.0.0.1 \
  PRAZIUM_E2E_IMAGE=$release_image PRAZIUM_E2E_IMAGE_DIGEST=$release_digest \
  PRAZIUM_E2E_IMAGE_CONFIG=$release_config \
  PRAZIUM_E2E_UPGRADE_IMAGE=$prazium_image PRAZIUM_E2E_REGISTRY=$REGISTRY \
  PRAZIUM_E2E_SHARED_NAMESPACE=$SHARED_NAMESPACE PRAZIUM_E2E_SHARED_RELEASE=$SHARED_RELEASE \
  PRAZIUM_E2E_SHARED_FULLNAME=$SHARED_FULL PRAZIUM_E2E_SHARED_DB_IP=$SHARED_DB_CLUSTER_IP
cd "$PRAZIUM_ROOT"
t1=$SECONDS
status=0
"$PRAZIUM_PYTHON" -m pytest tests/e2e -v -p no:cacheprovider "$@" || status=$?
say "helm e2e suite: $((SECONDS - t1)) s (whole run $((SECONDS - t0)) s)"
if [ "$status" != 0 ]; then
  kubectl get pods -A -o wide >&2 || true
  for ns in "$NAMESPACE" "$SHARED_NAMESPACE"; do
    for c in api operator database test; do
      kubectl -n "$ns" logs -l "app.kubernetes.io/component=$c" --tail=40 --all-containers >&2 || true
    done
  done
fi

# The second phase: the two-node tests (tests/integration/test_two_nodes.py: tasks
# spread over both nodes, a node crashed mid-task, a drain held by a
# PodDisruptionBudget) on make test's kind of stack started with a second node. They
# take 6 minutes and more, too long for make test, which skips them. The chart's cluster
# goes first: one stack's node at a time owns this machine's kube-proxy rules.
# PRAZIUM_E2E_TWO_NODES=0 leaves this phase out.
trap - EXIT
teardown
if [ "${PRAZIUM_E2E_TWO_NODES:-1}" != 0 ]; then
  t2=$SECONDS
  two_nodes=0
  PRAZIUM_NODES=2 "$PRAZIUM_ROOT/scripts/test.sh" tests/integration/test_two_nodes.py -v -rP \
    -p no:cacheprovider || two_nodes=$?
  say "two-node tests: $((SECONDS - t2)) s, exit $two_nodes (whole run $((SECONDS - t0)) s)"
  [ "$status" != 0 ] || status=$two_nodes
fi
exit "$status"

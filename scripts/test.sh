#!/usr/bin/env bash
# `make test`: a throw-away control plane, node and PostgreSQL on free ports (state
# in .dev/test, apart from a running `make up`; its own bridge, pod CIDR and
# cgroup root), the whole pytest suite, then teardown. Extra arguments go to pytest.
# PRAZIUM_NODE=0: no node (tests that run worker Pods then fail, saying so).
# PRAZIUM_NODES=2: a second node from the start; the two-node tests
# (tests/integration/test_two_nodes.py, which make helm-e2e runs) need it and skip
# without it.
# PRAZIUM_RUNTIME=runc: worker and verification Pods under runc instead of gVisor.
set -euo pipefail
export PRAZIUM_DEV_DIR=${PRAZIUM_TEST_DEV_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.dev/test}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export PRAZIUM_APISERVER_PORT=$(free_port) PRAZIUM_ETCD_PORT=$(free_port) \
  PRAZIUM_ETCD_PEER_PORT=$(free_port) PRAZIUM_CM_PORT=$(free_port) PRAZIUM_PG_PORT=$(free_port)
export PRAZIUM_SCHEDULER_PORT=$(free_port) PRAZIUM_KUBELET_PORT=$(free_port) \
  PRAZIUM_KUBELET_HEALTHZ_PORT=$(free_port) PRAZIUM_PROXY_HEALTHZ_PORT=$(free_port) \
  PRAZIUM_PROXY_METRICS_PORT=$(free_port) PRAZIUM_EGRESS_PORT=$(free_port)
export PRAZIUM_KUBELET_2_PORT=$(free_port) PRAZIUM_KUBELET_2_HEALTHZ_PORT=$(free_port)
# A pod CIDR of its own (make up uses 10.244.0.0/24), one per checkout.
export PRAZIUM_POD_CIDR=${PRAZIUM_TEST_POD_CIDR:-10.245.$(( 0x$(echo "$PRAZIUM_DEV_DIR" | sha256sum | cut -c1-2) )).0/24}
NODE=${PRAZIUM_NODE:-1}
. "$(dirname "$0")/lib.sh"

teardown() {
  "$PRAZIUM_ROOT/scripts/node.sh" stop || true
  "$PRAZIUM_ROOT/scripts/postgres.sh" purge || true
  "$PRAZIUM_ROOT/scripts/cluster.sh" stop || true
  rm -rf "$DEV_DIR"
}
teardown >/dev/null 2>&1  # leftovers of an interrupted run
trap teardown EXIT
"$PRAZIUM_ROOT/scripts/setup.sh"
"$PRAZIUM_ROOT/scripts/lint.sh"  # a lint failure fails the run before any service starts

t0=$SECONDS
"$PRAZIUM_ROOT/scripts/cluster.sh" start
"$PRAZIUM_ROOT/scripts/postgres.sh" start
install_crds "$DEV_DIR/kubeconfig"
if [ "$NODE" = 1 ]; then
  "$PRAZIUM_ROOT/scripts/node.sh" start
  # Tests make their own job namespaces and volumes (tests/support/node.py).
  while IFS='=' read -r key value; do
    export "PRAZIUM_TEST_${key#PRAZIUM_}=$value"
  done < <("$PRAZIUM_ROOT/scripts/node.sh" env)
  export PRAZIUM_TEST_NODE_SCRIPT=$PRAZIUM_ROOT/scripts/node.sh
fi
say "test stack ready in $((SECONDS - t0)) s"

export PRAZIUM_TEST_KUBECONFIG=$DEV_DIR/kubeconfig
PRAZIUM_TEST_DATABASE_URL=$("$PRAZIUM_ROOT/scripts/postgres.sh" dsn)
export PRAZIUM_TEST_DATABASE_URL
export PRAZIUM_TEST_KUBECTL=$DEV_DIR/bin/kubectl PRAZIUM_TEST_HELM=$DEV_DIR/bin/helm
cd "$PRAZIUM_ROOT"
"$PRAZIUM_PYTHON" -m pytest "$@"

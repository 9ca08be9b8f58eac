#!/usr/bin/env bash
# `make up` / `make down`: the whole local stack - control plane, PostgreSQL, the
# node (containerd, kubelet, kube-proxy), the operator and the API on 127.0.0.1:3001.
# The operator runs every task as a Job on the node (PRAZIUM_EXECUTOR=kubernetes), its
# worker and verification Pods under gVisor (RUNTIME=runc: under runc), reaching the
# network only through the operator's egress proxy; EXECUTOR=local runs them as its
# child processes instead (no node: for machines without root or containerd).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUN=$DEV_DIR/run
KUBECONFIG_FILE=$DEV_DIR/kubeconfig
API_URL=http://127.0.0.1:$PRAZIUM_API_PORT
EXECUTOR=${EXECUTOR:-kubernetes}
JOB_NAMESPACE=prazium-system

service_env() {
  export PRAZIUM_KUBECONFIG=$KUBECONFIG_FILE
  PRAZIUM_DATABASE_URL=$("$PRAZIUM_ROOT/scripts/postgres.sh" dsn)
  export PRAZIUM_DATABASE_URL
  export PRAZIUM_DATA_DIR=$DEV_DIR/data
  export PRAZIUM_PORT=$PRAZIUM_API_PORT
  export PRAZIUM_EXECUTOR=$EXECUTOR
  if [ "$EXECUTOR" = kubernetes ]; then
    export PRAZIUM_JOB_NAMESPACE=$JOB_NAMESPACE PRAZIUM_WORKER_SERVICE_ACCOUNT=prazium-worker
    export PRAZIUM_WORKER_IMAGE_PULL_POLICY=Never
    # The worker image, its RuntimeClass, the egress proxy's addresses and whether Pods
    # wait for their NetworkPolicy (kube-router of this stack enforcing it), as the node has them.
    local line
    while IFS= read -r line; do
      case $line in
        PRAZIUM_WORKER_IMAGE=*|PRAZIUM_WORKER_RUNTIME_CLASS=*|PRAZIUM_EGRESS_PROXY_*=*|PRAZIUM_WORKER_POLICY_GATE=*) export "${line?}" ;;
      esac
    done < <("$PRAZIUM_ROOT/scripts/node.sh" env)
    # Previews on the node: the local image (it has Python; no registry to pull
    # python:3.11-slim from), reached from the host on a NodePort through kube-proxy,
    # their data in a directory each under the data dir (no provisioner here).
    export PRAZIUM_DEPLOY_IMAGE=$PRAZIUM_WORKER_IMAGE PRAZIUM_DEPLOY_SERVICE_TYPE=NodePort
    export PRAZIUM_DEPLOY_URL_TEMPLATE='http://127.0.0.1:{nodePort}' PRAZIUM_DEPLOY_DATA=host
  fi
}

api_healthy() { curl -fsS --max-time 5 "$API_URL/v1/health"; }

up() {
  local t0=$SECONDS
  case $EXECUTOR in kubernetes|local) ;; *) die "EXECUTOR must be kubernetes or local" ;; esac
  # The fallback needs none of the node's packages or images (nor root for them).
  if [ "$EXECUTOR" = local ]; then
    PRAZIUM_NODE=0 "$PRAZIUM_ROOT/scripts/setup.sh"
  else
    "$PRAZIUM_ROOT/scripts/setup.sh"
  fi
  "$PRAZIUM_ROOT/scripts/cluster.sh" start
  "$PRAZIUM_ROOT/scripts/postgres.sh" start
  if [ "$EXECUTOR" = kubernetes ]; then
    "$PRAZIUM_ROOT/scripts/node.sh" start
    "$PRAZIUM_ROOT/scripts/node.sh" workload "$JOB_NAMESPACE" "$DEV_DIR/data"
  fi
  say "installing the CRDs"
  install_crds "$KUBECONFIG_FILE"
  service_env
  mkdir -p "$PRAZIUM_DATA_DIR" "$RUN"
  # An operator started with the other executor or an older worker image: restart it.
  local flavour="$EXECUTOR ${PRAZIUM_WORKER_IMAGE:-} ${PRAZIUM_WORKER_RUNTIME_CLASS:-runc}"
  if pid_alive "$RUN/operator.pid" && [ "$(cat "$RUN/executor" 2>/dev/null)" != "$flavour" ]; then
    stop_pidfile operator "$RUN/operator.pid"
  fi
  echo "$flavour" >"$RUN/executor"
  if ! pid_alive "$RUN/operator.pid"; then
    start_bg operator "$RUN/operator.log" "$RUN/operator.pid" "$PRAZIUM_PYTHON" -m prazium_operator
  fi
  if ! pid_alive "$RUN/api.pid"; then
    require_port "$PRAZIUM_API_PORT" "the API"
    start_bg api "$RUN/api.log" "$RUN/api.pid" "$PRAZIUM_PYTHON" -m prazium_api
  fi
  wait_until "the API" 60 "$RUN/api.pid" "$RUN/api.log" api_healthy
  # The operator reports through its heartbeat; health is 200 only when it beats.
  pid_alive "$RUN/operator.pid" || { tail -n 30 "$RUN/operator.log" >&2; die "the operator exited"; }
  cat <<MSG

Prazium is up in $((SECONDS - t0)) s (executor: $EXECUTOR$([ "$EXECUTOR" = kubernetes ] && echo ", workers under ${PRAZIUM_WORKER_RUNTIME_CLASS:-runc}")).
  API          $API_URL   (try: curl -s $API_URL/v1/health)
  kubeconfig   ${KUBECONFIG_FILE#"$PRAZIUM_ROOT"/}   (try: .dev/bin/kubectl --kubeconfig .dev/kubeconfig get prazium -A)
  logs         ${RUN#"$PRAZIUM_ROOT"/}/{operator,api}.log, .dev/cluster/logs/, .dev/node/logs/, .dev/postgres/postgres.log
  stop         make down
MSG
}

down() {
  stop_pidfile api "$RUN/api.pid"
  stop_pidfile operator "$RUN/operator.pid"
  # The node before the control plane: its Pods are deleted through the apiserver.
  "$PRAZIUM_ROOT/scripts/node.sh" stop
  "$PRAZIUM_ROOT/scripts/postgres.sh" stop
  "$PRAZIUM_ROOT/scripts/cluster.sh" stop
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac

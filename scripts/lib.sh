# Shared helpers for Prazium's dev scripts. Source it; do not run it.
# shellcheck shell=bash

PRAZIUM_ROOT=${PRAZIUM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# All runtime state lives here (git-ignored); the test suite uses its own.
DEV_DIR=${PRAZIUM_DEV_DIR:-$PRAZIUM_ROOT/.dev}
CACHE_DIR=${PRAZIUM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/prazium}
mkdir -p "$DEV_DIR"
DEV_DIR=$(cd "$DEV_DIR" && pwd)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# port_free PORT: true when nothing listens on 127.0.0.1:PORT.
port_free() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

require_port() { # require_port PORT WHAT
  port_free "$1" || die "port $1 (for $2) is already in use on 127.0.0.1; stop what holds it (make down) or choose another port"
}

# pid_alive PIDFILE: true when the pid in PIDFILE names a running process.
pid_alive() {
  [ -f "$1" ] || return 1
  local pid; pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# start_bg NAME LOGFILE PIDFILE CMD...: start CMD in its own session (so its
# whole process group can be signalled), detached from the terminal.
start_bg() {
  local name=$1 log=$2 pidfile=$3; shift 3
  mkdir -p "$(dirname "$log")" "$(dirname "$pidfile")"
  setsid "$@" >>"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  say "started $name (pid $!, log ${log#"$PRAZIUM_ROOT"/})"
}

# stop_pidfile NAME PIDFILE: TERM the process group, KILL after 15 s; idempotent.
stop_pidfile() {
  local name=$1 pidfile=$2 pid i
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name did not stop in 15 s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    say "stopped $name"
  fi
  # Children that left the group (none expected) are still ours: end them too.
  pkill -KILL -g "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# wait_until WHAT TIMEOUT PIDFILE LOG CMD...: poll CMD until it succeeds; fail
# at once, with the log's tail, if the process behind PIDFILE dies meanwhile.
wait_until() {
  local what=$1 timeout=$2 pidfile=$3 log=$4; shift 4
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ -n "$pidfile" ] && ! pid_alive "$pidfile"; then
      printf 'error: %s exited while starting; last lines of %s:\n' "$what" "$log" >&2
      tail -n 30 "$log" >&2 || true
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      printf 'error: %s not ready after %s s; last lines of %s:\n' "$what" "$timeout" "$log" >&2
      tail -n 30 "$log" >&2 || true
      exit 1
    fi
    sleep 0.3
  done
}

# Ports: fixed defaults for `make up`; the test suite exports its own.
: "${PRAZIUM_APISERVER_PORT:=6443}"
: "${PRAZIUM_ETCD_PORT:=2379}"
: "${PRAZIUM_ETCD_PEER_PORT:=2380}"
: "${PRAZIUM_CM_PORT:=10257}"
: "${PRAZIUM_PG_PORT:=5433}"
: "${PRAZIUM_API_PORT:=3001}"
: "${PRAZIUM_SCHEDULER_PORT:=10259}"
: "${PRAZIUM_KUBELET_PORT:=10250}"
: "${PRAZIUM_KUBELET_HEALTHZ_PORT:=10248}"
: "${PRAZIUM_PROXY_HEALTHZ_PORT:=10256}"
: "${PRAZIUM_PROXY_METRICS_PORT:=10249}"
# The second node's kubelet (PRAZIUM_NODES=2), on the first one's address.
: "${PRAZIUM_KUBELET_2_PORT:=10350}"
: "${PRAZIUM_KUBELET_2_HEALTHZ_PORT:=10348}"
# The operator's egress proxy, on the node's bridge address (worker Pods' one way out).
: "${PRAZIUM_EGRESS_PORT:=3128}"
export PRAZIUM_APISERVER_PORT PRAZIUM_ETCD_PORT PRAZIUM_ETCD_PEER_PORT PRAZIUM_CM_PORT PRAZIUM_PG_PORT PRAZIUM_API_PORT
export PRAZIUM_SCHEDULER_PORT PRAZIUM_KUBELET_PORT PRAZIUM_KUBELET_HEALTHZ_PORT PRAZIUM_PROXY_HEALTHZ_PORT PRAZIUM_PROXY_METRICS_PORT
export PRAZIUM_KUBELET_2_PORT PRAZIUM_KUBELET_2_HEALTHZ_PORT
export PRAZIUM_EGRESS_PORT

# The node's containerd 2, runsc and kube-router (scripts/build-node.sh links them
# here) come before the machine's own (Debian's containerd 1.6, say).
if [ -d "$DEV_DIR/bin/node" ]; then
  PATH=$DEV_DIR/bin/node:$PATH
  export PATH
fi

# The Python environment: the checkout's own .venv (scripts/venv.sh makes it) with
# the locked dependencies and this project installed in editable mode, so its
# packages and console scripts are found like any installed package's.
PRAZIUM_PYTHON=$PRAZIUM_ROOT/.venv/bin/python
export PRAZIUM_PYTHON

# install_crds KUBECONFIG: apply crds/, wait until they are served, then refresh
# kubectl's discovery cache (~/.kube/cache/discovery, kept for minutes): a cache
# taken before the CRDs existed makes `kubectl get prazium -A` (the category) fail
# with "the server doesn't have a resource type" although the CRDs are there.
# `kubectl api-resources` (without --cached) invalidates and rewrites that cache.
install_crds() {
  local kubectl=$DEV_DIR/bin/kubectl kubeconfig=$1
  "$kubectl" --kubeconfig "$kubeconfig" apply --server-side --force-conflicts -f "$PRAZIUM_ROOT/crds/" >/dev/null
  "$kubectl" --kubeconfig "$kubeconfig" wait --for=condition=Established \
    crd/projects.prazium.io crd/runs.prazium.io crd/tasks.prazium.io --timeout=60s >/dev/null
  for _ in $(seq 1 50); do
    if [ "$("$kubectl" --kubeconfig "$kubeconfig" api-resources --api-group=prazium.io -o name 2>/dev/null | wc -l)" -ge 3 ]; then
      return 0
    fi
    sleep 0.2
  done
  die "the prazium.io resources did not appear in discovery"
}

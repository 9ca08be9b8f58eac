#!/usr/bin/env bash
# The local Kubernetes control plane: embedded etcd, kube-apiserver (Node and RBAC
# authorization), kube-controller-manager and kube-scheduler, on loopback, with
# generated certificates. The node (kubelet, containerd, kube-proxy) is node.sh's.
#   cluster.sh start   build if needed, start, wait for /readyz, write kubeconfig
#   cluster.sh stop    stop all three; safe to run twice or after a crash
#   cluster.sh status  exit 0 when the apiserver answers /readyz
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CL=$DEV_DIR/cluster
PKI=$CL/pki
BIN=$DEV_DIR/bin/prazium-cluster
KUBECONFIG_OUT=$DEV_DIR/kubeconfig
SERVER=https://127.0.0.1:$PRAZIUM_APISERVER_PORT

gen_pki() {
  [ -f "$PKI/.complete" ] && [ -f "$PKI/apiserver-kubelet-client.crt" ] && return 0
  say "generating certificates and service-account keys"
  rm -rf "$PKI"; mkdir -p "$PKI"; chmod 700 "$PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=prazium-local-ca" \
      -keyout ca.key -out ca.crt 2>/dev/null
    # sign NAME SUBJECT [SAN]: a key and a CA-signed certificate.
    sign() {
      local ext
      ext=$(mktemp)
      printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n' >"$ext"
      if [ -n "${3:-}" ]; then
        printf 'extendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$3" >>"$ext"
      else
        printf 'extendedKeyUsage=clientAuth\n' >>"$ext"
      fi
      openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$ext"
    }
    sign apiserver "/CN=kube-apiserver" \
      "IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    sign admin "/O=system:masters/CN=prazium-admin"
    sign controller-manager "/CN=system:kube-controller-manager"
    sign scheduler "/CN=system:kube-scheduler"
    # The apiserver's client identity towards kubelets (logs, exec, port-forward).
    sign apiserver-kubelet-client "/O=prazium:kubelet-api/CN=kube-apiserver-kubelet-client"
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    touch .complete
  )
}

write_kubeconfig() { # write_kubeconfig FILE CERTNAME USER
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: prazium-local
  cluster:
    server: $SERVER
    certificate-authority: $PKI/ca.crt
users:
- name: $3
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: prazium-local
  context: {cluster: prazium-local, user: $3, namespace: default}
current-context: prazium-local
KC
  chmod 600 "$1"
}

readyz() {
  curl -fsS --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "$SERVER/readyz"
}

cm_healthz() {
  curl -fsSk --max-time 2 "https://127.0.0.1:$PRAZIUM_CM_PORT/healthz"
}

scheduler_healthz() {
  curl -fsSk --max-time 2 "https://127.0.0.1:$PRAZIUM_SCHEDULER_PORT/healthz"
}

start() {
  if pid_alive "$CL/apiserver.pid" && readyz >/dev/null 2>&1; then
    say "control plane already running at $SERVER"
    return 0
  fi
  stop_all quiet  # leftovers of a crashed start
  "$PRAZIUM_ROOT/scripts/build-cluster.sh"
  command -v openssl >/dev/null || die "openssl is needed to generate the control plane's certificates"
  command -v curl >/dev/null || die "curl is needed to probe the control plane"
  require_port "$PRAZIUM_ETCD_PORT" etcd
  require_port "$PRAZIUM_ETCD_PEER_PORT" "etcd peer"
  require_port "$PRAZIUM_APISERVER_PORT" kube-apiserver
  require_port "$PRAZIUM_CM_PORT" kube-controller-manager
  require_port "$PRAZIUM_SCHEDULER_PORT" kube-scheduler
  gen_pki
  mkdir -p "$CL/etcd" "$CL/logs"
  local t0=$SECONDS

  start_bg etcd "$CL/logs/etcd.log" "$CL/etcd.pid" "$BIN" etcd \
    --data-dir "$CL/etcd" \
    --listen-client-url "http://127.0.0.1:$PRAZIUM_ETCD_PORT" \
    --listen-peer-url "http://127.0.0.1:$PRAZIUM_ETCD_PEER_PORT"
  wait_until etcd 60 "$CL/etcd.pid" "$CL/logs/etcd.log" \
    curl -fsS --max-time 2 "http://127.0.0.1:$PRAZIUM_ETCD_PORT/health"

  start_bg kube-apiserver "$CL/logs/apiserver.log" "$CL/apiserver.pid" "$BIN" kube-apiserver \
    --etcd-servers "http://127.0.0.1:$PRAZIUM_ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --secure-port "$PRAZIUM_APISERVER_PORT" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" \
    --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --allow-privileged=false \
    --profiling=false \
    --v=1
  wait_until kube-apiserver 120 "$CL/apiserver.pid" "$CL/logs/apiserver.log" readyz

  write_kubeconfig "$CL/controller-manager.kubeconfig" controller-manager system:kube-controller-manager
  start_bg kube-controller-manager "$CL/logs/controller-manager.log" "$CL/controller-manager.pid" \
    "$BIN" kube-controller-manager \
    --kubeconfig "$CL/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$CL/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$CL/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$PRAZIUM_CM_PORT" \
    --service-account-private-key-file "$PKI/sa.key" \
    --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --use-service-account-credentials=true \
    --leader-elect=false \
    --v=1
  wait_until kube-controller-manager 60 "$CL/controller-manager.pid" \
    "$CL/logs/controller-manager.log" cm_healthz

  write_kubeconfig "$CL/scheduler.kubeconfig" scheduler system:kube-scheduler
  start_bg kube-scheduler "$CL/logs/scheduler.log" "$CL/scheduler.pid" "$BIN" kube-scheduler \
    --kubeconfig "$CL/scheduler.kubeconfig" \
    --authentication-kubeconfig "$CL/scheduler.kubeconfig" \
    --authorization-kubeconfig "$CL/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$PRAZIUM_SCHEDULER_PORT" \
    --leader-elect=false \
    --v=1
  wait_until kube-scheduler 60 "$CL/scheduler.pid" "$CL/logs/scheduler.log" scheduler_healthz

  write_kubeconfig "$KUBECONFIG_OUT" admin prazium-admin
  # The apiserver may use the kubelet API (logs, exec) as the node's webhook allows.
  "$DEV_DIR/bin/kubectl" --kubeconfig "$KUBECONFIG_OUT" create clusterrolebinding \
    prazium:kubelet-api-admin --clusterrole system:kubelet-api-admin \
    --user kube-apiserver-kubelet-client >/dev/null 2>&1 || true
  say "control plane ready at $SERVER in $((SECONDS - t0)) s (kubeconfig ${KUBECONFIG_OUT#"$PRAZIUM_ROOT"/})"
}

stop_all() {
  stop_pidfile kube-scheduler "$CL/scheduler.pid"
  stop_pidfile kube-controller-manager "$CL/controller-manager.pid"
  stop_pidfile kube-apiserver "$CL/apiserver.pid"
  stop_pidfile etcd "$CL/etcd.pid"
}

case "${1:-}" in
  start) start ;;
  stop) stop_all ;;
  status) readyz >/dev/null 2>&1 && echo "control plane: ready at $SERVER" || { echo "control plane: not running"; exit 1; } ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The local node: containerd 2 with runc and gVisor's runsc (own config, root, state and
# socket under .dev), kubelet and kube-proxy (iptables mode), kube-router's
# NetworkPolicy firewall, with bridge + host-local CNI on a pod CIDR of this stack.
# PRAZIUM_NODES=2: a second node on the same machine beside it (see "The second node").
# Needs root (it creates a bridge, network namespaces, cgroups, iptables rules).
#   node.sh start    start them all, import the images, wait until the Node is Ready
#                    (and the second node with PRAZIUM_NODES=2)
#   node.sh stop     stop them and remove what they leave (pods' containers, mounts under
#                    the kubelet's root, network namespaces, the bridge, iptables rules
#                    and ipsets); the second node too, if it runs
#   node.sh add      start the second node only (the first must run)
#   node.sh remove   stop the second node, clean up, delete its Node object
#   node.sh crash    kill the second node as a crashed machine would die: its kubelet,
#                    containerd, shims and every process of its Pods, at once (SIGKILL),
#                    nothing cleaned up and nothing told to the apiserver
#   node.sh status   exit 0 when the Node is Ready
#   node.sh env      print the settings the stack gives the operator (image, runtime,
#                    egress proxy, the network policy gate)
# What Pods reach of this machine: the host firewall (nftables table prazium-<stack
# id>) lets every Pod reach only the operator's egress proxy (on the bridge address)
# and the apiserver through its `kubernetes` Service (a DNAT rule to 127.0.0.1,
# route_localnet on the bridge), and refuses the rest: PostgreSQL, the kubelet, the
# operator's and the API's ports, anything listening on any address. The
# NetworkPolicies of a job namespace (workload) narrow worker Pods to the egress proxy
# and verification Pods to nothing, enforced by kube-router. The bridge address is
# also the Node's InternalIP (a node IP cannot be loopback): the kubelet listens
# there, and the apiserver reaches it there for logs and exec.
#
# The second node (prazium-node-2), on the same machine, is a node of its own where
# Kubernetes looks: its own containerd (config, root, state, socket under .dev/node2),
# kubelet (name, root dir, ports, certificates, cgroup root), bridge, pod CIDR
# (PRAZIUM_POD_CIDR_2; the bridge's connected route is the route to it) and host
# firewall table. What is machine-wide stays single: kube-proxy writes the machine's
# KUBE-* chains, which serve Pods on both bridges alike (a second one would fight
# over the same chains), and kube-router's firewall is one per machine for the same
# reason. So the second node's InternalIP is the first one's bridge address (its
# kubelet listens there, on its own port): kube-router enforces NetworkPolicies for
# the Pods whose hostIP is its node's, which are then the Pods of both nodes. The
# repo volume is a hostPath both kubelets mount: on one machine it stands in for the
# ReadWriteMany volume a real cluster's nodes share.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PKI=$DEV_DIR/cluster/pki
BIN=$DEV_DIR/bin/prazium-cluster
# One id per stack (make up, make test): names of host-wide things it creates.
STACK_ID=$(echo "$DEV_DIR" | sha256sum | cut -c1-6)
: "${PRAZIUM_POD_CIDR:=10.244.0.0/24}"
: "${PRAZIUM_NODES:=1}"
case $PRAZIUM_NODES in 1|2) ;; *) die "PRAZIUM_NODES (NODES) must be 1 or 2" ;; esac
# The first node's bridge address: both nodes' InternalIP, where the egress proxy listens.
HOST_ADDRESS=${PRAZIUM_POD_CIDR%.*/*}.1
# The second node's pod CIDR: by default the first one's with the second octet + 2
# (make up: 10.246.0.0/24; a test stack's 10.245.N.0/24: 10.247.N.0/24).
second_cidr() {
  local a b rest
  IFS=. read -r a b rest <<<"$PRAZIUM_POD_CIDR"
  echo "$a.$((b + 2)).$rest"
}
: "${PRAZIUM_POD_CIDR_2:=$(second_cidr)}"

# use_node 1|2: the settings of one node (the first one's are those of a single node).
use_node() {
  NODE_INDEX=$1
  if [ "$1" = 1 ]; then
    NODE=$DEV_DIR/node
    NODE_NAME=prazium-node
    BRIDGE=pz$STACK_ID
    CHAIN=PRAZIUM-$STACK_ID
    CGROUP_ROOT=/prazium-$STACK_ID
    POD_CIDR=$PRAZIUM_POD_CIDR
    FIREWALL=prazium-$STACK_ID
    KUBELET_PORT=$PRAZIUM_KUBELET_PORT
    KUBELET_HEALTHZ_PORT=$PRAZIUM_KUBELET_HEALTHZ_PORT
    KUBELET_CERT=kubelet
  else
    NODE=$DEV_DIR/node2
    NODE_NAME=prazium-node-2
    BRIDGE=pz${STACK_ID}n2
    CHAIN=PRAZIUM-$STACK_ID-N2
    CGROUP_ROOT=/prazium-$STACK_ID-n2
    POD_CIDR=$PRAZIUM_POD_CIDR_2
    FIREWALL=prazium-$STACK_ID-n2
    KUBELET_PORT=$PRAZIUM_KUBELET_2_PORT
    KUBELET_HEALTHZ_PORT=$PRAZIUM_KUBELET_2_HEALTHZ_PORT
    KUBELET_CERT=kubelet-2
  fi
  SOCK=$NODE/containerd/containerd.sock
  GATEWAY=${POD_CIDR%.*/*}.1
}
use_node 1
# The apiserver's own Service, `kubernetes` (the first address of cluster.sh's
# --service-cluster-ip-range), and kube-proxy's single owner.
KUBERNETES_SERVICE_IP=10.0.0.1
PROXY_LOCK=/run/prazium-kube-proxy.owner
# kube-router's NetworkPolicy chains and ipsets are machine-wide too: one owner.
ROUTER_LOCK=/run/prazium-kube-router.owner
# gvisor (the default): worker and verification Pods under runsc; runc: the fallback
# (both runtimes are registered either way; this picks the operator's RuntimeClass).
: "${PRAZIUM_RUNTIME:=gvisor}"
case $PRAZIUM_RUNTIME in gvisor|runc) ;; *) die "PRAZIUM_RUNTIME (RUNTIME) must be gvisor or runc" ;; esac

kubectl() { "$DEV_DIR/bin/kubectl" "$@"; }

need_root() {
  [ "$(id -u)" = 0 ] || die "the node needs root (bridge, network namespaces, cgroups, iptables);
  run as root, or use the node-less fallback: make up EXECUTOR=local"
  local tool
  for tool in containerd containerd-shim-runc-v2 containerd-shim-runsc-v1 runsc kube-router \
    runc ctr iptables ipset nft setfacl; do
    command -v "$tool" >/dev/null || die "$tool is missing: run make setup"
  done
  [ "$(command -v containerd)" = "$DEV_DIR/bin/node/containerd" ] \
    || die "containerd 2 is not linked in ${DEV_DIR}/bin/node: run make setup (scripts/build-node.sh)"
  [ -x /usr/lib/cni/bridge ] || die "the CNI plugins are missing: run make setup"
}

gen_node_pki() {
  local marker=.node-complete-$GATEWAY
  [ "$NODE_INDEX" = 1 ] || marker=.node$NODE_INDEX-complete-$HOST_ADDRESS
  [ -f "$PKI/$marker" ] && return 0
  say "generating the node's certificates"
  (
    cd "$PKI"
    sign() { # sign NAME SUBJECT EXTENDED_USAGE [SAN]
      local ext; ext=$(mktemp)
      printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n' "$3" >"$ext"
      [ -n "${4:-}" ] && printf 'subjectAltName=%s\n' "$4" >>"$ext"
      openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$ext"
    }
    # The kubelet: a client (the Node authorizer knows it by this name) and a server
    # the apiserver verifies when it proxies logs/exec.
    sign "$KUBELET_CERT" "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
    sign "$KUBELET_CERT-serving" "/CN=$NODE_NAME" serverAuth "IP:$HOST_ADDRESS,IP:127.0.0.1,DNS:$NODE_NAME"
    [ "$NODE_INDEX" = 1 ] && sign kube-proxy "/CN=system:kube-proxy" clientAuth
    touch "$marker"
  )
}

kubeconfig_for() { # kubeconfig_for FILE CERTNAME
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: prazium-local
  cluster: {server: "https://127.0.0.1:$PRAZIUM_APISERVER_PORT", certificate-authority: $PKI/ca.crt}
users:
- name: node
  user: {client-certificate: $PKI/$2.crt, client-key: $PKI/$2.key}
contexts:
- name: prazium-local
  context: {cluster: prazium-local, user: node}
current-context: prazium-local
KC
  chmod 600 "$1"
}

write_configs() {
  local pause=$1
  mkdir -p "$NODE"/{containerd,cni/net.d,cni/ipam,kubelet,logs}
  cat >"$NODE/containerd/config.toml" <<TOML
version = 2
root = "$NODE/containerd/root"
state = "$NODE/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause"
  # A negative oom_score_adj is refused on these machines, even for root: without
  # this every sandbox fails ("can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
    # gVisor (RuntimeClass gvisor): containerd finds containerd-shim-runsc-v1 on PATH.
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]
      runtime_type = "io.containerd.runsc.v1"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc.options]
        TypeUrl = "io.containerd.runsc.v1.options"
        ConfigPath = "$NODE/containerd/runsc.toml"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE/cni/net.d"
TOML
  # NRI listens on one machine-wide socket (/var/run/nri/nri.sock): the first node's.
  if [ "$NODE_INDEX" != 1 ]; then
    printf '[plugins."io.containerd.nri.v1.nri"]\n  disable = true\n' >>"$NODE/containerd/config.toml"
  fi
  # The shim's options: which runsc, its state, and runsc's own flags. systrap: the
  # platform that needs neither KVM nor ptrace rights (kvm fails on these machines).
  mkdir -p "$NODE/runsc"
  cat >"$NODE/containerd/runsc.toml" <<TOML
binary_name = "$(readlink -f "$(command -v runsc)")"
root = "$NODE/runsc"
[runsc_config]
  platform = "systrap"
TOML
  # No ipMasq: pods talk only to this machine's own addresses.
  cat >"$NODE/cni/net.d/10-prazium.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "prazium-$STACK_ID", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false,
   "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$NODE/cni/ipam",
            "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$GATEWAY"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}
]}
JSON
  kubeconfig_for "$NODE/kubelet.kubeconfig" "$KUBELET_CERT"
  [ "$NODE_INDEX" = 1 ] && kubeconfig_for "$NODE/kube-proxy.kubeconfig" kube-proxy
  cat >"$NODE/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 here, no systemd, swap allowed by the machine.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
failSwapOn: false
containerRuntimeEndpoint: unix://$SOCK
address: $HOST_ADDRESS
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $PKI/$KUBELET_CERT-serving.crt
tlsPrivateKeyFile: $PKI/$KUBELET_CERT-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
hairpinMode: hairpin-veth
podLogsDir: $NODE/pod-logs
# The images exist only here (no registry to pull them back from): never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%",
               nodefs.inodesFree: "2%"}
# Pod status reaches the apiserver sooner (the operator waits on it).
nodeStatusUpdateFrequency: 10s
syncFrequency: 10s
serializeImagePulls: false
maxPods: 50
YAML
  [ "$NODE_INDEX" = 1 ] || return 0  # one kube-proxy per machine: the first node's
  cat >"$NODE/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $NODE/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$PRAZIUM_PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$PRAZIUM_PROXY_METRICS_PORT
nodePortAddresses: [127.0.0.1/32]
# Leave the machine's conntrack settings alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
}

# Pods -> this machine's PostgreSQL and apiserver on 127.0.0.1, via the bridge address.
host_rules() {
  sysctl -qw net.ipv4.ip_forward=1
  # The bridge exists before the first Pod so its address can be used at once.
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  # A bridge whose address was never set takes the lowest of its ports' as they come
  # and go, so a new Pod's veth can change it under the Pods already running. Their
  # ARP caches keep the old address; their frames to the host (the egress proxy, the
  # apiserver) are then flooded to the other Pods instead, and a connection waits out
  # SYN retries until the entry expires (a worker's first model request stalled 30 to
  # 120 s under gVisor). Setting it, even to the address it has, pins it.
  ip link set "$BRIDGE" address "$(cat "/sys/class/net/$BRIDGE/address")"
  ip addr replace "$GATEWAY/${POD_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  sysctl -qw "net.ipv4.conf.$BRIDGE.route_localnet=1"
  iptables -t nat -N "$CHAIN" 2>/dev/null || iptables -t nat -F "$CHAIN"
  # The apiserver's `kubernetes` Service has no endpoints (a loopback address is not
  # published): Pods' in-cluster clients (the chart's operator and API) reach it here
  # instead. kube-proxy's nat rules have nothing for it, so this rule, later in
  # PREROUTING, takes it. PostgreSQL has no such rule: no Pod reaches this machine's.
  iptables -t nat -A "$CHAIN" -i "$BRIDGE" -s "$POD_CIDR" -d "$KUBERNETES_SERVICE_IP" -p tcp \
    --dport 443 -j DNAT --to-destination "127.0.0.1:$PRAZIUM_APISERVER_PORT"
  iptables -t nat -C PREROUTING -j "$CHAIN" 2>/dev/null || iptables -t nat -I PREROUTING -j "$CHAIN"
  host_firewall
}

# Pods -> this machine (whatever address they aim at: the bridge's, another interface's,
# 127.0.0.1 through a DNAT): only the egress proxy and the apiserver's Service, and
# replies to what the machine itself opened (the kubelet's probes, say); everything
# else is refused at once. A table of its own in nftables, hooked into input before
# iptables' filter table: kube-router's chains there ACCEPT a Pod's traffic its
# policies allow (a Pod without policies: everything), which would end any iptables
# rule of ours placed after them, and kube-router keeps its jump first. A reject here
# is final; what passes goes on to the machine's own rules and kube-router's.
host_firewall() {
  nft delete table inet "$FIREWALL" 2>/dev/null || true
  nft -f - <<NFT
table inet $FIREWALL {
  chain input {
    type filter hook input priority -10; policy accept;
    iifname "$BRIDGE" ip saddr $POD_CIDR jump from-pods
  }
  chain from-pods {
    ct state established,related return
    ip daddr $HOST_ADDRESS tcp dport $PRAZIUM_EGRESS_PORT return
    ct original ip daddr $KUBERNETES_SERVICE_IP tcp dport $PRAZIUM_APISERVER_PORT ct status dnat return
    meta l4proto tcp reject with tcp reset
    reject with icmpx type port-unreachable
  }
}
NFT
}

remove_host_rules() {
  iptables -t nat -D PREROUTING -j "$CHAIN" 2>/dev/null || true
  iptables -t nat -F "$CHAIN" 2>/dev/null || true
  iptables -t nat -X "$CHAIN" 2>/dev/null || true
  nft delete table inet "$FIREWALL" 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
}

# The kubelet's cgroup root must exist in every hierarchy (cgroup v1): the cpuset one
# with its parent's cpus and memory nodes, which v1 does not copy by itself.
make_cgroup_root() {
  local sub dir
  for sub in /sys/fs/cgroup/*/; do
    [ -f "${sub}tasks" ] || continue
    dir=$sub${CGROUP_ROOT#/}
    mkdir -p "$dir"
    if [ -f "${sub}cpuset.cpus" ]; then
      [ -n "$(cat "$dir/cpuset.cpus")" ] || cat "${sub}cpuset.cpus" >"$dir/cpuset.cpus"
      [ -n "$(cat "$dir/cpuset.mems")" ] || cat "${sub}cpuset.mems" >"$dir/cpuset.mems"
    fi
  done
}

node_ready() {
  [ "$(kubectl --kubeconfig "$DEV_DIR/kubeconfig" get node "$NODE_NAME" \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# The data dir is written by the operator (root, on the host) and by workers (uid
# 10001, in Pods): a default ACL gives the worker uid rwx on everything created there.
# gVisor judges access by the mode bits alone (it does not read ACLs), so the tree also
# belongs to group 10001, the workers' group (fsGroup), with setgid directories: what
# the operator creates there keeps that group, and its group bits (the ACL mask) give
# the group what the ACL gives the worker uid.
share_data_dir() {
  local data=$1
  mkdir -p "$data"
  setfacl -R -m u:10001:rwX -m d:u:10001:rwX "$data"
  chgrp -R 10001 "$data"
  find "$data" -type d -exec chmod g+s {} +
  # Every parent must be traversable by the worker uid (hostPath keeps the full path).
  local dir
  dir=$(dirname "$data")
  while [ "$dir" != / ]; do
    # Only add search permission where the worker uid has none (never narrow it).
    getfacl -cp "$dir" 2>/dev/null | grep -q '^user:10001:' || setfacl -m u:10001:x "$dir" 2>/dev/null || true
    dir=$(dirname "$dir")
  done
}

start() {
  need_root
  use_node 1
  if pid_alive "$NODE/kubelet.pid" && node_ready; then
    say "node already running"
    "$PRAZIUM_ROOT/scripts/build-images.sh" import "$SOCK"  # the code may have changed
  else
    use_node 2
    [ -d "$NODE" ] && stop_all quiet  # a second node left by an earlier stack
    use_node 1
    stop_all quiet
    start_node
  fi
  use_node 2
  if [ "$PRAZIUM_NODES" = 2 ]; then
    if pid_alive "$NODE/kubelet.pid" && node_ready; then
      "$PRAZIUM_ROOT/scripts/build-images.sh" import "$SOCK"
    else
      stop_all quiet
      start_node
    fi
  elif pid_alive "$NODE/kubelet.pid" || [ -d "$NODE" ]; then
    stop_all  # PRAZIUM_NODES=1 after a stack with two
  fi
  use_node 1
}

# add: the second node beside a running first one (tests add and remove it).
add() {
  need_root
  use_node 1
  node_ready || die "the first node is not running: start it first (node.sh start)"
  use_node 2
  if pid_alive "$NODE/kubelet.pid" && node_ready; then
    say "node $NODE_NAME already running"
    return 0
  fi
  stop_all quiet
  start_node
}

# start_node: the node of use_node, from nothing (its leftovers already removed).
start_node() {
  gen_node_pki
  local t0=$SECONDS pause
  pause=$("$PRAZIUM_ROOT/scripts/build-images.sh" pause)
  write_configs "$pause"
  require_port "$KUBELET_HEALTHZ_PORT" "kubelet healthz"
  host_rules
  make_cgroup_root
  # The node has no registry and pulls nothing from elsewhere: an image it lacks (a
  # preview's python:3.11-slim, say) fails at once through a proxy that refuses.
  start_bg containerd "$NODE/logs/containerd.log" "$NODE/containerd.pid" \
    env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
    containerd --config "$NODE/containerd/config.toml"
  wait_until containerd 30 "$NODE/containerd.pid" "$NODE/logs/containerd.log" \
    ctr --address "$SOCK" version
  "$PRAZIUM_ROOT/scripts/build-images.sh" import "$SOCK"
  start_bg kubelet "$NODE/logs/kubelet.log" "$NODE/kubelet.pid" "$BIN" kubelet \
    --config "$NODE/kubelet.yaml" --kubeconfig "$NODE/kubelet.kubeconfig" \
    --root-dir "$NODE/kubelet" --cert-dir "$NODE/kubelet/pki" \
    --hostname-override "$NODE_NAME" --node-ip "$HOST_ADDRESS" --v=1
  if [ "$NODE_INDEX" = 1 ]; then
    # kube-proxy rewrites the machine's KUBE-* chains: one instance per machine.
    local owner=""
    [ -f "$PROXY_LOCK" ] && owner=$(cat "$PROXY_LOCK")
    if [ -n "$owner" ] && [ "$owner" != "$DEV_DIR" ] && pid_alive "$owner/node/kube-proxy.pid"; then
      say "kube-proxy of the stack in ${owner} owns this machine's Service rules: this stack runs none (ClusterIP Services unavailable here)"
    else
      echo "$DEV_DIR" >"$PROXY_LOCK"
      start_bg kube-proxy "$NODE/logs/kube-proxy.log" "$NODE/kube-proxy.pid" "$BIN" kube-proxy \
        --config "$NODE/kube-proxy.yaml" --v=1
    fi
  fi
  wait_until "the node" 120 "$NODE/kubelet.pid" "$NODE/logs/kubelet.log" node_ready
  [ "$NODE_INDEX" = 1 ] && start_kube_router  # it reads its Node (addresses) at start
  # make down cordons it before deleting its Pods; the Node object outlives that.
  kubectl --kubeconfig "$DEV_DIR/kubeconfig" uncordon "$NODE_NAME" >/dev/null
  # Both runtimes on the same containerd: Pods without a RuntimeClass run under runc.
  kubectl --kubeconfig "$DEV_DIR/kubeconfig" apply -f - >/dev/null <<YAML
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: gvisor, labels: {app.kubernetes.io/managed-by: prazium}}
handler: runsc
YAML
  say "node $NODE_NAME ready in $((SECONDS - t0)) s (pods on $POD_CIDR, host at $HOST_ADDRESS, workers under $PRAZIUM_RUNTIME)"
}

# kube-router as the NetworkPolicy firewall only (no routing, no service proxy: the
# bridge CNI and kube-proxy do those). Its chains and ipsets are machine-wide, so one
# stack's runs at a time; a second stack says it runs without one.
start_kube_router() {
  local owner=""
  [ -f "$ROUTER_LOCK" ] && owner=$(cat "$ROUTER_LOCK")
  if [ -n "$owner" ] && [ "$owner" != "$DEV_DIR" ] && pid_alive "$owner/node/kube-router.pid"; then
    say "kube-router of the stack in ${owner} owns this machine's NetworkPolicy rules: this stack enforces none"
    return 0
  fi
  echo "$DEV_DIR" >"$ROUTER_LOCK"
  remove_kube_router_rules  # a crashed run's leftovers
  start_bg kube-router "$NODE/logs/kube-router.log" "$NODE/kube-router.pid" kube-router \
    --kubeconfig "$DEV_DIR/kubeconfig" --hostname-override "$NODE_NAME" \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
    --service-cluster-ip-range 10.0.0.0/24 --health-port 0 --metrics-port 0 \
    --iptables-sync-period 1m
  wait_until kube-router 60 "$NODE/kube-router.pid" "$NODE/logs/kube-router.log" \
    iptables -n -L KUBE-ROUTER-FORWARD
}

# kube-router's chains (filter: KUBE-ROUTER-*, KUBE-NWPLCY-*, KUBE-POD-FW-*) and its
# ipsets, removed by hand: its own --cleanup-config panics in this release.
remove_kube_router_rules() {
  local table chains rule chain set ours='KUBE-ROUTER-|KUBE-NWPLCY-|KUBE-POD-FW-'
  for table in filter nat mangle; do
    # The jumps from the built-in chains first, then every chain of its emptied, then gone
    # (its chains jump to each other).
    { iptables -t "$table" -S 2>/dev/null \
      | grep -E "^-A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) .*-j ($ours)" || true; } \
      | sed 's/^-A /-D /' | while read -r rule; do
        eval "iptables -t $table $rule" 2>/dev/null || true
      done
    chains=$(iptables -t "$table" -S 2>/dev/null | sed -nE "s/^-N (($ours)[A-Za-z0-9_-]*)$/\1/p" || true)
    for chain in $chains; do iptables -t "$table" -F "$chain" 2>/dev/null || true; done
    for chain in $chains; do iptables -t "$table" -X "$chain" 2>/dev/null || true; done
  done
  command -v ipset >/dev/null || return 0
  for set in $(ipset list -n 2>/dev/null | grep -E '^(inet6:)?(KUBE-SRC-|KUBE-DST-|TMP-)' || true); do
    ipset destroy "$set" 2>/dev/null || true
  done
}

stop_kube_router() {
  stop_pidfile kube-router "$NODE/kube-router.pid"
  if [ -f "$ROUTER_LOCK" ] && [ "$(cat "$ROUTER_LOCK")" = "$DEV_DIR" ]; then
    remove_kube_router_rules
    rm -f "$ROUTER_LOCK"
  fi
}

# Containers, sandboxes, their network namespaces and mounts, whatever the kubelet
# did not finish: containerd is asked first, the leftovers are removed by hand.
remove_containers() {
  if [ -S "$SOCK" ] && ctr --address "$SOCK" version >/dev/null 2>&1; then
    local id ns
    for id in $(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$SOCK" -n k8s.io tasks kill -s KILL "$id" >/dev/null 2>&1 || true
    done
    sleep 0.5
    for id in $(ctr --address "$SOCK" -n k8s.io containers ls -q 2>/dev/null); do
      ns=$(ctr --address "$SOCK" -n k8s.io containers info "$id" 2>/dev/null | python3 -c '
import json, sys
spec = json.load(sys.stdin).get("Spec") or {}
for n in (spec.get("linux") or {}).get("namespaces") or []:
    if n.get("type") == "network" and n.get("path"):
        print(n["path"])' 2>/dev/null || true)
      ctr --address "$SOCK" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true
      ctr --address "$SOCK" -n k8s.io containers rm "$id" >/dev/null 2>&1 || true
      if [ -n "$ns" ]; then umount "$ns" 2>/dev/null || true; rm -f "$ns"; fi
    done
  fi
}

unmount_under() { # every mount at or below a directory, deepest first
  local dir=$1
  [ -d "$dir" ] || return 0
  # The kubelet bind-mounts its root directory onto itself, too.
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r \
    | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# The kubelet's own chains (a canary and a localnet firewall), shared by every
# kubelet on the machine: removed once no other Prazium kubelet runs.
remove_kubelet_chains() {
  pgrep -f "prazium-cluster kubelet " >/dev/null 2>&1 && return 0
  local ipt table
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    "$ipt" -t filter -D INPUT -j KUBE-FIREWALL 2>/dev/null || true
    "$ipt" -t filter -D OUTPUT -j KUBE-FIREWALL 2>/dev/null || true
    for table in filter nat mangle; do
      for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
        "$ipt" -t "$table" -F "$chain" 2>/dev/null || true
        "$ipt" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
}

stop_all() {
  local quiet=${1:-}
  # Pods first, while kubelet and apiserver still run, so the CNI releases their
  # addresses and rules: cordon (Jobs' new Pods wait) and delete them all.
  if pid_alive "$NODE/kubelet.pid" && node_ready; then
    kubectl --kubeconfig "$DEV_DIR/kubeconfig" cordon "$NODE_NAME" >/dev/null 2>&1 || true
    kubectl --kubeconfig "$DEV_DIR/kubeconfig" delete pods --all -A --grace-period=1 \
      --field-selector "spec.nodeName=$NODE_NAME" --wait --timeout=30s >/dev/null 2>&1 || true
  fi
  if [ "$NODE_INDEX" = 1 ]; then
    stop_kube_router
    stop_pidfile kube-proxy "$NODE/kube-proxy.pid"
    if [ -f "$PROXY_LOCK" ] && [ "$(cat "$PROXY_LOCK")" = "$DEV_DIR" ]; then
      # kube-proxy's own cleanup of its chains (iptables; nftables leftovers too).
      [ -x "$BIN" ] && "$BIN" kube-proxy --cleanup >/dev/null 2>&1 || true
      rm -f "$PROXY_LOCK"
    fi
  fi
  stop_pidfile kubelet "$NODE/kubelet.pid"
  remove_containers
  stop_pidfile containerd "$NODE/containerd.pid"
  # Shims outlive containerd by design: end those of this stack's containerd.
  local pid
  for pid in $(pgrep -f "containerd-shim-run(c-v2|sc-v1) .*-address $SOCK" 2>/dev/null || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  # gVisor sandboxes and gofers of this stack that outlived their shim.
  for pid in $(pgrep -f -- "--root=$NODE/runsc" 2>/dev/null || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  # What a crash (node.sh crash) left of its Pods' processes.
  [ "$NODE_INDEX" = 1 ] || kill_cgroup_procs
  unmount_under "$NODE/kubelet"
  unmount_under "$NODE/containerd"
  unmount_under "$NODE/runsc"  # runsc bind-mounts a network namespace (null-netns) there
  rm -rf "$NODE/kubelet/pods" "$NODE/containerd/state" "$NODE/cni/ipam" "$NODE/runsc"
  remove_host_rules
  remove_kubelet_chains
  # The kubelet's cgroups of this stack (empty once the containers are gone).
  local sub
  for sub in /sys/fs/cgroup/*/; do
    [ -d "$sub${CGROUP_ROOT#/}" ] && find "$sub${CGROUP_ROOT#/}" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  if [ "$NODE_INDEX" != 1 ]; then
    # The second node is gone for good: its Node object too (its Pods' with it), so
    # the scheduler and the tests see one node again.
    kubectl --kubeconfig "$DEV_DIR/kubeconfig" delete node "$NODE_NAME" --ignore-not-found \
      --request-timeout=10s >/dev/null 2>&1 || true
    rm -rf --one-file-system "$NODE"
  fi
  [ -n "$quiet" ] || say "node $NODE_NAME stopped and cleaned"
}

# SIGKILL to every process in the node's cgroups (its Pods' containers, gVisor's
# sandboxes), whatever the hierarchy.
kill_cgroup_procs() {
  local sub pid
  for sub in /sys/fs/cgroup/*/; do
    [ -d "$sub${CGROUP_ROOT#/}" ] || continue
    for pid in $(find "$sub${CGROUP_ROOT#/}" -name cgroup.procs -exec cat {} + 2>/dev/null); do
      kill -KILL "$pid" 2>/dev/null || true
    done
  done
}

# crash: the second node dies as a machine would: everything of it at once, nothing
# cleaned up, nothing said to the apiserver (its Node stays Ready until the node
# lifecycle controller misses its heartbeats). node.sh remove cleans up afterwards.
crash() {
  need_root
  use_node 2
  pid_alive "$NODE/kubelet.pid" || die "node $NODE_NAME is not running"
  local pid
  for pid in $(cat "$NODE/kubelet.pid" "$NODE/containerd.pid" 2>/dev/null) \
    $(pgrep -f "containerd-shim-run(c-v2|sc-v1) .*-address $SOCK" 2>/dev/null || true) \
    $(pgrep -f -- "--root=$NODE/runsc" 2>/dev/null || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  kill_cgroup_procs
  say "node $NODE_NAME crashed (kubelet, containerd, shims and Pods killed)"
}

stop() {
  [ "$(id -u)" = 0 ] || return 0
  use_node 2
  if pid_alive "$NODE/kubelet.pid" || [ -d "$NODE" ]; then stop_all; fi
  use_node 1
  stop_all
}

# workload NAMESPACE DATA_DIR: what worker Jobs in NAMESPACE need on this node: the
# repo volume (a hostPath PersistentVolume on DATA_DIR bound to the claim
# prazium-repos), the worker ServiceAccount without a token, the data dir writable by
# the worker uid, and the NetworkPolicies of the chart's templates/networkpolicy.yaml
# for this node: worker Pods reach the operator's egress proxy on the bridge address
# and nothing else, verification Pods nothing; neither takes any connection.
workload() {
  local ns=$1 data=$2 pv
  data=$(mkdir -p "$data" && cd "$data" && pwd)
  share_data_dir "$data"
  pv=prazium-repos-$(echo "$ns:$data" | sha256sum | cut -c1-10)
  kubectl --kubeconfig "$DEV_DIR/kubeconfig" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: $ns}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: prazium-worker, namespace: $ns}
automountServiceAccountToken: false
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: $pv, labels: {app.kubernetes.io/managed-by: prazium}}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: "$data", type: Directory}
  claimRef: {namespace: $ns, name: prazium-repos}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: prazium-repos, namespace: $ns}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: $pv
  resources: {requests: {storage: 10Gi}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: prazium-worker, namespace: $ns}
spec:
  podSelector: {matchLabels: {prazium.io/role: worker}}
  policyTypes: [Ingress, Egress]
  ingress: []
  egress:
    - to: [{ipBlock: {cidr: $HOST_ADDRESS/32}}]
      ports: [{protocol: TCP, port: $PRAZIUM_EGRESS_PORT}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: prazium-verification, namespace: $ns}
spec:
  podSelector: {matchLabels: {prazium.io/role: verification}}
  policyTypes: [Ingress, Egress]
  ingress: []
  egress: []
YAML
}

case "${1:-}" in
  start) start ;;
  add) add ;;
  remove) if [ "$(id -u)" = 0 ]; then use_node 2; stop_all; fi ;;
  crash) crash ;;
  workload) workload "${2:?namespace}" "${3:?data dir}" ;;
  stop) stop ;;
  status)
    node_ready || { echo "node: not ready"; exit 1; }
    use_node 2
    if [ "$PRAZIUM_NODES" = 2 ]; then
      node_ready || { echo "node $NODE_NAME: not ready"; exit 1; }
    fi
    echo "node: ready"
    ;;
  env)
    echo "PRAZIUM_WORKER_IMAGE=$("$PRAZIUM_ROOT/scripts/build-images.sh" prazium-name)"
    echo "PRAZIUM_NODE_HOST_ADDRESS=$HOST_ADDRESS"
    echo "PRAZIUM_WORKER_RUNTIME_CLASS=$([ "$PRAZIUM_RUNTIME" = gvisor ] && echo gvisor)"
    echo "PRAZIUM_EGRESS_PROXY_LISTEN=$HOST_ADDRESS:$PRAZIUM_EGRESS_PORT"
    echo "PRAZIUM_EGRESS_PROXY_URL=http://$HOST_ADDRESS:$PRAZIUM_EGRESS_PORT"
    echo "PRAZIUM_NODES=$PRAZIUM_NODES"
    # Worker and verification Pods wait for their NetworkPolicy to be in force: only
    # when this stack's kube-router enforces policies (another stack may own it).
    echo "PRAZIUM_WORKER_POLICY_GATE=$(pid_alive "$NODE/kube-router.pid" && echo true || echo false)"
    ;;
  *) echo "usage: $0 start|stop|add|remove|crash|status|env|workload NAMESPACE DATA_DIR" >&2; exit 2 ;;
esac

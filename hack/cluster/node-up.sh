#!/usr/bin/env bash
# Join a real node to the embedded control plane NAME (hack/cluster/up.sh calls this
# with CLUSTER_REAL_NODE=1): kubelet + containerd + Debian's runc + the CNI bridge
# plugin + CoreDNS, plus the project's image registry, all inside the control
# plane's own network namespace. See docs/node.md.
#
# Network: the namespace gets one bridge, cni0, with NODE_IP (10.245.0.1) on a
# private /24; every pod gets a veth on it and an address from that /24. The
# namespace has no other interface than lo, no default route and no NAT, so a
# pod can reach other pods, the node IP (kubelet, CoreDNS) and nothing else.
#
# Mounts: containerd, kubelet, CoreDNS and the registry share one private mount
# namespace, kept alive by an anchor process (pids/node-anchor.pid), in which
# /var/lib and /var/log are bind mounts of STATE/node/{var-lib,var-log},
# /run/containerd (where shims put their sockets) is STATE/node/run/shims, and
# /tmp/hostpath_pv is STATE/pv-tmp (where the controller manager provisions
# hostPath volumes). Nothing the node mounts is seen on the host.
#
# Cgroups (v1 here): every pod lives under /pytorch-chart-NETNS in each
# hierarchy; hack/cluster/down.sh kills what is left there and removes it.
#
# Images: bin/registry serves .cache/registry (filesystem storage, shared by the
# clusters of this clone) on 127.0.0.1:5000 inside the namespace; the images of
# hack/images/build.sh are pushed there (only missing blobs), and containerd
# pulls them like any registry's: charts refer to them through
# global.imageRegistry=127.0.0.1:5000.
#
# containerd's root (content store and snapshots) is kept across restarts, so a
# warm restart pulls nothing; everything else of the node is created afresh.
# usage: hack/cluster/node-up.sh NAME
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
cluster_init "${1:-}"
node_init

timeout=${CLUSTER_TIMEOUT:-90}
t0=$(date +%s.%N)
log() { echo ">> [node $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s] $*" >&2; }
fail() { echo "!! node failed to start: $*" >&2; exit 1; }

for b in kubelet containerd containerd-shim-runc-v2 ctr coredns registry cni/bridge cni/host-local cni/loopback; do
  [[ -x $bin/$b ]] || fail "bin/$b is missing: run 'make setup'"
done
runc=$(command -v runc) || fail "runc is missing: apt-get install runc (make setup does)"
for b in kube-router kube-proxy; do
  [[ -x $bin/$b ]] || fail "bin/$b is missing: run 'make node-firewall' (make setup does)"
done
for t in iptables ipset; do
  command -v "$t" >/dev/null || fail "$t is missing: apt-get install iptables ipset (make node-firewall does)"
done
[[ -e $NETNS_PATH ]] || fail "the control plane '$CLUSTER_NAME' is not up"

pki=$STATE/pki
node=$STATE/node
# containerd's root survives restarts (images); the rest starts empty.
rm -rf "$node/run" "$node/var-lib" "$node/var-log" "$node/kubelet" "$node/cni" "$node/etc" "$node/local-pv"
mkdir -p "$node/run/shims" "$node/var-lib" "$node/var-log/pods" "$node/var-log/containers" "$node/kubelet" \
  "$node/cni/conf" "$node/cni/ipam" "$node/etc/certs.d/$REGISTRY_ADDR" "$NODE_CONTAINERD_ROOT" "$REGISTRY_DIR" \
  "$STATE/pv-tmp" "$STATE/logs" "$STATE/pids"
# bin/cni holds exactly the plugins (bridge, host-local, loopback): containerd's bin_dirs.
cni_bin=$bin/cni

# --- network: the pod bridge inside the namespace --------------------------------
in_ns() { nsenter --net="$NETNS_PATH" -- "$@"; }
if ! in_ns ip link show cni0 >/dev/null 2>&1; then
  in_ns ip link add cni0 type bridge
  in_ns ip addr add "$NODE_IP/24" dev cni0
  in_ns ip link set cni0 up
fi
routes=$(in_ns ip -4 -o route show | awk '{printf "%s %s %s;", $1, $2, $3}')
[[ $routes == "$POD_CIDR dev cni0;" ]] || fail "unexpected routes in netns $NETNS: $routes"
log "pod bridge cni0 $NODE_IP on $POD_CIDR (routes: $routes)"

# --- cgroups: one parent per hierarchy for every pod of this node ------------------
for h in /sys/fs/cgroup/*/; do
  [[ -d $h ]] && mkdir -p "$h${CGROUP_ROOT#/}"
done

# --- the mount namespace and its anchor ------------------------------------------
anchor_pid() { cat "$STATE/pids/node-anchor.pid" 2>/dev/null; }
nsenter --net="$NETNS_PATH" -- setsid unshare --mount --propagation private -- sh -ec '
  mount --bind "$1" /var/lib
  mount --bind "$2" /var/log
  mkdir -p /run/containerd
  mount --bind "$5" /run/containerd
  mkdir -p /tmp/hostpath_pv
  mount --bind "$3" /tmp/hostpath_pv
  echo ready >"$4"
  exec sleep infinity' node-anchor "$node/var-lib" "$node/var-log" "$STATE/pv-tmp" "$node/anchor-ready" "$node/run/shims" \
  >"$STATE/logs/node-anchor.log" 2>&1 </dev/null &
echo $! >"$STATE/pids/node-anchor.pid"
end=$((SECONDS + 10))
until [[ -s $node/anchor-ready ]]; do
  ((SECONDS < end)) && kill -0 "$(anchor_pid)" 2>/dev/null || { cat "$STATE/logs/node-anchor.log" >&2; fail "mount namespace anchor"; }
  sleep 0.05
done
rm -f "$node/anchor-ready"
# start NAME COMMAND...: in the namespace's network and the anchor's mounts, in a session of its own.
start() {
  local name=$1; shift
  nsenter --net="$NETNS_PATH" --mount="/proc/$(anchor_pid)/ns/mnt" -- setsid "$@" \
    >"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name.pid"
}
alive() { kill -0 "$(cat "$STATE/pids/$1.pid")" 2>/dev/null || { tail -n 30 "$STATE/logs/$1.log" >&2; fail "$1 exited (see $STATE/logs/$1.log)"; }; }
wait_until() {
  local what=$1 comp=$2; shift 2
  local end=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    alive "$comp"
    ((SECONDS < end)) || { tail -n 30 "$STATE/logs/$comp.log" >&2; fail "timed out after ${timeout}s waiting for $what"; }
    sleep 0.1
  done
  log "$what"
}

# --- the image registry ----------------------------------------------------------
cat >"$node/etc/registry.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $REGISTRY_DIR}
  delete: {enabled: true}
http:
  addr: $REGISTRY_ADDR
EOF
start registry "$bin/registry" serve "$node/etc/registry.yml"
wait_until "registry on $REGISTRY_ADDR" registry in_ns curl -fsS --max-time 2 "http://$REGISTRY_ADDR/v2/"
"$root/hack/images/push-all.sh" "$REGISTRY_ADDR" "$NETNS_PATH" >&2 || fail "pushing the images to $REGISTRY_ADDR"
pause_image=$(python3 "$root/hack/images/push.py" --list "$root/.cache/images/pause" | awk '{print $2}')
[[ -n $pause_image ]] || fail "the pause image is not built: run 'make images'"
log "images pushed to $REGISTRY_ADDR"

# --- CNI --------------------------------------------------------------------------
cat >"$node/cni/conf/10-pods.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$node/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "$SERVICE_CIDR"}]
      }
    }
  ]
}
EOF

# --- containerd -------------------------------------------------------------------
cat >"$node/etc/certs.d/$REGISTRY_ADDR/hosts.toml" <<EOF
server = "http://$REGISTRY_ADDR"
[host."http://$REGISTRY_ADDR"]
  capabilities = ["pull", "resolve"]
EOF
cat >"$node/etc/containerd.toml" <<EOF
version = 3
root = "$NODE_CONTAINERD_ROOT"
state = "$node/run/containerd"
[grpc]
  address = "$NODE_CRI_SOCKET"
[ttrpc]
  address = "$NODE_CRI_SOCKET.ttrpc"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  # A pulled layer is kept once, unpacked: the pytorch image would otherwise take 3 GiB twice.
  discard_unpacked_layers = true
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$REGISTRY_ADDR/$pause_image"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "$node/etc/certs.d"
[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$runc"
        Root = "$node/run/runc"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["$cni_bin"]
    conf_dir = "$node/cni/conf"
    max_conf_num = 1
EOF
# The shim is found on containerd's PATH.
start containerd env PATH="$bin:$PATH" "$bin/containerd" --config "$node/etc/containerd.toml" --log-level warn
wait_until "containerd serving CRI" containerd test -S "$NODE_CRI_SOCKET"

# --- CoreDNS: the cluster zone from the API server, nothing forwarded -------------
cat >"$node/etc/Corefile" <<EOF
$CLUSTER_DOMAIN:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $NODE_IP
    errors
    ready $NODE_IP:8181
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG_FILE
        pods insecure
        ttl 5
    }
}
EOF
start coredns "$bin/coredns" -conf "$node/etc/Corefile"
wait_until "CoreDNS ready on $NODE_IP:53" coredns in_ns curl -fsS --max-time 2 "http://$NODE_IP:8181/ready"

# --- kubelet ----------------------------------------------------------------------
printf 'nameserver %s\n' "$NODE_IP" >"$node/etc/resolv.conf"
cat >"$node/etc/kubelet.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: embedded
  cluster: {server: "https://127.0.0.1:6443", certificate-authority: "$pki/ca.crt"}
users:
- name: node
  user: {client-certificate: "$pki/kubelet-client.crt", client-key: "$pki/kubelet-client.key"}
contexts:
- name: node
  context: {cluster: embedded, user: node}
current-context: node
EOF
cat >"$node/etc/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
containerRuntimeEndpoint: unix://$NODE_CRI_SOCKET
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $NODE_HEALTHZ_PORT
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization:
  mode: Webhook
clusterDNS: [$NODE_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: $node/etc/resolv.conf
podLogsDir: /var/log/pods
seccompDefault: true
serializeImagePulls: false
maxPods: 110
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
syncFrequency: 10s
nodeStatusUpdateFrequency: 5s
shutdownGracePeriod: 0s
EOF
start kubelet "$bin/kubelet" --config="$node/etc/kubelet.yaml" --kubeconfig="$node/etc/kubelet.kubeconfig" \
  --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --root-dir="$node/kubelet" \
  --node-labels="type=real,node.kubernetes.io/instance-type=pytorch-chart-node" --v=1
kctl() { in_ns "$bin/kubectl" --kubeconfig="$KUBECONFIG_FILE" "$@"; }
wait_until "node $NODE_NAME Ready" kubelet kctl wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
# --- storage: local volumes, as real nodes have them ---------------------------------
# The default StorageClass of a cluster with a real node is "local": a pool of
# pre-created local PersistentVolumes on this node (STATE/node/local-pv/NN). The
# kubelet applies the pod's fsGroup to them, as it does to the block volumes of a
# cloud, so a non-root rank can write its claim. The hostPath class "standard"
# stays, no longer the default: its directories are root-owned (0750) and get no
# fsGroup, which is what volumePermissions is for.
pv_count=${NODE_LOCAL_PVS:-48}
{
  storage_class_yaml local kubernetes.io/no-provisioner Retain WaitForFirstConsumer true
  for ((i = 0; i < pv_count; i++)); do
    dir=$node/local-pv/$(printf %02d "$i")
    mkdir -p "$dir"
    cat <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: local-$NODE_NAME-$(printf %02d "$i")
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local
  local: {path: $dir}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}
EOF
  done
} | kctl apply -f - >/dev/null
kctl annotate storageclass standard storageclass.kubernetes.io/is-default-class=false --overwrite >/dev/null
log "storage: StorageClass local (default, $pv_count local PVs), standard (hostPath)"

# --- NetworkPolicy (kube-router's firewall) and Service IPs (kube-proxy) -------------
# Both program netfilter (iptables + ipset) of this namespace only: they run in it like the
# daemons above, and the host's rules are never touched. A lock file of the node's own, so
# that they never wait on another cluster's iptables. See docs/network-policy.md.
export XTABLES_LOCKFILE=$node/run/xtables.lock
start kube-router "$bin/kube-router" --run-firewall=true --run-router=false --run-service-proxy=false \
  --kubeconfig="$KUBECONFIG_FILE" --hostname-override="$NODE_NAME" --service-cluster-ip-range="$SERVICE_CIDR" \
  --health-port="$KUBE_ROUTER_HEALTH_PORT" --metrics-port=0 --v=1
router_ready() {
  in_ns curl -fsS --max-time 2 "http://127.0.0.1:$KUBE_ROUTER_HEALTH_PORT/healthz" &&
    in_ns iptables -S KUBE-ROUTER-FORWARD
}
# kube-proxy in iptables mode: the cluster's Services reach their endpoints from the pods
# (their ClusterIPs are routed to the node, see the CNI config above, and nowhere else). The
# conntrack limits are left as the kernel has them (a network namespace may not set them).
cat >"$node/etc/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $KUBECONFIG_FILE}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
nodePortAddresses: [$NODE_IP/32]
healthzBindAddress: 127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$KUBE_PROXY_METRICS_PORT
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
start kube-proxy "$bin/kube-proxy" --config="$node/etc/kube-proxy.yaml" --v=1
wait_until "kube-router's firewall enforcing NetworkPolicy" kube-router router_ready
wait_until "kube-proxy routing Services ($SERVICE_CIDR)" kube-proxy \
  in_ns curl -fsS --max-time 2 "http://127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT/healthz"

echo "up $(date +%s)" >"$STATE/node-started"
log "real node $NODE_NAME joined (kubelet, containerd, runc, CNI bridge, CoreDNS at $NODE_IP, kube-router, kube-proxy)"

#!/usr/bin/env bash
# Start the embedded control plane: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok (simulated nodes; no container ever runs), all inside a
# network namespace of their own whose only interface is `lo` (127.0.0.0/8).
# Service ClusterIPs (10.96.0.0/16) and kwok's pod/node IPs (10.244.0.0/16,
# 10.243.0.1) are fake: from inside the namespace they are unreachable
# ("network is unreachable"), so no packet can leave the machine. Run every
# client (kubectl, helm) inside the same namespace: hack/cluster/exec.sh.
#
# State (certificates, etcd data, logs, pid files, kubeconfig) lives in
# .cache/cluster/NAME/ of this clone; the namespace name is derived from that
# path, so two clones (or two NAMEs) never share ports or processes.
# Idempotent: a cluster already up is reused. On any failure everything it
# started is stopped again (hack/cluster/down.sh) and the logs are printed.
#
# With CLUSTER_REAL_NODE=1 a real node joins too (kubelet, containerd, runc, CNI,
# CoreDNS and the image registry, in the same namespace): hack/cluster/node-up.sh.
#
# usage: hack/cluster/up.sh [NAME]          (NAME: default "default")
# env:   CLUSTER_NODES simulated (kwok) nodes (2)  CLUSTER_REAL_NODE (0)
#        CLUSTER_TIMEOUT seconds for each wait (90)
#        CLUSTER_FEATURE_GATES --feature-gates of the API server, controller manager and
#        scheduler (GenericWorkload=true: native gang scheduling; set it empty for none)
#        CLUSTER_RUNTIME_CONFIG --runtime-config of the API server (scheduling.k8s.io/v1beta1=true)
#        CLUSTER_STATE_DIR (overrides .cache/cluster/NAME)
#        CLUSTER_EXPOSE=1 also forward a host loopback port to the API server
#        (CLUSTER_HOST_PORT, default any free port) and write STATE/kubeconfig-host
# Prints the kubeconfig path as its last line of output.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
cluster_init "${1:-}"
# One start-up at a time per cluster: a second up.sh for the same NAME waits for the first,
# then finds the cluster up. With -o the lock's descriptor is closed in this script, so the
# daemons it starts do not hold the lock; flock itself holds it until the script exits.
if [[ ${CLUSTER_UP_LOCKED:-} != "$STATE" ]]; then
  CLUSTER_UP_LOCKED=$STATE exec flock -o "$STATE/.up.lock" "$0" "$@"
fi

nodes=${CLUSTER_NODES:-2}
real_node=${CLUSTER_REAL_NODE:-0}
timeout=${CLUSTER_TIMEOUT:-90}
# Kubernetes' native gang scheduling (scheduling.k8s.io/v1beta1 PodGroup, the pods'
# spec.schedulingGroup) is beta in 1.37 but off by default: its gate turns on the API's
# validation and the PodGroupProtection admission (API server), the PodGroupProtection
# finalizer (controller manager) and the GangScheduling plugin (scheduler); the API group
# version must be enabled too. On in every control plane (docs/cluster.md measures what it costs).
feature_gates=${CLUSTER_FEATURE_GATES-GenericWorkload=true}
runtime_config=${CLUSTER_RUNTIME_CONFIG-scheduling.k8s.io/v1beta1=true}
gates=() api_flags=()
[[ -z $feature_gates ]] || gates=("--feature-gates=$feature_gates")
[[ -z $runtime_config ]] || api_flags=("--runtime-config=$runtime_config")
t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
log() { echo ">> [$(elapsed)s] $*" >&2; }

for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
  [[ -x $bin/$b ]] || { echo "bin/$b is missing: run 'make setup' (or 'make cluster-bins') first" >&2; exit 1; }
done

# With CLUSTER_EXPOSE=1 (make demo), bin/cluster-nsproxy forwards a loopback
# port of the host (CLUSTER_HOST_PORT, default: any free one) to the API server
# in the namespace, and STATE/kubeconfig-host points at it: kubectl and helm on
# the host then work too (the API server still dials nothing outside lo).
expose() {
  [[ ${CLUSTER_EXPOSE:-} == 1 ]] || return 0
  local f=$STATE/pids/host-nsproxy.pid
  if [[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null && [[ -f $STATE/kubeconfig-host ]]; then return 0; fi
  [[ -x $bin/cluster-nsproxy ]] || { echo "bin/cluster-nsproxy is missing: run 'make cluster-bins'" >&2; return 1; }
  rm -f "$STATE/host-port"
  setsid "$bin/cluster-nsproxy" -netns "$NETNS_PATH" -listen "127.0.0.1:${CLUSTER_HOST_PORT:-0}" \
    -target "127.0.0.1:$APISERVER_PORT" -port-file "$STATE/host-port" >"$STATE/logs/host-nsproxy.log" 2>&1 </dev/null &
  echo $! >"$f"
  local end=$((SECONDS + 10))
  until [[ -s $STATE/host-port ]]; do
    kill -0 "$(cat "$f")" 2>/dev/null && ((SECONDS < end)) || { cat "$STATE/logs/host-nsproxy.log" >&2; return 1; }
    sleep 0.05
  done
  sed "s#server: https://127.0.0.1:$APISERVER_PORT#server: https://127.0.0.1:$(cat "$STATE/host-port")#" \
    "$KUBECONFIG_FILE" >"$STATE/kubeconfig-host"
  chmod 600 "$STATE/kubeconfig-host"
  KUBECONFIG="$STATE/kubeconfig-host" "$bin/kubectl" get --raw=/readyz >/dev/null
  log "API server also reachable from the host: 127.0.0.1:$(cat "$STATE/host-port") ($STATE/kubeconfig-host)"
}

if cluster_is_up && { [[ $real_node != 1 ]] || node_is_up; }; then
  log "cluster '$CLUSTER_NAME' is already up (netns $NETNS)"
  expose
  echo "$KUBECONFIG_FILE"
  exit 0
fi
"$here/down.sh" "$CLUSTER_NAME" >/dev/null 2>&1 || true   # leftovers of a crashed run

fail() {
  local rc=$?
  trap - EXIT
  echo "!! control plane failed to start: $*" >&2
  for f in "$STATE/logs"/*.log; do
    [[ -f $f ]] || continue
    echo "---- tail of $f" >&2
    tail -n 25 "$f" >&2
  done
  [[ ${CLUSTER_KEEP_ON_FAILURE:-} == 1 ]] || "$here/down.sh" "$CLUSTER_NAME" >&2 || true
  exit $((rc ? rc : 1))
}
trap 'fail "unexpected error (line $LINENO)"' EXIT

mkdir -p "$STATE/pids" "$STATE/logs" "$STATE/pv-tmp"
rm -rf "$STATE/etcd" "$STATE/pv-tmp"/* "$STATE/logs"/*.log "$STATE/kubeconfig-host" "$STATE/host-port"
node_init
"$here/pki.sh" "$STATE/pki" "$NODE_NAME" "$NODE_IP"
pki=$STATE/pki

# --- the network namespace: only lo, only 127.0.0.0/8 -------------------------
ip netns add "$NETNS"
echo "$NETNS" >"$STATE/netns"
ip -n "$NETNS" link set lo up
links=$(ip -n "$NETNS" -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
[[ $links == "lo " ]] || fail "netns $NETNS has interfaces other than lo: $links"
log "network namespace $NETNS (interfaces: $links)"

cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: embedded
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $pki/ca.crt
users:
- name: admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: embedded
  context: {cluster: embedded, user: admin, namespace: default}
current-context: embedded
EOF
chmod 600 "$KUBECONFIG_FILE"

# start NAME COMMAND... : run in the namespace, in a session (process group) of
# its own, so down.sh can stop the whole group. nsenter and setsid exec in
# place, so $! is the component's own pid.
start() {
  local name=$1; shift
  nsenter --net="$NETNS_PATH" -- setsid "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name.pid"
}
alive_or_fail() {
  local f name
  for f in "$STATE/pids"/*.pid; do
    name=$(basename "$f" .pid)
    kill -0 "$(cat "$f")" 2>/dev/null || fail "$name exited (see $STATE/logs/$name.log)"
  done
}
# wait_for WHAT COMMAND... : poll until COMMAND succeeds; deadline $timeout s.
wait_for() {
  local what=$1; shift
  local end=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    alive_or_fail
    ((SECONDS < end)) || fail "timed out after ${timeout}s waiting for $what"
    sleep 0.1
  done
  log "$what"
}
in_ns() { nsenter --net="$NETNS_PATH" -- "$@"; }
kctl() { in_ns "$bin/kubectl" --kubeconfig="$KUBECONFIG_FILE" "$@"; }

# --- etcd ---------------------------------------------------------------------
start etcd "$bin/etcd" --name=node0 --data-dir="$STATE/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="node0=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync --auto-compaction-retention=1 --quota-backend-bytes=2147483648 --log-level=warn
wait_for "etcd healthy" in_ns curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"

# --- kube-apiserver -----------------------------------------------------------
# --endpoint-reconciler-type=none: the `kubernetes` Service gets no endpoints
# (an Endpoints address may not be loopback, and nothing in this cluster dials
# it). No aggregated APIs and no webhooks. The only address besides loopback the
# apiserver ever dials is a real node's kubelet (logs, exec, port-forward), at
# its InternalIP on the pod bridge inside this namespace. The Node authorizer
# scopes what that kubelet may read.
start kube-apiserver "$bin/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --endpoint-reconciler-type=none \
  --service-cluster-ip-range=10.96.0.0/16 \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --authorization-mode=Node,RBAC --allow-privileged=true --profiling=false \
  --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$pki/ca.crt" --kubelet-preferred-address-types=InternalIP \
  --max-requests-inflight=1000 --max-mutating-requests-inflight=500 \
  "${gates[@]}" "${api_flags[@]}"
wait_for "kube-apiserver /readyz ok" kctl get --raw=/readyz

# --- kube-controller-manager, kube-scheduler, kwok ----------------------------
# The controller manager provisions hostPath PersistentVolumes for the default
# StorageClass (kubernetes.io/host-path, --enable-hostpath-provisioner). Their
# directories are created under /tmp/hostpath_pv (fixed in Kubernetes), which for
# this one process is a private bind mount of .cache/cluster/NAME/pv-tmp (a mount
# namespace of its own). Only that folder is covered, not /tmp: the clone itself
# may live under /tmp. The empty mount point is left on the host.
mkdir -p /tmp/hostpath_pv
start kube-controller-manager unshare --mount --propagation private \
  sh -c 'mount --bind "$0" /tmp/hostpath_pv && exec "$@"' "$STATE/pv-tmp" \
  "$bin/kube-controller-manager" \
  --kubeconfig="$KUBECONFIG_FILE" --authentication-kubeconfig="$KUBECONFIG_FILE" \
  --authorization-kubeconfig="$KUBECONFIG_FILE" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false \
  --root-ca-file="$pki/ca.crt" --service-account-private-key-file="$pki/sa.key" \
  --use-service-account-credentials=false --enable-hostpath-provisioner=true \
  --authentication-skip-lookup=true \
  --kube-api-qps=500 --kube-api-burst=1000 --concurrent-statefulset-syncs=10 \
  --profiling=false "${gates[@]}"
start kube-scheduler "$bin/kube-scheduler" \
  --kubeconfig="$KUBECONFIG_FILE" --authentication-kubeconfig="$KUBECONFIG_FILE" \
  --authorization-kubeconfig="$KUBECONFIG_FILE" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false \
  --authentication-skip-lookup=true \
  --kube-api-qps=500 --kube-api-burst=1000 --profiling=false "${gates[@]}"
# kwok's Stages: its own "fast" ones, from the module the build downloaded, then ours.
stages=$(kwok_stage_dir) || fail "kwok's stages are missing"
# One change to kwok's pod-complete: a Job's pod annotated
# kwok.pytorch-chart.test/hold-running stays Running until a test removes the
# annotation (the Kueue tests keep a release running while another one waits).
hold="    - key: '.metadata.annotations[\"kwok.pytorch-chart.test/hold-running\"]'
      operator: 'DoesNotExist'"
for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
  pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
  echo "---"
  if [[ $f == pod/fast/pod-complete ]]; then
    awk -v hold="$hold" '/^  next:/ && !done {print hold; done=1} {print}' "$stages/$f.yaml"
  else
    cat "$stages/$f.yaml"
  fi
done >"$STATE/kwok.yaml"
grep -q 'hold-running' "$STATE/kwok.yaml" || fail "could not add the hold-running selector to kwok's pod-complete stage"
cat "$here/kwok-stages.yaml" >>"$STATE/kwok.yaml"
start kwok "$bin/kwok" --kubeconfig="$KUBECONFIG_FILE" --config="$STATE/kwok.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --cidr=10.244.0.0/16 --node-ip=10.243.0.1 --node-lease-duration-seconds=40

# --- simulated nodes and storage ----------------------------------------------
{
  for ((i = 0; i < nodes; i++)); do cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: kwok-node-$i
    node-role.kubernetes.io/worker: ""
EOF
  done
  echo "---"
  storage_class_yaml standard kubernetes.io/host-path Delete Immediate true
} | kctl apply -f - >/dev/null
# Capacity of each simulated node (kwok's node-initialize stage keeps a status
# that is already set): room for hundreds of ranks, and 8 GPUs each.
for ((i = 0; i < nodes; i++)); do
  kctl patch node "kwok-node-$i" --subresource=status --type=merge -p '{"status":{
    "addresses":[{"type":"InternalIP","address":"10.243.0.'$((i + 1))'"},{"type":"Hostname","address":"kwok-node-'$i'"}],
    "capacity":{"cpu":"256","memory":"2Ti","pods":"500","ephemeral-storage":"10Ti","nvidia.com/gpu":"8"},
    "allocatable":{"cpu":"256","memory":"2Ti","pods":"500","ephemeral-storage":"10Ti","nvidia.com/gpu":"8"}}}' >/dev/null
done

insecure_ok() { in_ns curl -kfsS --max-time 2 "https://127.0.0.1:$1/healthz"; }
wait_for "kube-controller-manager healthy" insecure_ok "$KCM_PORT"
wait_for "kube-scheduler healthy" insecure_ok "$SCHEDULER_PORT"
((nodes == 0)) || wait_for "$nodes kwok node(s) Ready" kctl wait --for=condition=Ready node -l type=kwok --timeout=2s
wait_for "default ServiceAccount exists" kctl -n default get serviceaccount default

if [[ $real_node == 1 ]]; then
  "$here/node-up.sh" "$CLUSTER_NAME" || fail "the real node did not join"
fi
expose || fail "could not expose the API server on the host"
trap - EXIT
echo "up $(date +%s)" >"$STATE/started"
log "control plane '$CLUSTER_NAME' ready; run clients with: hack/cluster/exec.sh ${CLUSTER_NAME} kubectl get nodes"
echo "$KUBECONFIG_FILE"

# Shared by the scripts in hack/cluster (sourced, not run). Sets root (the repository),
# bin (its bin/) and the pinned versions of hack/versions.env.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=$root/bin
# shellcheck source=../versions.env
source "$root/hack/versions.env"

# kwok_stage_dir: the folder of kwok's own Stage files (kustomize/stage) in the module the
# build downloaded; kwok's stages are read from there at start-up, never copied here.
kwok_stage_dir() {
  local dir
  dir=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') ||
    { echo "sigs.k8s.io/kwok@$KWOK_VERSION is not in the module cache: run 'make cluster-bins'" >&2; return 1; }
  echo "$dir/kustomize/stage"
}

# cluster_init NAME sets:
#   CLUSTER_NAME     NAME (default: $CLUSTER_NAME or "default")
#   STATE            .cache/cluster/NAME of this clone (or $CLUSTER_STATE_DIR)
#   NETNS            network namespace name, derived from the STATE path, so each
#                    clone and each NAME gets its own namespace and its own ports
#   NETNS_PATH       /run/netns/NETNS
#   KUBECONFIG_FILE  STATE/kubeconfig
#   *_PORT           ports inside the namespace (nothing else listens there,
#                    so they are fixed)
cluster_init() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  CLUSTER_NAME=${1:-${CLUSTER_NAME:-default}}
  [[ $CLUSTER_NAME =~ ^[a-z0-9][a-z0-9-]*$ ]] || { echo "bad cluster name: $CLUSTER_NAME" >&2; exit 2; }
  STATE=${CLUSTER_STATE_DIR:-$root/.cache/cluster/$CLUSTER_NAME}
  mkdir -p "$STATE"
  STATE=$(cd "$STATE" && pwd)
  NETNS=pytorch-chart-$(printf '%s' "$STATE" | sha256sum | cut -c1-10)
  NETNS_PATH=/run/netns/$NETNS
  KUBECONFIG_FILE=$STATE/kubeconfig
  ETCD_PORT=2379 ETCD_PEER_PORT=2380 APISERVER_PORT=6443 KCM_PORT=10257 SCHEDULER_PORT=10259
  export CLUSTER_NAME STATE NETNS NETNS_PATH KUBECONFIG_FILE
}

# The netns inode a pid lives in matches ours (guards against pid reuse).
pid_in_netns() {
  local pid=$1 want
  want=$(stat -L -c %i "$NETNS_PATH" 2>/dev/null) || return 1
  [[ $(readlink "/proc/$pid/ns/net" 2>/dev/null) == "net:[$want]" ]]
}

cluster_is_up() {
  [[ -e $NETNS_PATH && -f $STATE/started && -f $KUBECONFIG_FILE ]] || return 1
  local f
  for f in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
    [[ -f $STATE/pids/$f.pid ]] && pid_in_netns "$(cat "$STATE/pids/$f.pid")" || return 1
  done
  nsenter --net="$NETNS_PATH" -- "$(dirname "${BASH_SOURCE[0]}")/../../bin/kubectl" \
    --kubeconfig="$KUBECONFIG_FILE" get --raw=/readyz >/dev/null 2>&1
}

# node_init (after cluster_init) sets what the real node of this cluster uses
# (hack/cluster/node-up.sh):
#   NODE_NAME NODE_IP POD_CIDR  the node, its IP on the pod bridge cni0, the pod /24
#   CLUSTER_DOMAIN              the zone CoreDNS serves (the chart's clusterDomain default)
#   CGROUP_ROOT                 parent cgroup of every pod, in each hierarchy
#   NODE_CRI_SOCKET             containerd's socket
#   NODE_CONTAINERD_ROOT        containerd's root, kept across restarts (pulled images)
#   REGISTRY_ADDR REGISTRY_DIR  the image registry in the namespace and its storage
#                               (shared by every cluster of this clone)
node_init() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  NODE_NAME=node0 NODE_IP=10.245.0.1 POD_CIDR=10.245.0.0/24 CLUSTER_DOMAIN=cluster.local
  NODE_HEALTHZ_PORT=10248
  CGROUP_ROOT=/$NETNS
  NODE_CRI_SOCKET=$STATE/node/run/containerd.sock
  NODE_CONTAINERD_ROOT=$STATE/node/containerd-root
  REGISTRY_ADDR=127.0.0.1:5000
  REGISTRY_DIR=$root/.cache/registry
  # The API server's --service-cluster-ip-range (hack/cluster/up.sh); kube-proxy routes it inside
  # the namespace, and only there (docs/network-policy.md). The ports of kube-router's health
  # check and kube-proxy's healthz and metrics, inside the namespace.
  SERVICE_CIDR=10.96.0.0/16 KUBE_ROUTER_HEALTH_PORT=20244 KUBE_PROXY_HEALTHZ_PORT=10256 KUBE_PROXY_METRICS_PORT=10249
  export SERVICE_CIDR KUBE_ROUTER_HEALTH_PORT KUBE_PROXY_HEALTHZ_PORT KUBE_PROXY_METRICS_PORT
  export NODE_NAME NODE_IP POD_CIDR CLUSTER_DOMAIN CGROUP_ROOT NODE_CRI_SOCKET NODE_CONTAINERD_ROOT REGISTRY_ADDR REGISTRY_DIR
}

# node_cgroup_kill: SIGKILL every process left in the node's pod cgroups (containers
# live in network namespaces of their own, so `ip netns pids` does not list them),
# then remove the cgroups. Returns once they are gone (deadline 10 s).
node_cgroup_kill() {
  local h end=$((SECONDS + 10)) left
  while :; do
    left=0
    for h in /sys/fs/cgroup/*/; do
      [[ -d $h${CGROUP_ROOT#/} ]] || continue
      while read -r pid; do
        [[ -n $pid ]] && { kill -KILL "$pid" 2>/dev/null; left=1; }
      done < <(find "$h${CGROUP_ROOT#/}" -name cgroup.procs -exec cat {} + 2>/dev/null)
    done
    ((left && SECONDS < end)) || break
    sleep 0.1
  done
  for h in /sys/fs/cgroup/*/; do
    [[ -d $h${CGROUP_ROOT#/} ]] && find "$h${CGROUP_ROOT#/}" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}

# node_is_up: the real node of this cluster runs (its components live in our netns).
node_is_up() {
  node_init
  [[ -f $STATE/node-started ]] || return 1
  local f
  for f in node-anchor registry containerd coredns kubelet kube-router kube-proxy; do
    [[ -f $STATE/pids/$f.pid ]] && pid_in_netns "$(cat "$STATE/pids/$f.pid")" || return 1
  done
}

# storage_class_yaml NAME PROVISIONER RECLAIM_POLICY BINDING_MODE DEFAULT(true|false):
# a StorageClass manifest on stdout.
storage_class_yaml() {
  cat <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $1
  annotations:
    storageclass.kubernetes.io/is-default-class: "$5"
provisioner: $2
reclaimPolicy: $3
volumeBindingMode: $4
EOF
}

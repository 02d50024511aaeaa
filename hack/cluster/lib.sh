# Shared by up.sh, down.sh and exec.sh (sourced, not run).
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

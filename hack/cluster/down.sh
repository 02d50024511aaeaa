#!/usr/bin/env bash
# Stop the embedded control plane started by up.sh and delete its network
# namespace. Safe to run any number of times, also after a crash.
#   - each component's process group (setsid in up.sh) gets SIGTERM, then
#     SIGKILL after a deadline; a pid is only signalled while it still lives in
#     our namespace (guards against pid reuse);
#   - whatever else still runs inside the namespace (a client left behind by a
#     killed test run) is listed by `ip netns pids` and stopped the same way.
#   - a real node's containers (own network namespaces, under the node's cgroups)
#     are killed through those cgroups, which are then removed.
# usage: hack/cluster/down.sh [NAME] [--purge]   (--purge also deletes the state dir)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
purge=0 name=
for a in "$@"; do
  case $a in --purge) purge=1 ;; *) name=$a ;; esac
done
# shellcheck source=lib.sh
source "$here/lib.sh"
cluster_init "$name"

# ours PID: the process still lives in our namespace, or is our host-side
# forwarder (its command line names our namespace) - never a reused pid.
ours() {
  pid_in_netns "$1" || tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "-netns $NETNS_PATH "
}

pids=()
for c in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
  f=$STATE/pids/$c.pid
  [[ -f $f ]] || continue
  pid=$(cat "$f")
  if pid_in_netns "$pid"; then pids+=("$pid"); kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; fi
done
if [[ -e $NETNS_PATH ]]; then
  for pid in $(ip netns pids "$NETNS" 2>/dev/null); do pids+=("$pid"); kill -TERM "$pid" 2>/dev/null; done
fi
# The host-side forwarder (CLUSTER_EXPOSE=1) lives outside the namespace: only
# signal it while its command line still names our namespace.
f=$STATE/pids/host-nsproxy.pid
if [[ -f $f ]]; then
  pid=$(cat "$f")
  if ours "$pid"; then
    pids+=("$pid"); kill -TERM "$pid" 2>/dev/null
  fi
fi

# Wait (deadline 10 s) for every signalled process, then SIGKILL what is left.
end=$((SECONDS + 10))
for pid in "${pids[@]}"; do
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.05; done
done
for pid in "${pids[@]}"; do
  if kill -0 "$pid" 2>/dev/null && ours "$pid"; then
    kill -KILL -- "-$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null
  fi
done
if [[ -e $NETNS_PATH ]]; then
  for pid in $(ip netns pids "$NETNS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
fi
# A real node's containers live in network namespaces of their own, under the
# node's cgroups: kill what is left there (hack/cluster/node-up.sh).
node_init
node_cgroup_kill
[[ -e $NETNS_PATH ]] && { ip netns del "$NETNS" 2>/dev/null || true; }
rm -rf "$STATE/pids" "$STATE/started" "$STATE/node-started" "$STATE/netns" "$STATE/kubeconfig-host" "$STATE/host-port"
((${#pids[@]})) && echo ">> stopped $(printf '%s\n' "${pids[@]}" | sort -u | wc -l) process(es) of cluster '$CLUSTER_NAME', deleted netns $NETNS" >&2
if ((purge)); then
  rm -rf "$STATE"
  echo ">> removed $STATE" >&2
fi
exit 0

#!/usr/bin/env bash
# Push the images a node runs for the chart (shell, git, pytorch, pause from .cache/images/) to
# REGISTRY (plain HTTP), sending only the blobs it lacks (hack/images/push.py). With NETNS_PATH,
# from inside that network namespace: the node's registry listens on 127.0.0.1 there.
# usage: hack/images/push-all.sh REGISTRY [NETNS_PATH]      e.g. 127.0.0.1:5000 /run/netns/x
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
registry=${1:?usage: hack/images/push-all.sh REGISTRY [NETNS_PATH]}
netns=${2:-}
layouts=()
for n in shell git pytorch pause; do layouts+=("$here/../../.cache/images/$n"); done
if [[ -n $netns ]]; then
  exec nsenter --net="$netns" -- python3 "$here/push.py" "$registry" "${layouts[@]}"
fi
exec python3 "$here/push.py" "$registry" "${layouts[@]}"

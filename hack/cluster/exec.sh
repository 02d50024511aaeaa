#!/usr/bin/env bash
# Run a client command against the embedded control plane, inside its network
# namespace, with KUBECONFIG set and bin/ first on PATH (bin/kubectl is the
# cluster's own version; bin/helm is Helm 4).
# usage: hack/cluster/exec.sh [NAME] COMMAND [ARGS...]
#   hack/cluster/exec.sh demo kubectl get pods -A
#   hack/cluster/exec.sh demo bash          (an interactive shell in the namespace)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
name=
if [[ $# -gt 1 && $1 =~ ^[a-z0-9][a-z0-9-]*$ && -d $root/.cache/cluster/$1 ]]; then name=$1; shift; fi
cluster_init "$name"
[[ -e $NETNS_PATH ]] || { echo "cluster '$CLUSTER_NAME' is not up: run hack/cluster/up.sh $CLUSTER_NAME" >&2; exit 1; }
export KUBECONFIG=$KUBECONFIG_FILE PATH=$root/bin:$PATH
exec nsenter --net="$NETNS_PATH" -- "$@"

#!/usr/bin/env bash
# `make demo`: start the embedded control plane "demo" with a real node (if it is not
# up), install the chart from this checkout in distributed mode (worldSize 4, the
# example DDP script) into namespace "demo" (Pod Security `restricted`), wait until
# every rank is training, and print each rank's pod, node and status with the last
# lines of its training log. Everything stays running, reachable from the host
# through bin/cluster-nsproxy (.cache/cluster/demo/kubeconfig-host).
# `make demo-down` (hack/cluster/down.sh demo) stops it.
# env: DEMO_WORLD_SIZE (4), DEMO_RELEASE (demo), DEMO_NAMESPACE (demo),
#      DEMO_ARGS (the example script's arguments)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
world=${DEMO_WORLD_SIZE:-4}
release=${DEMO_RELEASE:-demo}
ns=${DEMO_NAMESPACE:-demo}
args=${DEMO_ARGS:---epochs 500 --steps 20 --step-seconds 0.05}
[[ -x $root/bin/helm ]] || { echo "bin/helm is missing: run 'make setup' (or 'make tools')" >&2; exit 1; }

start=$SECONDS
kubeconfig=$(CLUSTER_EXPOSE=1 CLUSTER_REAL_NODE=1 CLUSTER_NODES=0 "$here/up.sh" demo)
host_kubeconfig=$(dirname "$kubeconfig")/kubeconfig-host
x() { "$here/exec.sh" demo "$@"; }

x kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $ns
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
EOF
# The images hack/images/build.sh built, from the node's registry (global.imageRegistry).
mapfile -t images < <(PYTHONPATH="$root/tests" "$root/.venv/bin/python" -m harness.images)
((${#images[@]})) || { echo "the images are not built: run 'make images'" >&2; exit 1; }
sets=(--set mode=distributed --set "worldSize=$world" --set examples.enabled=true --set "entrypoint.args=$args")
for s in "${images[@]}"; do sets+=(--set "$s"); done
echo ">> helm upgrade --install $release . -n $ns ${sets[*]} --wait" >&2
x helm upgrade --install "$release" "$root" -n "$ns" "${sets[@]}" --wait --timeout 300s >/dev/null

selector=app.kubernetes.io/instance=$release
pods=$(x kubectl -n "$ns" get pods -l "$selector" -o name)
deadline=$((SECONDS + 180))
for pod in $pods; do
  until x kubectl -n "$ns" logs "$pod" -c pytorch 2>/dev/null | grep -q ' step .* mean loss '; do
    ((SECONDS < deadline)) || { echo "timed out waiting for $pod to log a loss" >&2; x kubectl -n "$ns" logs "$pod" -c pytorch >&2; exit 1; }
    sleep 1
  done
done

echo
x kubectl -n "$ns" get pods -l "$selector" --sort-by='.metadata.name' -o custom-columns=\
'POD:.metadata.name,RANK:.metadata.labels.apps\.kubernetes\.io/pod-index,NODE:.spec.nodeName,STATUS:.status.phase,READY:.status.containerStatuses[0].ready,RESTARTS:.status.containerStatuses[0].restartCount,POD IP:.status.podIP'
for pod in $pods; do
  echo
  echo "== ${pod#pod/}: last lines of its training log"
  x kubectl -n "$ns" logs "$pod" -c pytorch --tail=3 | sed 's/^/   /'
done
cat <<EOF

Demo ready in $((SECONDS - start))s: $world ranks train in real containers (kubelet + containerd on
node0, pod network 10.245.0.0/24 inside network namespace $(cat "$root/.cache/cluster/demo/netns")).
kubeconfig: $host_kubeconfig
  (API server forwarded from 127.0.0.1:$(cat "$root/.cache/cluster/demo/host-port") on this host), e.g.:
  KUBECONFIG=$host_kubeconfig bin/kubectl -n $ns logs -f $release-pytorch-0
or run clients inside the namespace (kubeconfig $kubeconfig):
  hack/cluster/exec.sh demo helm -n $ns status $release
  hack/cluster/exec.sh demo kubectl -n $ns exec $release-pytorch-0 -- id
Tear down with: make demo-down
EOF

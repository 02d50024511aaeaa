#!/usr/bin/env bash
# `make demo`: start the embedded control plane "demo" (if it is not up), install
# the chart from this checkout in distributed mode (worldSize 4) into namespace
# "demo" (Pod Security `restricted`), print every rank, and leave it all running,
# reachable from the host through bin/cluster-nsproxy (.cache/cluster/demo/kubeconfig-host).
# `make demo-down` (hack/cluster/down.sh demo) stops it.
# env: DEMO_WORLD_SIZE (4), DEMO_RELEASE (demo), DEMO_NAMESPACE (demo)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
world=${DEMO_WORLD_SIZE:-4}
release=${DEMO_RELEASE:-demo}
ns=${DEMO_NAMESPACE:-demo}
[[ -x $root/bin/helm ]] || { echo "bin/helm is missing: run 'make setup' (or 'make tools')" >&2; exit 1; }

start=$SECONDS
kubeconfig=$(CLUSTER_EXPOSE=1 "$here/up.sh" demo)
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
echo ">> helm upgrade --install $release $root -n $ns --set mode=distributed --set worldSize=$world --wait" >&2
x helm upgrade --install "$release" "$root" -n "$ns" --set mode=distributed --set "worldSize=$world" \
  --wait --timeout 180s >/dev/null

selector=app.kubernetes.io/instance=$release
deadline=$((SECONDS + 120))
until [[ $(x kubectl -n "$ns" get pods -l "$selector" --field-selector=status.phase=Running -o name | wc -l) -eq $world ]]; do
  ((SECONDS < deadline)) || { echo "timed out waiting for $world Running pods" >&2; x kubectl -n "$ns" get pods -o wide >&2; exit 1; }
  sleep 0.2
done

# RANK comes from a fieldRef (metadata.labels['apps.kubernetes.io/pod-index']):
# resolve it against each pod, as the kubelet would.
x kubectl -n "$ns" get pods -l "$selector" -o json | python3 -c '
import json, sys
pods = json.load(sys.stdin)["items"]
def env(pod):
    c = next(c for c in pod["spec"]["containers"] if c["name"] == "pytorch")
    out = {}
    for e in c.get("env", []):
        if "value" in e:
            out[e["name"]] = e["value"]
        elif "fieldRef" in e.get("valueFrom", {}):
            path = e["valueFrom"]["fieldRef"]["fieldPath"]
            if path.startswith("metadata.labels["):
                out[e["name"]] = pod["metadata"]["labels"].get(path[len("metadata.labels[") + 1:-2], "")
            elif path.startswith("metadata."):
                out[e["name"]] = pod["metadata"].get(path.split(".", 1)[1], "")
    return out
rows = [("POD", "RANK", "WORLD_SIZE", "MASTER_ADDR", "STATUS", "NODE", "POD IP (fake)")]
for p in sorted(pods, key=lambda p: int(p["metadata"]["labels"].get("apps.kubernetes.io/pod-index", 0))):
    e = env(p)
    rows.append((p["metadata"]["name"], e.get("RANK", "?"), e.get("WORLD_SIZE", "?"), e.get("MASTER_ADDR", "?"),
                 p["status"].get("phase", "?"), p["spec"].get("nodeName", ""), p["status"].get("podIP", "")))
w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for r in rows:
    print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip())
'
cat <<EOF

Demo ready in $((SECONDS - start))s. The control plane stays up (simulated nodes: kwok; no container runs).
kubeconfig: $host_kubeconfig
  (API server forwarded from 127.0.0.1:$(cat "$root/.cache/cluster/demo/host-port") on this host into network
   namespace $(cat "$root/.cache/cluster/demo/netns"), where it listens on 127.0.0.1:6443), e.g.:
  KUBECONFIG=$host_kubeconfig bin/kubectl -n $ns get pods,svc,pvc
or run clients inside the namespace (kubeconfig $kubeconfig):
  hack/cluster/exec.sh demo helm -n $ns status $release
  hack/cluster/exec.sh demo bash            # a shell with KUBECONFIG set
Tear down with: make demo-down
EOF

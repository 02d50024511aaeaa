#!/usr/bin/env bash
# Start Kueue (bin/kueue) next to a running embedded control plane, inside its network
# namespace, with its webhooks served over TLS on 127.0.0.1:9443:
#   1. certificates (openssl, once per state dir): a CA and a serving cert for 127.0.0.1,
#      in STATE/kueue/pki;
#   2. the kueue-system Namespace, Kueue's CRDs and webhook configurations, made from Kueue's
#      own module in the Go module cache by kueue-manifests.py (webhooks and CRD conversion
#      point at https://127.0.0.1:9443 with our CA), applied server-side;
#   3. Kueue itself, in a mount namespace of its own where /etc is an overlay (tmpfs upper
#      layer) holding /etc/kueue/metrics/certs, the fixed path Kueue reads its metrics
#      certificate from when its internal cert management is off; nothing is written to the
#      host's /etc. Configuration: STATE/kueue/config.yaml (frameworks batch/job, pod,
#      statefulset, deployment; no leader election; visibility server off).
#   4. waits (deadline CLUSTER_TIMEOUT, 90 s) for /readyz, then for the Job webhook: a
#      server-side dry run of a queued Job must come back suspended.
# Idempotent: a Kueue already running for this control plane is left alone. hack/cluster/down.sh
# stops it with the rest (it runs in the network namespace).
# usage: hack/cluster/kueue.sh NAME
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
cluster_init "${1:?usage: hack/cluster/kueue.sh NAME}"
timeout=${CLUSTER_TIMEOUT:-90}
WEBHOOK_PORT=9443 HEALTH_PORT=8081 METRICS_PORT=8443
t0=$SECONDS
log() { echo ">> [kueue $((SECONDS - t0))s] $*" >&2; }

[[ -x $bin/kueue ]] || { echo "bin/kueue is missing: run 'make cluster-bins' (or 'make setup')" >&2; exit 1; }
cluster_is_up || { echo "cluster '$CLUSTER_NAME' is not up: run hack/cluster/up.sh $CLUSTER_NAME first" >&2; exit 1; }
in_ns() { nsenter --net="$NETNS_PATH" -- "$@"; }
kctl() { in_ns "$bin/kubectl" --kubeconfig="$KUBECONFIG_FILE" "$@"; }
ready() { in_ns curl -fsS --max-time 2 "http://127.0.0.1:$HEALTH_PORT/readyz" >/dev/null 2>&1; }

dir=$STATE/kueue
pidfile=$STATE/pids/kueue.pid
if [[ -f $pidfile ]] && pid_in_netns "$(cat "$pidfile")" && ready; then
  log "already running (pid $(cat "$pidfile"))"
  exit 0
fi
mkdir -p "$dir/pki" "$dir/overlay" "$STATE/logs" "$STATE/pids"

# --- 1. certificates ------------------------------------------------------------
if [[ ! -f $dir/pki/.complete ]]; then
  (
    cd "$dir/pki"
    umask 077
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=pytorch-chart-kueue-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt 2>/dev/null
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out tls.key 2>/dev/null
    openssl req -new -key tls.key -subj "/CN=kueue-webhook" -out tls.csr 2>/dev/null
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >tls.ext
    openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
      -extfile tls.ext -out tls.crt 2>/dev/null
    rm -f tls.csr tls.ext ca.srl
    chmod 644 ca.crt tls.crt
    touch .complete
  )
  log "certificates in $dir/pki"
fi

# --- 2. CRDs, webhooks ----------------------------------------------------------
module=$(go mod download -json "sigs.k8s.io/kueue@$KUEUE_VERSION" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
python=$root/.venv/bin/python
[[ -x $python ]] || { echo ".venv is missing: run 'make venv'" >&2; exit 1; }
"$python" "$here/kueue-manifests.py" "$module" "$dir/pki/ca.crt" "$WEBHOOK_PORT" >"$dir/manifests.yaml"
kctl apply --server-side --force-conflicts --field-manager=pytorch-chart-kueue -f "$dir/manifests.yaml" >/dev/null
# A CRD has no conditions for a moment after it is created, and `kubectl wait` fails on that.
end=$((SECONDS + timeout))
until kctl wait --for=condition=Established crd --all --timeout=5s >/dev/null 2>&1; do
  ((SECONDS < end)) || { echo "!! Kueue's CRDs were not Established after ${timeout}s" >&2; exit 1; }
  sleep 0.2
done
log "CRDs and webhook configurations applied (from $module)"

# --- 3. Kueue -------------------------------------------------------------------
cat >"$dir/config.yaml" <<YAML
apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
namespace: kueue-system
health:
  healthProbeBindAddress: 127.0.0.1:$HEALTH_PORT
metrics:
  bindAddress: 127.0.0.1:$METRICS_PORT
webhook:
  host: 127.0.0.1
  port: $WEBHOOK_PORT
  certDir: $dir/pki
leaderElection:
  leaderElect: false
internalCertManagement:
  enable: false
integrations:
  frameworks:
    - batch/job
    - pod
    - statefulset
    - deployment
YAML
# The overlay's upper layer is a tmpfs mounted on STATE/kueue/overlay inside Kueue's own
# mount namespace: /etc/kueue/metrics/certs exists for Kueue alone.
nsenter --net="$NETNS_PATH" -- setsid unshare --mount --propagation private sh -ec '
  mount -t tmpfs tmpfs "$1"
  mkdir "$1/upper" "$1/work"
  mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc
  mkdir -p /etc/kueue/metrics/certs
  cp "$2/tls.crt" "$2/tls.key" /etc/kueue/metrics/certs/
  shift 2
  exec "$@"' sh "$dir/overlay" "$dir/pki" \
  env KUBECONFIG="$KUBECONFIG_FILE" "$bin/kueue" --config="$dir/config.yaml" \
  --feature-gates=VisibilityOnDemand=false --zap-log-level=info \
  >"$STATE/logs/kueue.log" 2>&1 </dev/null &
echo $! >"$pidfile"

fail() {
  echo "!! kueue did not get ready: $*" >&2
  tail -n 40 "$STATE/logs/kueue.log" >&2
  exit 1
}
end=$((SECONDS + timeout))
until ready; do
  kill -0 "$(cat "$pidfile")" 2>/dev/null || fail "it exited (see $STATE/logs/kueue.log)"
  ((SECONDS < end)) || fail "timed out after ${timeout}s waiting for /readyz"
  sleep 0.2
done
log "/readyz ok (pid $(cat "$pidfile"))"

probe='apiVersion: batch/v1
kind: Job
metadata:
  name: kueue-webhook-probe
  namespace: default
  labels:
    kueue.x-k8s.io/queue-name: probe
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: probe
          image: probe
'
until [[ $(kctl create --dry-run=server -o jsonpath='{.spec.suspend}' -f - <<<"$probe" 2>/dev/null) == true ]]; do
  kill -0 "$(cat "$pidfile")" 2>/dev/null || fail "it exited (see $STATE/logs/kueue.log)"
  ((SECONDS < end)) || fail "timed out after ${timeout}s waiting for the Job webhook to suspend a queued Job"
  sleep 0.2
done
log "webhooks serve over TLS on 127.0.0.1:$WEBHOOK_PORT (a queued Job comes back suspended)"

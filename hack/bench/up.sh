#!/usr/bin/env bash
# Start a control plane for the benchmark (docs/bench.md) and, on request, the peers'
# controllers next to it, all inside the control plane's network namespace:
#
#   1. hack/cluster/up.sh NAME with no simulated nodes of its own (CLUSTER_NODES=0);
#   2. a second kwok with kwok's own stages less pod-complete (every pod stays Running,
#      Job-owned ones too) and BENCH_NODES nodes of 500 pods each that only it manages;
#   3. per PEER argument:
#        pytorchjob  Kubeflow training-operator (PyTorchJob only), its CRD and its validating
#                    webhook;
#        trainjob    JobSet and Kubeflow Trainer v2, their CRDs and webhooks, and the
#                    ClusterTrainingRuntime `bench-torch` (hack/bench/manifests/).
#      CRDs come from Go's module cache (`go mod download -json MODULE@VERSION`), at the
#      versions of hack/versions.env; the binaries from hack/bench/operators.sh.
#      Webhooks are served over TLS on 127.0.0.1 with a certificate of our own (STATE/bench/pki)
#      and registered by URL. Leader election is off and metrics ports are closed.
#
# Idempotent: what already runs is kept. hack/cluster/down.sh NAME stops everything (it
# stops whatever lives in the namespace). Prints the kubeconfig path as its last line.
# usage: hack/bench/up.sh NAME [pytorchjob] [trainjob]
# env:   BENCH_NODES simulated nodes (4, room for 2,000 pods)  BENCH_TIMEOUT per wait (90 s)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$root/bin
name=${1:?usage: hack/bench/up.sh NAME [pytorchjob] [trainjob]}
shift
# shellcheck source=../versions.env
source "$here/../versions.env"
nodes=${BENCH_NODES:-4}
timeout=${BENCH_TIMEOUT:-90}
for peer in "$@"; do
  case $peer in pytorchjob | trainjob) ;; *) echo "unknown peer: $peer (pytorchjob, trainjob)" >&2; exit 2 ;; esac
done

CLUSTER_NODES=0 "$root/hack/cluster/up.sh" "$name" >/dev/null
# shellcheck source=../cluster/lib.sh
source "$root/hack/cluster/lib.sh"
cluster_init "$name"
bench=$STATE/bench
mkdir -p "$bench"

t0=$SECONDS
log() { echo ">> [bench +$((SECONDS - t0))s] $*" >&2; }
in_ns() { nsenter --net="$NETNS_PATH" -- "$@"; }
kctl() { in_ns "$bin/kubectl" --kubeconfig="$KUBECONFIG_FILE" "$@"; }
running() { [[ -f $STATE/pids/$1.pid ]] && pid_in_netns "$(cat "$STATE/pids/$1.pid")"; }
# start NAME [VAR=VALUE...] COMMAND...: in the namespace, in a process group of its own.
start() {
  local n=$1; shift
  nsenter --net="$NETNS_PATH" -- setsid env KUBECONFIG="$KUBECONFIG_FILE" "$@" \
    >"$STATE/logs/$n.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$n.pid"
}
# wait_for WHAT PROCESS COMMAND...: poll COMMAND until it succeeds; fail when PROCESS exits
# or after $timeout s, with the tail of its log.
wait_for() {
  local what=$1 proc=$2; shift 2
  local end=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ! running "$proc" || ((SECONDS >= end)); then
      echo "!! $what: not after ${timeout}s or $proc exited; tail of $STATE/logs/$proc.log:" >&2
      tail -n 30 "$STATE/logs/$proc.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  log "$what"
}
moddir() { (cd "$bench" && GOFLAGS=-mod=mod go mod download -json "$1@$2") | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }

# --- the benchmark's kwok and nodes ------------------------------------------------------
[[ -x $bin/kwok ]] || { echo "bin/kwok is missing: run 'make cluster-bins'" >&2; exit 1; }
if ! running bench-kwok; then
  # kwok's own "fast" stages from the module the build downloaded, less pod-complete: every
  # pod stays Running, as a training job's ranks do, whoever owns it (the cluster suite's kwok
  # completes a Running pod owned by a Job at once, so an Indexed Job's ranks would never all
  # be Running together).
  stages=$(kwok_stage_dir) || exit 1
  for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-delete; do
    echo "---"
    cat "$stages/$f.yaml"
  done >"$bench/kwok.yaml"
  start bench-kwok "$bin/kwok" --kubeconfig="$KUBECONFIG_FILE" --config="$bench/kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=bench.pytorch-chart/kwok=fake \
    --cidr=10.246.0.0/16 --node-ip=10.247.0.1 --node-lease-duration-seconds=40
fi
for ((i = 0; i < nodes; i++)); do cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: bench-node-$i
  annotations: {bench.pytorch-chart/kwok: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {type: bench-kwok, kubernetes.io/hostname: bench-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
status:
  addresses: [{type: InternalIP, address: 10.247.0.$((i + 1))}, {type: Hostname, address: bench-node-$i}]
  capacity: &capacity {cpu: "512", memory: 4Ti, pods: "500", ephemeral-storage: 10Ti, nvidia.com/gpu: "8"}
  allocatable: *capacity
EOF
done | kctl apply -f - >/dev/null
# The default StorageClass binds a claim when its pod is scheduled (WaitForFirstConsumer), as
# most CSI storage classes do, with the same hostPath provisioner as the cluster suite's
# "standard" (Immediate), which stops being the default here. With Immediate binding the
# scheduler retries every rank whose claim is not bound yet (docs/bench.md).
{
  storage_class_yaml standard kubernetes.io/host-path Delete Immediate false
  echo "---"
  storage_class_yaml bench-wait kubernetes.io/host-path Delete WaitForFirstConsumer true
} | kctl apply -f - >/dev/null
wait_for "$nodes benchmark node(s) Ready" bench-kwok \
  kctl wait --for=condition=Ready node -l type=bench-kwok --timeout=2s

# --- peers -------------------------------------------------------------------------------
# One CA and one serving certificate for every webhook. The CA's key is PKCS#1 RSA and its
# names include the CA names the operators' cert rotators check (open-policy-agent/
# cert-controller), and the serving certificate names their Services: the rotators then
# find a valid pair in their Secret and keep it instead of minting one that names no IP.
webhook_pki() {
  local d=$bench/pki
  [[ -f $d/.complete ]] && return 0
  rm -rf "$d"; mkdir -p "$d/serving"
  (
    cd "$d"; umask 077
    openssl genrsa -traditional -out ca.key 2048 2>/dev/null
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=pytorch-chart-bench-webhook-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -addext "subjectAltName=DNS:training-operator-ca,DNS:kubeflow-trainer-ca" -out ca.crt
    openssl genrsa -traditional -out tls.key 2048 2>/dev/null
    openssl req -new -key tls.key -subj "/CN=pytorch-chart-bench-webhooks" -out tls.csr
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" \
      "subjectAltName=IP:127.0.0.1,DNS:training-operator.kubeflow.svc,DNS:kubeflow-trainer-controller-manager.kubeflow-system.svc" >tls.ext
    openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
      -extfile tls.ext -out tls.crt 2>/dev/null
    rm -f tls.csr tls.ext ca.srl
    cp tls.crt tls.key serving/
    chmod 644 ./*.crt serving/tls.crt
  )
  touch "$d/.complete"
}
# The cert rotators of training-operator and Trainer look for tls.crt in the fixed folder
# /tmp/k8s-webhook-server/serving-certs, which is also controller-runtime's default. Each
# operator gets a private mount namespace where that folder is a bind mount of our
# STATE/bench/pki/serving: only the empty mount point is created on the host.
start_with_certs() {   # NAME [VAR=VALUE...] COMMAND...
  local n=$1 envs=(); shift
  while [[ $1 == *=* ]]; do envs+=("$1"); shift; done
  mkdir -p /tmp/k8s-webhook-server/serving-certs
  start "$n" "${envs[@]}" unshare --mount --propagation private \
    sh -c 'mount --bind "$0" /tmp/k8s-webhook-server/serving-certs && exec "$@"' "$bench/pki/serving" "$@"
}
cert_secret() {   # NAMESPACE NAME
  kctl create namespace "$1" --dry-run=client -o yaml | kctl apply -f - >/dev/null
  kctl -n "$1" create secret generic "$2" --from-file="$bench/pki/ca.crt" --from-file="$bench/pki/ca.key" \
    --from-file="$bench/pki/tls.crt" --from-file="$bench/pki/tls.key" --dry-run=client -o yaml | kctl apply -f - >/dev/null
}
# webhooks KIND(Validating|Mutating) CONFIG-NAME PORT, then on stdin one line per webhook:
#   NAME PATH GROUP(- for the core group) VERSION RESOURCE OPERATIONS [LABEL that must exist]
webhooks() {
  local kind=$1 config=$2 port=$3 ca
  ca=$(base64 -w0 <"$bench/pki/ca.crt")
  {
    printf 'apiVersion: admissionregistration.k8s.io/v1\nkind: %sWebhookConfiguration\nmetadata: {name: %s}\nwebhooks:\n' "$kind" "$config"
    while read -r wh path group version resource ops label; do
      [[ -n $wh ]] || continue
      [[ $group != - ]] || group=
      printf -- '- name: %s\n  admissionReviewVersions: [v1]\n  sideEffects: None\n  failurePolicy: Fail\n' "$wh"
      printf '  clientConfig: {url: "https://127.0.0.1:%s%s", caBundle: %s}\n' "$port" "$path" "$ca"
      printf '  rules: [{apiGroups: ["%s"], apiVersions: [%s], resources: [%s], operations: [%s]}]\n' \
        "$group" "$version" "$resource" "$ops"
      [[ -z $label ]] || printf '  objectSelector: {matchExpressions: [{key: %s, operator: Exists}]}\n' "$label"
    done
  } | kctl apply -f - >/dev/null
}
crds() {   # FILE...
  local f
  for f in "$@"; do kctl apply --server-side --force-conflicts -f "$f" >/dev/null; done
  # Polled rather than `kubectl wait`, which fails outright while a new CRD has no status yet.
  local end=$((SECONDS + 60))
  for f in "$@"; do
    until [[ $(kctl get -f "$f" -o 'jsonpath={.status.conditions[?(@.type=="Established")].status}' 2>/dev/null) == True ]]; do
      ((SECONDS < end)) || { echo "the CRD of $f is not Established after 60 s" >&2; exit 1; }
      sleep 0.2
    done
  done
}
readyz() { in_ns curl -fsS --max-time 2 "http://127.0.0.1:$1/readyz"; }
need_bin() { [[ -x $bin/$1 ]] || { echo "bin/$1 is missing: run 'make bench-tools' (hack/bench/operators.sh)" >&2; exit 1; }; }

peer_pytorchjob() {
  need_bin training-operator
  running training-operator && return 0
  local dir
  dir=$(moddir "$TRAINING_OPERATOR_MODULE" "$TRAINING_OPERATOR_VERSION")
  crds "$dir/manifests/base/crds/kubeflow.org_pytorchjobs.yaml"
  webhook_pki
  cert_secret kubeflow training-operator-webhook-cert
  webhooks Validating validator.training-operator.kubeflow.org 9443 <<'EOF'
validator.pytorchjob.training-operator.kubeflow.org /validate-kubeflow-org-v1-pytorchjob kubeflow.org v1 pytorchjobs CREATE,UPDATE
EOF
  start_with_certs training-operator MY_POD_NAMESPACE=kubeflow "$bin/training-operator" \
    --enable-scheme=pytorchjob --leader-elect=false --metrics-bind-address=0 \
    --health-probe-bind-address=127.0.0.1:8091 --webhook-server-port=9443
  wait_for "training-operator $TRAINING_OPERATOR_VERSION ready" training-operator readyz 8091
}

peer_trainjob() {
  need_bin jobset; need_bin trainer-controller-manager
  local jdir tdir
  if ! running jobset; then
    jdir=$(moddir "$JOBSET_MODULE" "$JOBSET_VERSION")
    crds "$jdir/config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml"
    webhook_pki
    webhooks Mutating jobset-bench 9445 <<'EOF'
mjobset.kb.io /mutate-jobset-x-k8s-io-v1alpha2-jobset jobset.x-k8s.io v1alpha2 jobsets CREATE
mpod.kb.io /mutate--v1-pod - v1 pods CREATE jobset.sigs.k8s.io/jobset-name
EOF
    webhooks Validating jobset-bench 9445 <<'EOF'
vjobset.kb.io /validate-jobset-x-k8s-io-v1alpha2-jobset jobset.x-k8s.io v1alpha2 jobsets CREATE,UPDATE
vpod.kb.io /validate--v1-pod - v1 pods CREATE jobset.sigs.k8s.io/jobset-name
EOF
    # JobSet reads its options from a Configuration; its own cert management is switched off
    # and its webhook server reads our serving pair directly.
    cat >"$bench/jobset-config.yaml" <<EOF
apiVersion: config.jobset.x-k8s.io/v1alpha1
kind: Configuration
leaderElection: {leaderElect: false}
internalCertManagement: {enable: false}
webhook: {port: 9445, certDir: $bench/pki/serving}
health: {healthProbeBindAddress: "127.0.0.1:8093"}
metrics: {bindAddress: "0"}
EOF
    start jobset "$bin/jobset" --config="$bench/jobset-config.yaml"
    wait_for "jobset $JOBSET_VERSION ready" jobset readyz 8093
  fi
  if ! running trainer; then
    tdir=$(moddir "$TRAINER_MODULE" "$TRAINER_VERSION")
    crds "$tdir"/manifests/base/crds/trainer.kubeflow.org_*.yaml
    webhook_pki
    cert_secret kubeflow-system kubeflow-trainer-webhook-cert
    webhooks Validating validator.trainer.kubeflow.org 9444 <<'EOF'
validator.trainjob.trainer.kubeflow.org /validate-trainer-kubeflow-org-v1alpha1-trainjob trainer.kubeflow.org v1alpha1 trainjobs CREATE,UPDATE
validator.trainingruntime.trainer.kubeflow.org /validate-trainer-kubeflow-org-v1alpha1-trainingruntime trainer.kubeflow.org v1alpha1 trainingruntimes CREATE,UPDATE
validator.clustertrainingruntime.trainer.kubeflow.org /validate-trainer-kubeflow-org-v1alpha1-clustertrainingruntime trainer.kubeflow.org v1alpha1 clustertrainingruntimes CREATE,UPDATE
EOF
    start_with_certs trainer "$bin/trainer-controller-manager" \
      --metrics-bind-address=0 --health-probe-bind-address=127.0.0.1:8092 --webhook-server-port=9444
    wait_for "trainer $TRAINER_VERSION ready" trainer readyz 8092
  fi
  kctl apply -f "$here/manifests/cluster-training-runtime.yaml" >/dev/null
}

for peer in "$@"; do "peer_$peer"; done
echo "$KUBECONFIG_FILE"

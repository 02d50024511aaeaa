#!/usr/bin/env bash
# Build what the metrics tests need (idempotent; stamps skip what is up to date; docs/metrics.md):
#   bin/prometheus   github.com/prometheus/prometheus/cmd/prometheus (go install, hack/go-tool.sh),
#                    with only the Kubernetes service discovery (build tags remove_all_sd
#                    enable_kubernetes_sd) and without the web UI's assets (no builtinassets):
#                    scraping, the query API and /api/v1/targets all work without them.
#   the Prometheus Operator module in Go's module cache (go mod download), for its PodMonitor CRD,
#                    which the tests read from there (tests/harness/crds.py), never copied here.
# usage: hack/prometheus/build.sh [prometheus|operator-crds ...]   (default: all)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$here/../lib.sh"
# shellcheck source=../versions.env
source "$ROOT/hack/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0

prometheus() {
  local dir version
  dir=$(go_module_dir github.com/prometheus/prometheus "$PROMETHEUS_VERSION")
  version=$(<"$dir/VERSION")   # v0.316.0 is Prometheus 3.16.0
  "$ROOT/hack/go-tool.sh" prometheus github.com/prometheus/prometheus/cmd/prometheus "$PROMETHEUS_VERSION" \
    "-X github.com/prometheus/common/version.Version=$version -X github.com/prometheus/common/version.Branch=v$version" \
    "netgo remove_all_sd enable_kubernetes_sd"
}

operator_crds() {
  local dir crd=example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml
  dir=$(go_module_dir github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")
  [[ -f $dir/$crd ]] || { echo "$crd is not in prometheus-operator@$PROMETHEUS_OPERATOR_VERSION ($dir)" >&2; exit 1; }
}

want=("$@")
((${#want[@]})) || want=(prometheus operator-crds)
for name in "${want[@]}"; do
  case $name in
    prometheus) prometheus ;;
    operator-crds) operator_crds ;;
    *) echo "unknown part: $name" >&2; exit 2 ;;
  esac
done

#!/usr/bin/env bash
# Build the peers that `make bench` races the chart against into bin/, from the Go module
# proxy (pinned in hack/versions.env; idempotent through hack/go-tool.sh's stamps):
#   bin/training-operator           Kubeflow training-operator (PyTorchJob), cmd/training-operator.v1
#   bin/trainer-controller-manager  Kubeflow Trainer v2 (TrainJob), cmd/trainer-controller-manager
#   bin/jobset                      JobSet, which Trainer v2 creates (main package at the module root)
# Each module's go.mod has no replace directives, so a plain `go install MODULE/CMD@VERSION`
# builds it with exactly the dependencies its authors pinned (JobSet: see build_from_wrapper).
# usage: hack/bench/operators.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../versions.env
source "$here/../versions.env"
export GOTOOLCHAIN=local

build() {   # NAME PKG VERSION [LDFLAGS]
  local start=$SECONDS
  "$root/hack/go-tool.sh" "$@"
  ((SECONDS - start < 2)) || echo ">> $1: $((SECONDS - start))s wall" >&2
}
# JobSet's main package is its module root, and `go install sigs.k8s.io/jobset@v0.8.2` asks
# the proxy for the module's version list (to look for a deprecation notice), which the proxy
# refuses. So it is built as a dependency of a throw-away module that requires exactly that
# version and nothing else: the build list is then JobSet's own go.mod.
build_from_wrapper() {   # NAME MODULE VERSION LDFLAGS
  local name=$1 module=$2 version=$3 ldflags=$4 start=$SECONDS
  local out=$root/bin/$name stamp=$root/bin/.$name.stamp want="$module@$version (wrapper module) $ldflags"
  [[ -x $out && -f $stamp && $(cat "$stamp") == "$want" ]] && return 0
  local dir=$root/.cache/bench/build-$name
  rm -rf "$dir"; mkdir -p "$dir"
  printf 'module pytorch-chart.local/bench/%s\n\ngo 1.23\n\nrequire %s %s\n' "$name" "$module" "$version" >"$dir/go.mod"
  echo ">> building $name from $module@$version" >&2
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags="-s -w $ldflags" -o "$out.tmp" "$module")
  mv "$out.tmp" "$out"
  echo "$want" >"$stamp"
  echo ">> $name ready in $((SECONDS - start))s" >&2
}
build training-operator "$TRAINING_OPERATOR_MODULE/cmd/training-operator.v1" "$TRAINING_OPERATOR_VERSION"
build_from_wrapper jobset "$JOBSET_MODULE" "$JOBSET_VERSION" "-X $JOBSET_MODULE/pkg/version.GitVersion=$JOBSET_VERSION"
build trainer-controller-manager "$TRAINER_MODULE/cmd/trainer-controller-manager" "$TRAINER_VERSION"

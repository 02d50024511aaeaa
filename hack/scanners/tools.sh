#!/usr/bin/env bash
# Build or install the scanners that tests/scan runs on every rendered scenario (idempotent;
# stamps skip what is up to date). See README.md, "Security".
#   bin/kube-score          github.com/zegl/kube-score/cmd/kube-score (go install, hack/go-tool.sh)
#   bin/kubeconform         github.com/yannh/kubeconform/cmd/kubeconform (go install, hack/go-tool.sh)
#   .cache/checkov-venv     checkov from PyPI with the pins of checkov-requirements.txt, in a venv
#                           of its own (it would downgrade packages that .venv pins)
# usage: hack/scanners/tools.sh [kube-score|kubeconform|checkov ...]   (default: all)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$here/../lib.sh"
# shellcheck source=../versions.env
source "$ROOT/hack/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0

kube_score() {
  "$ROOT/hack/go-tool.sh" kube-score github.com/zegl/kube-score/cmd/kube-score "$KUBE_SCORE_VERSION" \
    "-X main.version=$KUBE_SCORE_VERSION"
}

kubeconform() {
  "$ROOT/hack/go-tool.sh" kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" \
    "-X main.version=$KUBECONFORM_VERSION"
}

checkov() {
  local lock=$here/checkov-requirements.txt venv=$ROOT/.cache/checkov-venv
  grep -qx "checkov==$CHECKOV_VERSION" "$lock" ||
    { echo "$lock does not pin checkov==$CHECKOV_VERSION (hack/versions.env): re-pin it" >&2; exit 1; }
  local want
  want="checkov $CHECKOV_VERSION $(short_hash "$lock") $(python3 --version)"
  fresh "$venv/bin/checkov" "$venv/.stamp" "$want" && return 0
  say "installing checkov $CHECKOV_VERSION into .cache/checkov-venv"
  local start=$SECONDS
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check -q --no-deps -r "$lock"
  "$venv/bin/python" -m pip check --disable-pip-version-check >&2
  stamp "$venv/.stamp" "$want"
  ready checkov "$start"
}

want=("$@")
((${#want[@]})) || want=(kube-score kubeconform checkov)
for name in "${want[@]}"; do
  case $name in
    kube-score) kube_score ;;
    kubeconform) kubeconform ;;
    checkov) checkov ;;
    *) echo "unknown scanner: $name" >&2; exit 2 ;;
  esac
done

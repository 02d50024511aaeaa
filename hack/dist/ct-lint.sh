#!/usr/bin/env bash
# chart-testing lint of this chart with ct.yaml: Chart.yaml against .ct/chart_schema.yaml (yamale),
# yamllint with .ct/lintconf.yaml on Chart.yaml, values.yaml and ci/*-values.yaml, and
# `helm lint --strict` with the defaults and with each ci/*-values.yaml.
# ct wants a folder of charts and the chart is the repository root, so the root is linked
# as <tmp>/charts/pytorch. ct runs from the root (ct.yaml's paths are relative to it) and
# needs no git: the version-increment check, the only git user in `ct lint`, is off.
# usage: hack/dist/ct-lint.sh [CHART_DIR]    (default: the repository root)
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
chart=$(cd "${1:-$ROOT}" && pwd)
need_tool ct helm
command -v yamllint >/dev/null && command -v yamale >/dev/null ||
  { echo "yamllint/yamale not on PATH: run \`make setup\` and put .venv/bin on PATH" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/charts"
ln -s "$chart" "$tmp/charts/pytorch"
cd "$ROOT"
PATH=$BIN:$PATH "$BIN/ct" lint --config ct.yaml --all --chart-dirs "$tmp/charts"

#!/usr/bin/env bash
# Package the chart and build a Helm chart repository in $DIST_DIR (default dist/):
#   $DIST_DIR/pytorch-<version>.tgz   (+ .tgz.prov when SIGN_KEY and KEYRING are set)
#   $DIST_DIR/index.yaml              (helm repo index; urls relative unless REPO_URL is set;
#                                      with MERGE_INDEX=FILE, also every entry of that index that
#                                      is not this version: a published repository's history)
# Serve the folder with any static web server and `helm repo add NAME URL`.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_tool helm
helm=$BIN/helm
dist=${DIST_DIR:-dist}
[[ $dist == /* ]] || dist=$ROOT/$dist
mkdir -p "$dist"
# Only the current version: an old archive in the folder would stay in the index.
rm -f "$dist"/pytorch-*.tgz "$dist"/pytorch-*.tgz.prov "$dist/index.yaml"
# helm repo index --merge writes an empty index to a missing file: refuse it instead.
if [[ -n ${MERGE_INDEX:-} && ! -f $MERGE_INDEX ]]; then
  echo "MERGE_INDEX=$MERGE_INDEX: no such index file" >&2
  exit 1
fi
sign=()
if [[ -n ${SIGN_KEY:-} ]]; then
  [[ -n ${KEYRING:-} ]] || { echo "SIGN_KEY needs KEYRING (a legacy secret keyring file)" >&2; exit 1; }
  sign=(--sign --key "$SIGN_KEY" --keyring "$KEYRING")
fi
"$helm" package "$ROOT" --destination "$dist" "${sign[@]}"
index=(repo index "$dist")
[[ -z ${REPO_URL:-} ]] || index+=(--url "$REPO_URL")
[[ -z ${MERGE_INDEX:-} ]] || index+=(--merge "$MERGE_INDEX")
"$helm" "${index[@]}"
echo "chart repository ready in $dist: $(cd "$dist" && ls | tr "\n" " ")"

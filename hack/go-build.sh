#!/usr/bin/env bash
# Build one package of a wrapper Go module (a folder whose go.mod/go.sum pin every dependency)
# into bin/NAME, unless bin/NAME was already built with the same STAMP (bin/.NAME.stamp).
# hack/go-tool.sh is the `go install MODULE@VERSION` twin of this for modules that build alone.
# usage: hack/go-build.sh NAME MODULE_DIR PACKAGE STAMP LDFLAGS
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
name=$1 dir=$2 pkg=$3 want=$4 ldflags=$5
stamp=$BIN/.$name.stamp
if fresh "$BIN/$name" "$stamp" "$want"; then
  say "$name up to date"
  exit 0
fi
mkdir -p "$BIN"
start=$SECONDS
say "building $name from $pkg ..."
tmp=$(mktemp -d "$BIN/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$dir" && GOTOOLCHAIN=local CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags="$ldflags" -o "$tmp/$name" "$pkg")
mv "$tmp/$name" "$BIN/$name"
stamp "$stamp" "$want"
ready "$name" "$start" "$(du -h "$BIN/$name" | cut -f1)"

#!/usr/bin/env bash
# Build one package of a wrapper Go module (a folder whose go.mod/go.sum pin every dependency)
# into bin/NAME, unless bin/NAME was already built with the same STAMP (bin/.NAME.stamp).
# hack/go-tool.sh is the `go install MODULE@VERSION` twin of this for modules that build alone.
# usage: hack/go-build.sh NAME MODULE_DIR PACKAGE STAMP LDFLAGS
set -euo pipefail
name=$1 dir=$2 pkg=$3 want=$4 ldflags=$5
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
stamp=$bin/.$name.stamp
if [[ -x $bin/$name && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  echo ">> $name up to date" >&2
  exit 0
fi
mkdir -p "$bin"
start=$(date +%s)
echo ">> building $name from $pkg ..." >&2
tmp=$(mktemp -d "$bin/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$dir" && GOTOOLCHAIN=local CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags="$ldflags" -o "$tmp/$name" "$pkg")
mv "$tmp/$name" "$bin/$name"
echo "$want" >"$stamp"
echo ">> $name ready in $(( $(date +%s) - start ))s ($(du -h "$bin/$name" | cut -f1))" >&2

#!/usr/bin/env bash
# Build one pinned Go command into bin/NAME, unless bin/NAME was already built
# from the same module@version (a stamp file records it).
# usage: hack/go-tool.sh NAME MODULE/PATH/TO/CMD VERSION [EXTRA_LDFLAGS]
set -euo pipefail
name=$1 pkg=$2 version=$3 ldflags=${4:-}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
stamp=$bin/.$name.stamp
want="$pkg@$version $ldflags"
if [[ -x $bin/$name && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
mkdir -p "$bin"
tmp=$(mktemp -d "$bin/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo ">> building $name from $pkg@$version" >&2
start=$(date +%s)
CGO_ENABLED=0 GOBIN=$tmp go install -trimpath -ldflags="-s -w $ldflags" "$pkg@$version"
built=$(ls "$tmp")
mv "$tmp/$built" "$bin/$name"
echo "$want" >"$stamp"
echo ">> $name ready in $(( $(date +%s) - start ))s" >&2

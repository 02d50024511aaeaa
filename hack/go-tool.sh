#!/usr/bin/env bash
# Build one pinned Go command into bin/NAME, unless bin/NAME was already built
# from the same module@version (a stamp file records it).
# usage: hack/go-tool.sh NAME MODULE/PATH/TO/CMD VERSION [EXTRA_LDFLAGS [BUILD_TAGS]]
set -euo pipefail
name=$1 pkg=$2 version=$3 ldflags=${4:-} tags=${5:-}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
out=$bin/$name                              # NAME may name a sub-folder: cni/bridge
stamp=$(dirname "$out")/.$(basename "$name").stamp
want="$pkg@$version $ldflags${tags:+ tags=$tags}"
if [[ -x $out && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$bin/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo ">> building $name from $pkg@$version" >&2
start=$(date +%s)
CGO_ENABLED=0 GOBIN=$tmp go install -trimpath -tags="$tags" -ldflags="-s -w $ldflags" "$pkg@$version"
built=$(ls "$tmp")
mv "$tmp/$built" "$out"
echo "$want" >"$stamp"
echo ">> $name ready in $(( $(date +%s) - start ))s" >&2

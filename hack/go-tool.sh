#!/usr/bin/env bash
# Build one pinned Go command into bin/NAME, unless bin/NAME was already built
# from the same module@version, flags and tags (a stamp file records them).
# NAME may name a sub-folder of bin/ (cni/bridge). hack/go-build.sh is the twin of this
# for packages of a wrapper module.
# usage: hack/go-tool.sh NAME MODULE/PATH/TO/CMD VERSION [EXTRA_LDFLAGS [BUILD_TAGS]]
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
name=$1 pkg=$2 version=$3 ldflags=${4:-} tags=${5:-}
out=$BIN/$name
stamp=$(dirname "$out")/.$(basename "$name").stamp
want="$pkg@$version $ldflags${tags:+ tags=$tags}"
fresh "$out" "$stamp" "$want" && exit 0
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$BIN/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
say "building $name from $pkg@$version"
start=$SECONDS
CGO_ENABLED=0 GOBIN=$tmp go install -trimpath -tags="$tags" -ldflags="-s -w $ldflags" "$pkg@$version"
built=$(ls "$tmp")
mv "$tmp/$built" "$out"
stamp "$stamp" "$want"
ready "$name" "$start"

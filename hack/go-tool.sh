#!/usr/bin/env bash
# Build one pinned Go command into bin/NAME, unless bin/NAME was already built
# from the same module@version (a stamp file records it).
# hack/go-build.sh is the twin of this for packages of a wrapper module.
# usage: hack/go-tool.sh NAME MODULE/PATH/TO/CMD VERSION [EXTRA_LDFLAGS]
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
name=$1 pkg=$2 version=$3 ldflags=${4:-}
stamp=$BIN/.$name.stamp
want="$pkg@$version $ldflags"
fresh "$BIN/$name" "$stamp" "$want" && exit 0
mkdir -p "$BIN"
tmp=$(mktemp -d "$BIN/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
say "building $name from $pkg@$version"
start=$SECONDS
CGO_ENABLED=0 GOBIN=$tmp go install -trimpath -ldflags="-s -w $ldflags" "$pkg@$version"
built=$(ls "$tmp")
mv "$tmp/$built" "$BIN/$name"
stamp "$stamp" "$want"
ready "$name" "$start"

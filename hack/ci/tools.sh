#!/usr/bin/env bash
# Build or install the checkers of the CI workflows in .github/workflows (idempotent; a stamp
# skips an up-to-date actionlint). See docs/distribution.md, "CI workflows".
#   bin/actionlint   github.com/rhysd/actionlint/cmd/actionlint (go install, hack/go-tool.sh)
#   bin: shellcheck  Debian's package (apt-get), which actionlint runs on every `run:` block
# usage: hack/ci/tools.sh [actionlint|shellcheck ...]   (default: both)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$here/../lib.sh"
# shellcheck source=../versions.env
source "$ROOT/hack/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0

build_actionlint() {
  "$ROOT/hack/go-tool.sh" actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION" \
    "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION"
}

install_shellcheck() {
  # Debian's package: the name `shellcheck` must not be a shell function here, or command -v finds it.
  command -v shellcheck >/dev/null && return 0
  say "apt-get install shellcheck"
  local start=$SECONDS
  apt-get install -y -qq shellcheck >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null; }
  ready shellcheck "$start" "$(shellcheck --version | sed -n 's/^version: //p')"
}

want=("$@")
((${#want[@]})) || want=(actionlint shellcheck)
for name in "${want[@]}"; do
  case $name in
    actionlint) build_actionlint ;;
    shellcheck) install_shellcheck ;;
    *) echo "unknown tool: $name" >&2; exit 2 ;;
  esac
done

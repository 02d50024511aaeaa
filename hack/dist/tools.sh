#!/usr/bin/env bash
# Build or install the chart distribution tools into bin/ (idempotent; stamps skip up-to-date tools):
#   bin/registry          github.com/distribution/distribution/v3/cmd/registry (go install, hack/go-tool.sh)
#   bin/ct                github.com/helm/chart-testing/v3/ct (wrapper module hack/dist/ct)
#   bin/readme-generator  @bitnami/readme-generator-for-helm (npm ci into hack/dist/node_modules)
# yamllint and yamale, which ct runs, are Python packages in the `test` group (.venv/bin).
# usage: hack/dist/tools.sh [registry|ct|readme-generator ...]   (default: all)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$here/../lib.sh"
# shellcheck source=../versions.env
source "$ROOT/hack/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$BIN"

registry() {
  "$ROOT/hack/go-tool.sh" registry github.com/distribution/distribution/v3/cmd/registry "$REGISTRY_VERSION" \
    "-X github.com/distribution/distribution/v3/version.version=$REGISTRY_VERSION"
}

ct() {
  grep -q "github.com/helm/chart-testing/v3 $CT_VERSION" "$here/ct/go.mod" ||
    { echo "hack/dist/ct/go.mod does not pin chart-testing $CT_VERSION: edit it and run go mod tidy there" >&2; exit 1; }
  local ldflags="-s -w -X github.com/helm/chart-testing/v3/ct/cmd.Version=$CT_VERSION"
  local want="ct $CT_VERSION $(short_hash "$here/ct/go.mod" "$here/ct/go.sum") $(go env GOVERSION)"
  "$ROOT/hack/go-build.sh" ct "$here/ct" github.com/helm/chart-testing/v3/ct "$want" "$ldflags"
}

readme_generator() {
  local want
  want="readme-generator $README_GENERATOR_VERSION $(short_hash "$here/package.json" "$here/package-lock.json") $(node --version)"
  fresh "$BIN/readme-generator" "$BIN/.readme-generator.stamp" "$want" &&
    [[ -d $here/node_modules/@bitnami/readme-generator-for-helm ]] && return 0
  say "installing @bitnami/readme-generator-for-helm@$README_GENERATOR_VERSION (npm ci)"
  local start=$SECONDS
  (cd "$here" && npm ci --omit-lockfile-registry-resolved --no-audit --no-fund --loglevel=error >&2)
  local got
  got=$(node -p 'require(process.argv[1]).version' "$here/node_modules/@bitnami/readme-generator-for-helm/package.json")
  [[ $got == "$README_GENERATOR_VERSION" ]] ||
    { echo "package-lock.json installs readme-generator $got, hack/versions.env says $README_GENERATOR_VERSION" >&2; exit 1; }
  cat >"$BIN/readme-generator" <<SH
#!/usr/bin/env bash
# Bitnami readme-generator-for-helm $README_GENERATOR_VERSION, installed by hack/dist/tools.sh
exec node "\$(dirname "\$0")/../hack/dist/node_modules/@bitnami/readme-generator-for-helm/bin/index.js" "\$@"
SH
  chmod +x "$BIN/readme-generator"
  stamp "$BIN/.readme-generator.stamp" "$want"
  ready readme-generator "$start"
}

want=("$@")
((${#want[@]})) || want=(registry ct readme-generator)
for name in "${want[@]}"; do
  case $name in
    registry) registry ;;
    ct) ct ;;
    readme-generator) readme_generator ;;
    *) echo "unknown tool: $name" >&2; exit 2 ;;
  esac
done

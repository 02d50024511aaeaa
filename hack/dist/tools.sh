#!/usr/bin/env bash
# Build or install the chart distribution tools into bin/ (idempotent; stamps skip up-to-date tools):
#   bin/registry          github.com/distribution/distribution/v3/cmd/registry (go install, hack/go-tool.sh)
#   bin/ct                github.com/helm/chart-testing/v3/ct (wrapper module hack/dist/ct)
#   bin/readme-generator  @bitnami/readme-generator-for-helm (npm ci into hack/dist/node_modules)
# yamllint and yamale, which ct runs, are Python packages in the `test` group (.venv/bin).
# usage: hack/dist/tools.sh [registry|ct|readme-generator ...]   (default: all)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$root/bin
# shellcheck source=versions.env
source "$here/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$bin"

fresh() { [[ -x $bin/$1 && -f $bin/.$1.stamp && $(cat "$bin/.$1.stamp") == "$2" ]]; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

registry() {
  "$root/hack/go-tool.sh" registry github.com/distribution/distribution/v3/cmd/registry "$REGISTRY_VERSION" \
    "-X github.com/distribution/distribution/v3/version.version=$REGISTRY_VERSION"
}

ct() {
  grep -q "github.com/helm/chart-testing/v3 $CT_VERSION" "$here/ct/go.mod" ||
    { echo "hack/dist/ct/go.mod does not pin chart-testing $CT_VERSION: edit it and run go mod tidy there" >&2; exit 1; }
  local ldflags="-s -w -X github.com/helm/chart-testing/v3/ct/cmd.Version=$CT_VERSION"
  local want="ct $CT_VERSION $(hash_of "$here/ct/go.mod" "$here/ct/go.sum") $(go env GOVERSION)"
  "$root/hack/go-build.sh" ct "$here/ct" github.com/helm/chart-testing/v3/ct "$want" "$ldflags"
}

readme_generator() {
  local want
  want="readme-generator $README_GENERATOR_VERSION $(hash_of "$here/package.json" "$here/package-lock.json") $(node --version)"
  fresh readme-generator "$want" && [[ -d $here/node_modules/@bitnami/readme-generator-for-helm ]] && return 0
  echo ">> installing @bitnami/readme-generator-for-helm@$README_GENERATOR_VERSION (npm ci)" >&2
  local start
  start=$(date +%s)
  (cd "$here" && npm ci --omit-lockfile-registry-resolved --no-audit --no-fund --loglevel=error >&2)
  local got
  got=$(node -p 'require(process.argv[1]).version' "$here/node_modules/@bitnami/readme-generator-for-helm/package.json")
  [[ $got == "$README_GENERATOR_VERSION" ]] ||
    { echo "package-lock.json installs readme-generator $got, versions.env says $README_GENERATOR_VERSION" >&2; exit 1; }
  cat >"$bin/readme-generator" <<SH
#!/usr/bin/env bash
# Bitnami readme-generator-for-helm $README_GENERATOR_VERSION, installed by hack/dist/tools.sh
exec node "\$(dirname "\$0")/../hack/dist/node_modules/@bitnami/readme-generator-for-helm/bin/index.js" "\$@"
SH
  chmod +x "$bin/readme-generator"
  echo "$want" >"$bin/.readme-generator.stamp"
  echo ">> readme-generator ready in $(( $(date +%s) - start ))s" >&2
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

# Shared by the build scripts in hack/ (sourced, not run): the repository's paths, stamps that
# make a re-run a no-op, content hashes to put in stamps, progress lines with timings, and the
# check for a tool that `make setup` builds.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/bin

# fresh ARTIFACT STAMP WANT: true when ARTIFACT is there and STAMP says it was made from WANT
# (versions, flags and hashes of the inputs), so it need not be made again.
fresh() { [[ -x $1 && -f $2 && $(<"$2") == "$3" ]]; }

# stamp STAMP WANT: record, after a successful build, what the artifact was made from.
stamp() { printf '%s\n' "$2" >"$1"; }

# hash_of FILE...: the sha256 of the files' contents, one after the other (64 hex digits).
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# short_hash FILE...: the first 16 hex digits of hash_of, for stamps that name several inputs.
short_hash() { local h; h=$(hash_of "$@"); printf '%s\n' "${h:0:16}"; }

# say MESSAGE...: a progress line on stderr.
say() { echo ">> $*" >&2; }

# ready WHAT START [DETAIL]: "WHAT ready in Ns (DETAIL)", N counted from START (a $SECONDS value).
ready() { say "$1 ready in $((SECONDS - $2))s${3:+ ($3)}"; }

# need_tool NAME...: fail with the command that builds bin/NAME when it is missing.
need_tool() {
  local t
  for t in "$@"; do
    [[ -x $BIN/$t ]] || { echo "bin/$t is missing: run \`make setup\`" >&2; exit 1; }
  done
}

# go_module_dir MODULE VERSION: the module's folder in Go's module cache, downloaded when missing;
# fails with go's error when the proxy does not serve it.
go_module_dir() {
  go mod download -json "$1@$2" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error")))'
}

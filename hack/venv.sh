#!/usr/bin/env bash
# Create .venv/ and install the `test` dependency group of pyproject.toml into it.
# Re-runs are no-ops while pyproject.toml is unchanged (a hash stamp records it).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
venv=$ROOT/.venv
stamp=$venv/.deps.sha256
want=$(hash_of "$ROOT/pyproject.toml")
fresh "$venv/bin/python" "$stamp" "$want" && exit 0
start=$SECONDS
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
mapfile -t deps < <(python3 - "$ROOT/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["dependency-groups"]["test"]))
PY
)
say "installing ${#deps[@]} Python packages into .venv"
"$venv/bin/python" -m pip install --disable-pip-version-check -q "${deps[@]}"
stamp "$stamp" "$want"
ready .venv "$start"

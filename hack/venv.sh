#!/usr/bin/env bash
# Create .venv/ and install the `test` dependency group of pyproject.toml into it.
# Re-runs are no-ops while that group is unchanged (a stamp records the hash of its list; an
# edit to pytest's settings or markers in pyproject.toml installs nothing).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
venv=$ROOT/.venv
stamp=$venv/.deps.sha256
mapfile -t deps < <(python3 - "$ROOT/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["dependency-groups"]["test"]))
PY
)
want=$(hash_of <(printf '%s\n' "${deps[@]}"))
fresh "$venv/bin/python" "$stamp" "$want" && exit 0
start=$SECONDS
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
say "installing ${#deps[@]} Python packages into .venv"
"$venv/bin/python" -m pip install --disable-pip-version-check -q "${deps[@]}"
stamp "$stamp" "$want"
ready .venv "$start"

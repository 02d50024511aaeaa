#!/usr/bin/env bash
# Create .venv/ and install the `test` dependency group of pyproject.toml into it.
# Re-runs are no-ops while pyproject.toml is unchanged (a hash stamp records it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv
stamp=$venv/.deps.sha256
want=$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)
if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
start=$(date +%s)
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
mapfile -t deps < <(python3 - "$root/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["dependency-groups"]["test"]))
PY
)
echo ">> installing ${#deps[@]} Python packages into .venv" >&2
"$venv/bin/python" -m pip install --disable-pip-version-check -q "${deps[@]}"
echo "$want" >"$stamp"
echo ">> .venv ready in $(( $(date +%s) - start ))s" >&2

# Shared by scripts/serve, scripts/test and scripts/bench (sourced, not run).
venv=${WEBSVC_VENV:-.venv}
# One line per install that succeeded here: "HASH extras=EXTRAS", HASH naming
# this checkout, its setup.cfg and pyproject.toml and the venv's Python.
venv_stamp_file="$venv/.websvc-installed"

# ensure_venv [EXTRAS]: create $venv (default .venv) and install websvc into it,
# editable, with the given extras ("test", or nothing). pip runs only when
# nothing is recorded for this checkout as it is now with these extras (any
# extras will do for none) or websvc does not import: a complete venv needs
# no network and costs well under a second.
ensure_venv() {
  local extras=${1:-}
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  if venv_is_current "$extras"; then
    return 0
  fi
  echo "installing websvc${extras:+[$extras]} into $venv with pip" \
    "(a new venv, or setup.cfg, pyproject.toml, the extras or Python changed)" >&2
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e ".${extras:+[$extras]}"
  stamp_venv "$extras"
}

# venv_is_current [EXTRAS]: succeeds when ensure_venv EXTRAS has nothing to do.
venv_is_current() {
  local digest
  digest=$(venv_hash 2>/dev/null) && [ -f "$venv_stamp_file" ] || return 1
  if [ -n "${1:-}" ]; then
    grep -qxF "$digest extras=$1" "$venv_stamp_file"
  else
    grep -q "^$digest " "$venv_stamp_file"
  fi
}

# stamp_venv [EXTRAS]: record that websvc with EXTRAS was just installed
# (dropping the records of older setups).
stamp_venv() {
  local digest
  digest=$(venv_hash)
  {
    grep "^$digest " "$venv_stamp_file" 2>/dev/null || true
    echo "$digest extras=${1:-}"
  } | sort -u >"$venv_stamp_file.new"
  mv "$venv_stamp_file.new" "$venv_stamp_file"
}

# venv_hash: print the hash of what an install is made from; fails when websvc
# does not import in $venv (-I: not from the current directory).
venv_hash() {
  "$venv/bin/python" -I - "$(pwd -P)" <<'PY'
import hashlib
import sys

import websvc  # noqa: F401

digest = hashlib.sha256(f"{sys.argv[1]}\0{sys.version}\0".encode())
for name in ("setup.cfg", "pyproject.toml"):
    with open(name, "rb") as file:
        digest.update(file.read() + b"\0")
print(digest.hexdigest())
PY
}

# ensure_debs PACKAGE...: apt-get install the packages whose command is missing
# (the package name is the command name for chromium and wrk).
ensure_debs() {
  local need=() pkg sudo=""
  for pkg in "$@"; do
    command -v "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  ((${#need[@]})) || return 0
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
}

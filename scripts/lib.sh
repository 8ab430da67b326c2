# Shared by scripts/serve, scripts/test and scripts/bench (sourced, not run).
# ensure_venv [EXTRAS]: create $venv (default .venv) and install websvc into it,
# editable, with the given extras ("test", or nothing).
venv=${WEBSVC_VENV:-.venv}

ensure_venv() {
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e ".${1:+[$1]}"
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

#!/usr/bin/env bash
# Idempotent set-up of everything `make demo` and `make test` need on a fresh Debian machine:
# system packages (Java 17, Maven, redis-server, Chromium and its driver for the browser tests, tmux
# for the terminal ones), the Python environment (kept in a cache outside the checkout, so a fresh
# clone reuses it; exact versions from constraints.txt, the deployment checkers included), the
# `yieldloop` command, and the Kafka broker jars (Maven's cache).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${YIELDLOOP_CACHE:-$HOME/.cache/yieldloop}
venv=${YIELDLOOP_VENV:-$cache/venv}
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3

need_apt=()
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v tmux >/dev/null || need_apt+=(tmux)  # the terminal in which tests use `yieldloop browse`
# The dashboard's tests drive Debian's Chromium (never a browser downloaded by Playwright).
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} from Debian's packages"
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

stamp="$venv/.yieldloop-deps"
want=$(cd "$here" && "$python" - <<'PY'
import hashlib, tomllib
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
deps = p["dependencies"] + p["optional-dependencies"]["dev"]
pins = open("constraints.txt", "rb").read()
print(hashlib.sha256("\n".join(deps).encode() + pins).hexdigest())
PY
)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages into $venv (first time: several GB, a few minutes)"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  reqs=$(mktemp)
  (cd "$here" && "$venv/bin/python" - > "$reqs" <<'PY'
import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))
PY
  )
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -c "$here/constraints.txt" setuptools
  # Exact versions from constraints.txt (`make lock`): a fresh machine gets what CI tested.
  "$venv/bin/python" -m pip install -q -c "$here/constraints.txt" -r "$reqs"
  rm -f "$reqs"
  echo "$want" > "$stamp"
fi
# The project itself, editable, so `$venv/bin/yieldloop` runs this checkout. Asked outside the
# checkout and without the Makefile's PYTHONPATH, which would find this checkout regardless.
installed=$(cd / && env -u PYTHONPATH "$venv/bin/python" -c \
  'import yieldloop, pathlib; print(pathlib.Path(yieldloop.__file__).resolve().parents[1])' \
  2>/dev/null || true)
if [ "$installed" != "$here" ] || [ ! -x "$venv/bin/yieldloop" ]; then
  echo "setup: installing the yieldloop command ($venv/bin/yieldloop) from $here"
  "$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$here"
fi
echo "setup: ready ($venv)"

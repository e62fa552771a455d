#!/usr/bin/env bash
# Writes constraints.txt: the exact version of every package that set-up installs (the project's
# dependencies and its dev tools), resolved from the ranges in pyproject.toml for Python 3.11 on
# Linux. Set-up installs with these constraints, so a fresh machine gets what CI tested. Run it
# (`make lock`) after changing a dependency, then run `make test` and commit both files.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$here" && "$python" - > "$work/requirements.txt" <<'PY'
import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))
PY
)
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q --dry-run --ignore-installed \
  --report "$work/report.json" -r "$work/requirements.txt"
"$python" - "$work/report.json" > "$here/constraints.txt" <<'PY'
import json, re, sys
report = json.load(open(sys.argv[1]))
pins = sorted(
    (re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower(), item["metadata"]["version"])
    for item in report["install"]
)
print("# Exact versions set-up installs; written by deploy/lock.sh (`make lock`), do not edit.")
print("\n".join(f"{name}=={version}" for name, version in pins))
PY
echo "lock: wrote constraints.txt ($(grep -c '==' "$here/constraints.txt") packages)"

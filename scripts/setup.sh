#!/usr/bin/env bash
# Creates .venv and installs zoo with its test tools; quick when nothing changed. Sourced by the others.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=.venv/.zoo-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "installing zoo and its dependencies into .venv (first time: a few minutes) ..." >&2
    log=.venv/install.log
    if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e '.[dev]'; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "installation failed; the full log is in $log" >&2
        exit 1
    fi
    touch "$stamp"
fi

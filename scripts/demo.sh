#!/usr/bin/env bash
# The main job: set up, train the built-in demo grid on the embedded SQLite catalog (./.zoo), then fit
# the paper's Table 1 meta-models and write report/. Safe to interrupt and re-run: it resumes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
workers=$(.venv/bin/python -c "import os; print(max(1, min(4, os.cpu_count() or 1)))")
.venv/bin/zoo ingest --run-grid --workers "$workers"
.venv/bin/zoo report --out report

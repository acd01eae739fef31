#!/usr/bin/env bash
# The main job: set up, train the built-in demo grid on the embedded SQLite catalog (./.zoo), then fit
# the paper's Table 1 meta-models and the generalization matrices and write report/ (the paper's
# paper-v1 metrics), report/paper-v2/ (three kernel-, count- and scale-free metrics) and report/paper-v3/ (all
# of them, the feature set zoo predict uses).
# Safe to interrupt and re-run: finished runs are kept and the rest resume.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
started=$(date +%s)
workers=$(.venv/bin/python -c "import os; print(max(1, min(4, os.cpu_count() or 1)))")
.venv/bin/zoo ingest --run-grid --workers "$workers"
.venv/bin/zoo featurize --feature-set paper-v2
.venv/bin/zoo featurize --feature-set paper-v3
.venv/bin/zoo featurize --feature-set paper-literal
.venv/bin/zoo report --out report --compare-feature-set paper-literal
.venv/bin/zoo report --out report/paper-v2 --feature-set paper-v2
.venv/bin/zoo report --out report/paper-v3 --feature-set paper-v3
echo "demo finished in $(( $(date +%s) - started )) s after setup; report/report.md, report/paper-v2/report.md and report/paper-v3/report.md" >&2

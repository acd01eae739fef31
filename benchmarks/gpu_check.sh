#!/usr/bin/env bash
# The CUDA path's first run, on a machine with an NVIDIA GPU: the tests that only run there, then the
# training benchmark on the GPU, then the figures a note needs, in one block at the end.
#
#   benchmarks/gpu_check.sh                      # tests + bench_train.py --device cuda (its defaults)
#   benchmarks/gpu_check.sh --size 224 --batch 64  # extra arguments go to bench_train.py
#
# The CUDA tests are the test cases whose id contains "cuda" (tests parametrized over devices add
# "cuda" only when torch sees a GPU, so on a CPU machine they are not even collected); the files searched
# are those under tests/ that mention cuda. Without a GPU the script stops at once with exit status 2.
# Exit status: 0 when the tests pass and the benchmark ran, otherwise the first failure's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || { echo "gpu_check: no $PY; create the virtualenv first (scripts/setup.sh) or set PYTHON=" >&2; exit 2; }

fail() { echo "gpu_check: $*" >&2; exit 2; }
command -v nvidia-smi >/dev/null 2>&1 || fail "no nvidia-smi on PATH: this machine has no NVIDIA GPU (or no driver); run it on one that has"
nvidia-smi -L >/dev/null 2>&1 || fail "nvidia-smi finds no GPU: $(nvidia-smi -L 2>&1 | head -n 1)"
"$PY" - <<'EOF' || fail "torch cannot use the GPU (a CPU-only torch wheel, or a driver too old for its CUDA); see the line above"
import sys, torch
if not torch.cuda.is_available():
    sys.exit(f"torch {torch.__version__} (CUDA build: {torch.version.cuda}) sees no CUDA device")
torch.ones(1, device="cuda").add_(1)  # a real kernel launch, not only the device count
EOF

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} HF_HUB_OFFLINE=1
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

mapfile -t files < <(grep -rl --include='*.py' -i cuda tests/ | sort)
[ "${#files[@]}" -gt 0 ] || fail "no test file under tests/ mentions cuda; nothing to run"
echo "== CUDA tests (-k cuda) in: ${files[*]}"
set +e
"$PY" -m pytest -p no:cacheprovider -n 0 -q -rs -k cuda "${files[@]}" 2>&1 | tee "$log/tests.txt"
tests_rc=${PIPESTATUS[0]}
set -e
if [ "$tests_rc" = 5 ]; then
    echo "gpu_check: pytest collected no CUDA test although torch sees a GPU" >&2
fi

echo "== benchmarks/bench_train.py --device cuda $*"
set +e
"$PY" benchmarks/bench_train.py --device cuda "$@" 2>&1 | tee "$log/bench.txt"
bench_rc=${PIPESTATUS[0]}
set -e

echo
echo "== figures for the note"
"$PY" - <<'EOF'
import torch
p = torch.cuda.get_device_properties(0)
print(f"GPU: {torch.cuda.get_device_name(0)}, {p.total_memory / 2**30:.0f} GiB, compute capability {p.major}.{p.minor}, {torch.cuda.device_count()} device(s)")
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
EOF
nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1 | sed 's/^/driver: /'
echo "CUDA tests: $(grep -E '(passed|failed|error|skipped|no tests ran)' "$log/tests.txt" | tail -n 1) (pytest exit $tests_rc)"
grep -E '^(bare timm loop|worker.s loop|ratio worker / bare|catalog work per checkpoint)' "$log/bench.txt" || echo "bench_train.py printed no figures (exit $bench_rc)"
grep -m1 -E 'device' "$log/bench.txt" | sed 's/^/bench setup: /' || true

[ "$tests_rc" = 0 ] || exit "$tests_rc"
exit "$bench_rc"

#!/usr/bin/env bash
# The GPU check, in one prepared run on a machine with CUDA (about 6-8 minutes on an H100):
#   1. `pytest claims --device cuda` on a fresh result cache: every finding must hold on the GPU;
#   2. the numeric baselines on CUDA: compared against *_cuda.csv where such files exist, else each skips
#      and says so (a CPU baseline is never compared with a widened tolerance);
#   3. the CUDA rows of the benchmarks (K1-K3, and K5 and K6: seeds batched against one at a time).
# Each step has its own time limit, so one that hangs cannot take the others with it; the outputs (logs,
# claims report, benchmark JSON) land in $OUT, or gpu-check/ when OUT is unset.
#
# Where the GPU machine's Python lacks this project's test dependencies and cannot reach an index, carry them
# as wheels and MNIST as its four IDX files, prepared here beforehand:
#   python -m pip download --dest gpu-wheels --only-binary=:all: --python-version 3.12 \
#       --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
#       cvxpy pytest-mpl pytest-regressions pytest-datadir
#   cp -r ~/.cache/gradnorm-sensing-claims/mnist/raw gpu-mnist     # or wherever core.mlp.locate_mnist() finds it
# then run, from the repository root there:  GPU_WHEELS=gpu-wheels MNIST_ROOT=gpu-mnist bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
LIMIT_CLAIMS=${LIMIT_CLAIMS:-300}
LIMIT_BASELINES=${LIMIT_BASELINES:-60}
LIMIT_BENCH=${LIMIT_BENCH:-120}

log() { echo "[gpu_check $(date +%H:%M:%S)] $*" | tee -a "$OUT/summary.txt"; }

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    log "no CUDA device visible to $PY: nothing to check here"
    exit 2
fi
if [ -n "${GPU_WHEELS:-}" ]; then
    "$PY" -m pip install --quiet --no-index --find-links "$GPU_WHEELS" cvxpy pytest-mpl pytest-regressions \
        pytest-datadir >"$OUT/pip.log" 2>&1 || log "installing from $GPU_WHEELS failed (see pip.log)"
fi
missing=$("$PY" - <<'EOF'
import importlib.util
need = {"cvxpy": "cvxpy", "pytest_mpl": "pytest-mpl", "pytest_regressions": "pytest-regressions",
        "numba": "numba", "filelock": "filelock", "tqdm": "tqdm", "matplotlib": "matplotlib"}
print(" ".join(name for module, name in need.items() if importlib.util.find_spec(module) is None))
EOF
)
if [ -n "$missing" ]; then
    log "missing Python packages: $missing (carry them as wheels, see this script's header)"
    exit 2
fi
# The project itself from this tree, without letting pip touch the GPU machine's torch.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PY" - <<'EOF' | tee -a "$OUT/summary.txt"
import json
from core import machine
print(json.dumps(machine(), indent=1, default=str))
EOF

# -p pytest_claims: the plugin is registered by the project's entry point, which a PYTHONPATH run lacks.
PYTEST=("$PY" -m pytest -p pytest_claims -p no:cacheprovider)
status=0
log "1/3 pytest claims --device cuda, fresh result cache (limit ${LIMIT_CLAIMS} s)"
export CLAIMS_RESULT_CACHE
CLAIMS_RESULT_CACHE=$(mktemp -d)
timeout "$LIMIT_CLAIMS" "${PYTEST[@]}" claims --device cuda --claims-report="$OUT/claims-cuda.json" \
    --junitxml="$OUT/claims-cuda.xml" >"$OUT/claims.log" 2>&1
rc=$?; tail -n 3 "$OUT/claims.log" | tee -a "$OUT/summary.txt"; log "claims exit $rc"; [ $rc -eq 0 ] || status=1

log "2/3 numeric baselines on CUDA (cached results of step 1; limit ${LIMIT_BASELINES} s)"
timeout "$LIMIT_BASELINES" "${PYTEST[@]}" claims/test_baselines.py --device cuda -rs >"$OUT/baselines.log" 2>&1
rc=$?; grep -E "SKIPPED|passed|failed" "$OUT/baselines.log" | tail -n 6 | tee -a "$OUT/summary.txt"
log "baselines exit $rc"; [ $rc -eq 0 ] || status=1

log "3/3 CUDA rows of the benchmarks (limit ${LIMIT_BENCH} s)"
timeout "$LIMIT_BENCH" "${PYTEST[@]}" benchmarks -k cuda --benchmark-json="$OUT/benchmarks-cuda.json" \
    >"$OUT/bench.log" 2>&1
rc=$?; tail -n 3 "$OUT/bench.log" | tee -a "$OUT/summary.txt"; log "benchmarks exit $rc"; [ $rc -eq 0 ] || status=1
if [ -f "$OUT/benchmarks-cuda.json" ]; then
    "$PY" benchmarks/report.py "$OUT/benchmarks-cuda.json" --out "$OUT/benchmarks-cuda.md" >/dev/null 2>&1 \
        && cat "$OUT/benchmarks-cuda.md" >>"$OUT/summary.txt"
fi
log "done, exit $status; record summary.txt in docs/gpu.md"
exit "$status"

#!/usr/bin/env bash
# The NumPy-vs-Keras comparison on a GPU, on JAX and on PyTorch (issue 19), as one command.
#
# For a machine with CUDA builds of jax and torch and NumPy, no Keras, no TensorFlow, no internet:
# Keras and its pure dependencies come from .whl/ (downloaded beforehand for Python 3.12, see
# README), installed into /tmp/site. Writes its tables to $OUT (or /tmp/gpu_check) as
# env.txt, jax.txt, jax_tf32.txt, torch.txt, torch_tf32.txt, and exits 0 when the TF32-off runs
# pass on a GPU. The TF32-on runs show what the fast mode costs (their rows may fail: that is the
# point); their status is reported, not counted.
#
#   bash benchmarks/gpu_check.sh                       # on the GPU machine, from the repository root
#   GPU_FLAG= PYTHON=/tmp/torchvenv/bin/python SKIP_INSTALL=1 bash benchmarks/gpu_check.sh   # CPU try-out
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
GPU_FLAG=${GPU_FLAG---require-gpu}
SEEDS=${SEEDS:-2}
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export TF_CPP_MIN_LOG_LEVEL=3 XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1

if [ -z "${SKIP_INSTALL:-}" ]; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .whl/*.whl || exit 3
    # ml_dtypes, packaging, typing_extensions come with jax, matplotlib, torch; installed only where missing
    for pair in ml_dtypes:ml_dtypes packaging:packaging- typing_extensions:typing_extensions; do
        module=${pair%%:*}; wheel=${pair#*:}
        "$PYTHON" -c "import $module" 2>/dev/null || \
            "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
                .whl/fallback/${wheel}*.whl || exit 3
    done
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi

KERAS_BACKEND=jax "$PYTHON" - > "$OUT/env.txt" 2>&1 <<'EOF'
import sys, numpy
print("Python", sys.version.split()[0], "NumPy", numpy.__version__)
for name in ("jax", "torch", "keras"):
    try:
        module = __import__(name)
        print(name, module.__version__)
    except Exception as exc:
        print(name, "not importable:", exc)
try:
    import jax; print("jax devices:", jax.devices())
except Exception as exc:
    print("jax devices: none:", exc)
try:
    import torch; print("torch cuda:", torch.cuda.is_available(), torch.cuda.is_available() and torch.cuda.get_device_name(0))
except Exception as exc:
    print("torch cuda: none:", exc)
EOF
cat "$OUT/env.txt"

status=0
run() {  # run NAME BACKEND TIMEOUT [FLAGS...]
    local name=$1 backend=$2 limit=$3; shift 3
    echo "== $name: KERAS_BACKEND=$backend python -m course_utils.compare $GPU_FLAG $*" | tee "$OUT/$name.txt"
    KERAS_BACKEND=$backend timeout "$limit" "$PYTHON" -m course_utils.compare $GPU_FLAG "$@" 2>&1 | tee -a "$OUT/$name.txt"
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc" | tee -a "$OUT/$name.txt"
    return "$rc"
}
run jax jax 170 --seeds "$SEEDS" || status=1
run torch torch 110 --seeds "$SEEDS" || status=1
run jax_tf32 jax 90 --seeds 1 --tf32 || true
run torch_tf32 torch 60 --seeds 1 --tf32 || true
echo "gpu_check: exit $status (TF32 off on both backends)"
exit $status

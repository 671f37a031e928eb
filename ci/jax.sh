#!/usr/bin/env bash
# CI job 3: the course on Keras's JAX backend, in a fresh venv without TensorFlow.
#   1. install ci/requirements-jax.txt (Keras, jax, the notebook and test tools) and course_utils;
#   2. fail if TensorFlow can be imported there (it must not be needed: the course imports it only
#      on the TensorFlow backend);
#   3. with KERAS_BACKEND=jax, run the unit tests (the TensorFlow-only ones skip, saying why; the ones
#      that never touch Keras ran in job 1, see BACKEND_FREE) and every solution notebook.
# JAX_VENV (default: a fresh temporary folder) is where the venv goes; arguments, if any, replace
# the default selection (e.g. `bash ci/jax.sh solutions/08_gan.ipynb`).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
python=${PYTHON:-python3}

venv=${JAX_VENV:-$(mktemp -d)/jax-venv}
if [[ "${JAX_REUSE:-0}" == 1 && -x "$venv/bin/python" ]]; then   # maintainers' quick re-runs only
    echo "jax job: reusing $venv"
else
    rm -rf "$venv"
    "$python" -m venv "$venv"
    echo "jax job: $("$venv/bin/python" --version) in $venv"
    "$venv/bin/python" -m pip install -q -r ci/requirements-jax.txt
    "$venv/bin/python" -m pip install -q --no-deps -e "$repo"
fi

if "$venv/bin/python" -c "import tensorflow" >/dev/null 2>&1; then
    echo "jax job: TensorFlow is importable in $venv; this job must run without it." >&2
    exit 1
fi
export KERAS_BACKEND=jax
"$venv/bin/python" -c "import keras, jax; print(f'jax job: Keras {keras.__version__} on', keras.backend.backend(), f'(jax {jax.__version__}); TensorFlow: not installed')"

# Left out here: the tests that never touch Keras, which job 1 has just run with the same Python, NumPy
# and tools (ci/requirements-jax.txt and requirements.txt pin the same ranges, so pip picks the same
# releases): the exercises' mutation suite, the build, the house, the packaging and nbgrader's metadata
# and round trip (its notebooks run here through nbval). Everything that imports Keras runs here.
BACKEND_FREE=(tests/test_exercise_mutations.py tests/test_build.py tests/test_house.py
              tests/test_packaging.py tests/test_nbgrader.py)
# Also left out: grading every real lesson end to end (tests/test_grader.py::test_cli_grades_a_real_lesson
# executes each solution notebook and each blank lesson once more in the grader's kernels). Job 1 grades
# all of them; here one lesson is graded on JAX, and every solution notebook runs under nbval below.
if [[ $# -eq 0 ]]; then
    set -- -n auto tests solutions -k "not (test_cli_grades_a_real_lesson and not 01_neuron)"
    for f in "${BACKEND_FREE[@]}"; do set -- "$@" --ignore="$f"; done
fi
"$venv/bin/pytest" -p no:cacheprovider "$@"

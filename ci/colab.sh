#!/usr/bin/env bash
# CI job 2: the course on Google Colab's own stack (ci/colab-constraints.txt), in a Python 3.13 venv.
#   1. install Colab's pinned packages (and pytest/nbval, constrained by them);
#   2. install course_utils exactly as a lesson's Colab header cell does (`pip install <requirement>`,
#      dependencies included, nothing pinned), and fail if that changed any of Colab's packages;
#   3. run the unit tests and every solution notebook there.
# COLAB_VENV (default: a fresh temporary folder) is where the venv goes.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

py313=$(command -v python3.13 || true)
if [[ -n "$py313" ]] && ! "$py313" -c "import sys" >/dev/null 2>&1; then
    py313=""   # e.g. a pyenv shim for a version that is installed but not selected
fi
if [[ -z "$py313" ]] && command -v pyenv >/dev/null; then
    for candidate in "$(pyenv root)"/versions/3.13*/bin/python3.13; do
        [[ -x "$candidate" ]] && py313=$candidate
    done
fi
if [[ -z "$py313" ]]; then
    echo "ci/colab.sh: no Python 3.13 found (neither python3.13 on PATH nor pyenv's 3.13). Colab runs" \
         "Python 3.13, so this job cannot check the course on Colab's stack. Install Python 3.13." >&2
    exit 1
fi
venv=${COLAB_VENV:-$(mktemp -d)/colab-venv}
pip="$venv/bin/python -m pip"
constraints=ci/colab-constraints.txt
if [[ "${COLAB_REUSE:-0}" == 1 && -x "$venv/bin/python" ]]; then   # maintainers' quick re-runs only
    echo "colab job: reusing $venv"
    $pip install -q --no-deps --force-reinstall "course-utils @ file://$repo"
else
    rm -rf "$venv"
    "$py313" -m venv "$venv"
    echo "colab job: $("$venv/bin/python" --version) in $venv"
    $pip install -q -r "$constraints"
    $pip install -q -c "$constraints" "pytest>=7.4" "nbval>=0.11" "pytest-xdist>=3.5"

    pinned=$(grep -Ev '^\s*(#|$)' "$constraints" | sed 's/[<>=!~].*//' | tr 'A-Z_' 'a-z-')
    freeze_pinned() {
        $pip list --format=freeze 2>/dev/null | tr 'A-Z_' 'a-z-' | grep -E "^($(echo $pinned | tr ' ' '|'))==" | sort
    }
    freeze_pinned > "$venv/pinned-before.txt"
    # The header cell runs `pip install -q "course-utils @ git+https://github.com/<REPOSITORY>.git"`;
    # here the same requirement points at this checkout.
    $pip install -q "course-utils @ file://$repo"
    freeze_pinned > "$venv/pinned-after.txt"
    if ! diff -u "$venv/pinned-before.txt" "$venv/pinned-after.txt"; then
        echo "colab job: installing course_utils changed Colab's pinned packages (diff above)." >&2
        exit 1
    fi
    echo "colab job: installing course_utils changed none of the $(wc -l < "$venv/pinned-after.txt") pinned packages"
fi

# The installed course_utils (not the checkout's) is what a Colab learner runs, and it is what the
# tests import here: the pytest script does not put the checkout on sys.path, and the notebooks'
# kernels start in solutions/.
(cd / && "$venv/bin/python" -c "import course_utils; assert not course_utils.__file__.startswith('$repo/'), course_utils.__file__; print('colab job: course_utils from', course_utils.__file__)")
# (arguments, if any, replace the default selection: e.g. `bash ci/colab.sh tests/test_nn_core.py -x`)
if [[ $# -eq 0 ]]; then set -- -n auto tests solutions; fi
"$venv/bin/pytest" -p no:cacheprovider "$@"

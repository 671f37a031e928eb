"""Package the grader as a Gradescope autograder for one lesson, and run it there.

    python -m course_utils.grade.gradescope --lesson 01_neuron --out autograder.zip [--tests DIR]

writes a zip to upload as a "Programming Assignment" autograder:

    setup.sh          Gradescope runs it once when it builds the image: a virtual environment at
                      /autograder/venv with requirements.txt (the course's version ranges) and the
                      course package
    run_autograder    Gradescope runs it for every submission: finds the submitted .ipynb in
                      /autograder/submission, grades it with the same grader as the local command,
                      writes /autograder/results/results.json
    requirements.txt  what setup.sh installs
    course_package/   this very course_utils (source), so Gradescope grades with the code you tested
                      (``--source SPEC`` installs a pip requirement instead, e.g. from git)
    tests/<lesson>.py the hidden tests, when --tests is given

Inside the image, run_autograder calls ``python -m course_utils.grade.gradescope --run ...``.
"""
from __future__ import annotations

import argparse
import io
import os
import shlex
import stat
import sys
import time
import zipfile
from pathlib import Path

from .. import __version__
from .. import exercises as exercises_module
from . import report
from .cases import GradingSetupError, load_hidden_tests, plan_lesson
from .core import GradeOptions, _empty_result, find_submissions, format_size, grade_notebook, parse_size
from .scoring import VISIBILITIES
from .submission import NotANotebook, read_notebook_bytes

SOURCE_DIR = "/autograder/source"
VENV = "/autograder/venv"
# what the grading image needs (requirements.txt of the course without the notebook editor and tests)
_NOT_FOR_GRADING = ("jupyterlab", "pytest", "nbval", "-e", "-r", "--")
_FALLBACK_REQUIREMENTS = ["tensorflow>=2.20,<2.22", "keras>=3.13,<4", "numpy>=1.26,<3", "scikit-learn>=1.3",
                          "matplotlib>=3.7", "ipykernel>=6.25", "nbformat>=5.9", "nbclient>=0.9"]

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image (course_utils {version}).
set -euo pipefail
cd {source_dir}
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip
fi
python3 -m venv {venv}
{venv}/bin/python -m pip install --upgrade pip
{venv}/bin/python -m pip install -r requirements.txt
{venv}/bin/python -m pip install {package}
# fail the build now, not at the first submission, if the grader cannot run
{venv}/bin/python -c "import course_utils.grade.core, ipykernel, numpy; from course_utils.exercises import load_lesson; assert load_lesson({lesson!r})"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: grade the submitted notebook against lesson {lesson}
# with course_utils's grader; it writes /autograder/results/results.json.
set -uo pipefail
cd {source_dir}
exec {venv}/bin/python -m course_utils.grade.gradescope --run {arguments}
"""


def build_zip(lesson, out, tests_dir=None, options=None, source=None):
    """Write the autograder zip for ``lesson`` to ``out``; return the list of names in it."""
    options = options or GradeOptions()
    exercises = _load(lesson)
    hidden, points = load_hidden_tests(tests_dir, lesson, exercises) if tests_dir else ({}, {})
    plan_lesson(exercises, hidden, points, lesson)     # fail now, not in Gradescope, if anything is broken
    hidden_file = Path(tests_dir) / f"{lesson}.py" if tests_dir is not None else None
    arguments = [f"--lesson {shlex.quote(lesson)}", "--submission /autograder/submission",
                 "--results /autograder/results/results.json",
                 f"--cell-timeout {options.cell_timeout:g}", f"--timeout {options.timeout:g}",
                 f"--memory-limit {options.memory_limit}", f"--rss-limit {options.rss_limit or RSS_AUTO}",
                 f"--hidden-visibility {options.hidden_visibility}"]
    if hidden_file is not None:
        arguments.append(f"--tests {SOURCE_DIR}/tests")
    files = {}
    package = "./course_package" if source is None else shlex.quote(source)
    files["setup.sh"] = (SETUP_SH.format(version=__version__, source_dir=SOURCE_DIR, venv=VENV, package=package,
                                         lesson=lesson), True)
    files["run_autograder"] = (RUN_AUTOGRADER.format(lesson=lesson, source_dir=SOURCE_DIR, venv=VENV,
                                                     arguments=" \\\n    ".join(arguments)), True)
    files["requirements.txt"] = ("\n".join(grading_requirements()) + "\n", False)
    if hidden_file is not None:
        files[f"tests/{lesson}.py"] = (hidden_file.read_bytes(), False)
    if source is None:
        for name, data in package_files():
            files[f"course_package/{name}"] = (data, False)
    out = Path(out)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, (data, executable) in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if executable else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            zf.writestr(info, data)
    report.atomic_write(out, buffer.getvalue())
    return sorted(files)


def _load(lesson):
    try:
        exercises = exercises_module.load_lesson(lesson)
    except KeyError:
        raise GradingSetupError(f"there is no lesson {lesson!r}. The lessons with exercises are: "
                                f"{', '.join(exercises_module.lessons())}.") from None
    if not exercises:
        raise GradingSetupError(f"lesson {lesson!r} defines no exercises.")
    return exercises


def grading_requirements():
    """The course's requirements.txt lines needed to grade (no editor, no test tools), plus ipykernel."""
    root = Path(__file__).resolve().parents[2]
    lines = []
    try:
        text = (root / "requirements.txt").read_text(encoding="utf-8")
    except OSError:
        return list(_FALLBACK_REQUIREMENTS)
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.lower().startswith(_NOT_FOR_GRADING):
            lines.append(line)
    if not any(line.lower().startswith("ipykernel") for line in lines):
        lines.append("ipykernel>=6.25")
    return lines


def package_files():
    """[(relative name, bytes)]: the course package's source, installable with pip."""
    package_dir = Path(__file__).resolve().parents[1]
    root = package_dir.parent
    skip = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}

    def walk(folder, prefix):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not skip.intersection(path.parts) and path.suffix not in (".pyc", ".pyo"):
                yield f"{prefix}{path.relative_to(folder).as_posix()}", path.read_bytes()

    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "course-utils"' in pyproject.read_text(encoding="utf-8"):
        yield "pyproject.toml", pyproject.read_bytes()
        readme = root / "README.md"
        yield "README.md", readme.read_bytes() if readme.is_file() else b"# course_utils\n"
        yield from walk(package_dir, "course_utils/")
        if (root / "data").is_dir():
            yield from walk(root / "data", "data/")
        return
    # an installed (non-editable) course_utils: ship it with a minimal pyproject
    yield "pyproject.toml", _MINIMAL_PYPROJECT.format(version=__version__).encode()
    yield "README.md", b"# course_utils\n"
    yield from walk(package_dir, "course_utils/")


_MINIMAL_PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "course-utils"
version = "{version}"
requires-python = ">=3.10"
dependencies = ["numpy>=1.26", "matplotlib>=3.7", "scikit-learn>=1.3", "nbformat>=5.9", "nbclient>=0.9"]

[tool.setuptools.packages.find]
include = ["course_utils*"]

[tool.setuptools.package-data]
"*" = ["*.txt", "*.csv", "*.npz", "*.json", "*.md"]
"""


# ---------------------------------------------------------------------- inside Gradescope
RSS_AUTO = "auto"
GRADER_SHARE = 96 * 2**20     # what the grading process itself keeps resident, with a margin


def rss_limit_for_container(text):
    """--rss-limit: 'auto' is the container's memory (cgroup limit) less the grading process's own
    share, so that the grader stops a kernel that needs more and says so, before the system's
    out-of-memory killer picks a process (possibly the grader, which would then write no result)."""
    if str(text).strip().lower() != RSS_AUTO:
        return parse_size(text)
    from .kernel import container_memory, resident_memory
    total = container_memory()
    if not total:
        return 0
    own = resident_memory(os.getpid())[0]
    return max(total - own - GRADER_SHARE, 256 * 2**20)


def run_autograder(lesson, submission_dir, results_path, options=None, tests_dir=None, exercises=None):
    """Grade the one notebook in ``submission_dir``; write Gradescope's results.json; return the result."""
    options = options or GradeOptions()
    t0 = time.monotonic()
    exercises = list(exercises) if exercises is not None else _load(lesson)
    hidden, points = load_hidden_tests(tests_dir, lesson, exercises) if tests_dir else ({}, {})
    plan = plan_lesson(exercises, hidden, points, lesson)
    found = find_submissions(submission_dir) if Path(submission_dir).is_dir() else []
    if not found:
        result = _empty_result(Path("no notebook"), "no notebook", "", plan, "not a notebook",
                               f"No notebook (.ipynb file) was found in the submission. Upload your "
                               f"notebook for lesson {lesson} (File > Download > .ipynb).", t0)
    else:
        path, note = _choose(found, lesson)
        result = grade_notebook(path, plan, options, stem=_stem(path))
        if note:
            result.output = f"{result.output}\n{note}"
    report.atomic_write(results_path, _json(result.results_json()))
    return result


def _choose(found, lesson):
    """The submitted notebook to grade (and a note when there were several)."""
    paths = [p for p, _ in found]
    if len(paths) == 1:
        return paths[0], ""

    def says_lesson(path):
        try:
            return read_notebook_bytes(path.read_bytes()).lesson == lesson
        except (OSError, NotANotebook):
            return False

    candidates = [p for p in paths if says_lesson(p)] or paths
    chosen = max(candidates, key=lambda p: (p.stat().st_mtime, p.name))
    names = ", ".join(p.name for p in paths)
    return chosen, f"Several notebooks were submitted ({names}); {chosen.name} was graded."


def _stem(path):
    name = path.name
    return name[:-6] if name.lower().endswith(".ipynb") else path.stem


def _json(data):
    import json
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.grade.gradescope",
        description="Write a Gradescope autograder zip (setup.sh + run_autograder) that grades one lesson "
                    "with course_utils's grader; with --run, grade a submission inside Gradescope.")
    parser.add_argument("--lesson", required=True, help="the lesson to grade, e.g. 01_neuron")
    parser.add_argument("--out", default="autograder.zip", help="the zip to write (default %(default)s)")
    parser.add_argument("--tests", metavar="DIR", help="hidden tests folder (DIR/<lesson>.py), shipped in the zip")
    parser.add_argument("--cell-timeout", type=float, default=GradeOptions.cell_timeout, metavar="SECONDS")
    parser.add_argument("--timeout", type=float, default=GradeOptions.timeout, metavar="SECONDS")
    parser.add_argument("--memory-limit", default=str(GradeOptions.memory_limit), metavar="SIZE")
    parser.add_argument("--rss-limit", default=RSS_AUTO, metavar="SIZE",
                        help="resident memory past which a kernel is stopped and the result says it ran out of "
                             "memory; 'auto' (default): the container's memory less the grader's share; 0: none")
    parser.add_argument("--hidden-visibility", choices=VISIBILITIES, default=GradeOptions.hidden_visibility)
    parser.add_argument("--source", metavar="SPEC", help="install this pip requirement in Gradescope instead of "
                                                         "shipping the local course_utils source")
    parser.add_argument("--run", action="store_true", help="(inside Gradescope) grade the submission")
    parser.add_argument("--submission", default="/autograder/submission", help="with --run: the submission folder")
    parser.add_argument("--results", default="/autograder/results/results.json", help="with --run: results.json")
    args = parser.parse_args(argv)
    try:
        # in the zip, 'auto' is written as is (0 here); inside Gradescope it becomes the container's size
        auto = str(args.rss_limit).strip().lower() == RSS_AUTO
        options = GradeOptions(cell_timeout=args.cell_timeout, timeout=args.timeout,
                               memory_limit=parse_size(args.memory_limit), hidden_visibility=args.hidden_visibility,
                               rss_limit=rss_limit_for_container(args.rss_limit) if args.run or not auto else 0)
        if args.run:
            result = run_autograder(args.lesson, args.submission, args.results, options, args.tests)
            print(result.output)
            print(f"score {report._number(result.score)} / {report._number(result.max_score)} ({result.status}); "
                  f"results written to {args.results}")
            return 0
        names = build_zip(args.lesson, args.out, args.tests, options, args.source)
    except GradingSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {args.out} ({len(names)} files) - upload it as the autograder of a Gradescope programming "
          f"assignment for lesson {args.lesson}. Limits: cell {options.cell_timeout:g} s, notebook "
          f"{options.timeout:g} s, address space {format_size(options.memory_limit) if options.memory_limit else 'none'}, "
          f"resident memory {format_size(options.rss_limit) if options.rss_limit else 'the container' + chr(39) + 's'}. "
          f"Choose the autograder's memory for this lesson from the README's table (Grading submissions): "
          f"a grading kernel imports TensorFlow and needs more than Gradescope's default 768 MB.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

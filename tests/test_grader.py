"""The instructors' grader against hostile submissions.

A fixture lesson (``zz_fixture``: add, scale, and a value ``answer``; plus one hidden test of
``add``) is graded from notebooks generated here. One module-scoped run grades the whole fixture
folder with --jobs 2 (cell timeout 6 s, memory limit 1 GiB); each test then asserts one
submission's exact score and status. Maximum: add 1 + add's hidden tests 1 + scale 2 + answer 1 = 5.

Fixture table (score / status) as asserted below:

    correct                      5  graded
    blank stub                   0  graded
    partial                      2  graded          add only
    syntax error                 3  graded          add's cell does not compile
    exception mid-way            5  graded          a cell raises between the exercises, input() too
    reset namespace              5  graded          %reset -f after add, scale deleted at the end
    infinite loop                5  cell timeout    interrupted, the run goes on
    stubborn loop                2  cell timeout    ignores KeyboardInterrupt: kernel killed, add kept
    os._exit                     2  kernel died     add kept
    sys.exit                     5  graded          an error in that cell, the run goes on
    exit()                       2  kernel died     the kernel stops after that cell
    segfault                     4  kernel died     add and scale kept
    memory hog                   3  graded          10 GiB refused (MemoryError); scale hogs too: 0
    child processes              5  graded          both children (one in its own session) killed
    huge output                  5  graded          50 MB printed, not kept
    monkeypatched numpy          2  graded          np.asarray/allclose/... and print patched; add wrong
    __eq__ tricks, check         0  graded          always-equal objects and arrays, check() redefined
    hostile exceptions           1  graded          BaseException with a broken __str__, sys.exit inside
    looping function             3  graded          scale never returns when called (SIGALRM ignored): 6 s
    in-place                     3  graded          scale changes its input
    deleted cell                 3  graded          add missing
    duplicated cells             5  graded          a stub pasted after the solution: latest answer kept
    reordered cells              5  graded          uses before definitions, a global defined later
    Colab                        5  graded          Colab metadata, outputs, no cell ids, google.colab
    Zoë Müller - lesson 1        5  graded          a name with spaces and accents
    truncated JSON               0  not a notebook
    PNG renamed                  0  not a notebook
    text renamed                 0  not a notebook
    no cells                     0  empty notebook
    markdown only                0  empty notebook
    whole-notebook timeout       2  timeout         (its own run, --timeout 12)
"""
import csv
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_utils import exercises as exercises_module
from course_utils.exercises import Case, Exercise
from course_utils.grade import GradeOptions, grade_submissions
from course_utils.grade.cases import GradingSetupError, load_hidden_tests, plan_lesson
from course_utils.grade.core import find_submissions, parse_size
from course_utils.grade.gradescope import build_zip, run_autograder
from course_utils.grade.submission import NotANotebook, may_rebind, read_notebook_bytes

ROOT = Path(__file__).resolve().parents[1]

try:  # the grader refuses jupyter_client < 8 (Colab's 7.4.9) with a clear message: tests/test_colab_stack.py
    from course_utils.grade.kernel import require_supported_jupyter_client
    require_supported_jupyter_client()
except GradingSetupError as exc:
    pytest.skip(f"the grader does not run here: {exc}", allow_module_level=True)
LESSON = "zz_fixture"


# ---------------------------------------------------------------------- the fixture lesson
def _add(a, b):
    return a + b


def _scale(x, factor=2.0):
    return x * factor


def _scale_cases(rng):
    return [Case((rng.normal(size=(2, 3)),), {"factor": 3.0}, label="a (2, 3) batch"),
            Case((rng.normal(size=4),), label="default factor")]


def _fixture_exercises():
    """The zz_fixture exercises, kept out of the course's registry (other tests list all exercises)."""
    made = [
        Exercise(f"{LESSON}.add", reference=_add, points=1.0, title="a + b",
                 cases=[Case((1.0, 2.0), label="numbers"), Case((np.arange(3.0), np.ones(3)), label="arrays")],
                 mistakes={"you subtracted: the sum is a + b": lambda a, b: a - b}),
        Exercise(f"{LESSON}.scale", reference=_scale, cases=_scale_cases, points=2.0,
                 mistakes={"you added the factor instead of multiplying by it": lambda x, factor=2.0: x + factor}),
        Exercise(f"{LESSON}.answer", reference=42.0, kind="value", points=1.0),
    ]
    for ex in made:
        exercises_module.EXERCISES.pop(ex.key, None)
    return made


EXERCISES = _fixture_exercises()
HIDDEN = {f"{LESSON}.add": [Case((np.array([1e3, -2.0]), np.array([0.5, 0.5])), label="hidden")]}
MAX = 5.0
KEYS = [f"{LESSON}.add", f"{LESSON}.scale", f"{LESSON}.answer"]

# ---------------------------------------------------------------------- notebook pieces
ADD_OK = "def add(a, b):\n    return a + b"
ADD_STUB = "def add(a, b):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
SCALE_OK = "def scale(x, factor=2.0):\n    return x * factor"
SCALE_STUB = "def scale(x, factor=2.0):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
ANSWER_OK = "answer = 6 * 7"


def _setup(pid_dir):
    # records the kernel's pid (to check that it is gone) and that the kernel imported no TensorFlow
    return ("import os, sys\n"
            f"open(os.path.join({str(pid_dir)!r}, str(os.getpid())), 'w').close()\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
            "import numpy as np")


def _notebook(cells, metadata=None):
    nb = nbformat.v4.new_notebook()
    for cell in cells:
        if isinstance(cell, tuple):
            nb.cells.append(nbformat.v4.new_markdown_cell(cell[1]))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(cell))
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["course"] = {"lesson": LESSON}
    nb.metadata.update(metadata or {})
    return nbformat.writes(nb)


def _colab_notebook(setup):
    """As Colab saves it: nbformat 4.0 without cell ids, Colab metadata, outputs, lists of lines."""
    def code(source, outputs=()):
        return {"cell_type": "code", "execution_count": 3, "metadata": {"id": "x9Yk2", "colab": {
            "base_uri": "https://localhost:8080/"}, "outputId": "5b1c-e8"},
            "outputs": list(outputs), "source": source.splitlines(keepends=True)}
    cells = [
        {"cell_type": "markdown", "metadata": {"id": "t1"}, "source": ["# ZZ · Fixture\n", "Colab copy"]},
        code(setup),
        code("from google.colab import drive\ndrive.mount('/content/drive')"),
        code("!nvidia-smi"),
        code(ADD_OK),
        code(SCALE_OK, [{"name": "stdout", "output_type": "stream", "text": ["ok\n"]}]),
        code(ANSWER_OK),
    ]
    return json.dumps({"nbformat": 4, "nbformat_minor": 0, "cells": cells, "metadata": {
        "colab": {"provenance": [], "gpuType": "T4", "name": "zz_fixture.ipynb"},
        "accelerator": "GPU", "kernelspec": {"name": "python3", "display_name": "Python 3"},
        "language_info": {"name": "python"}, "course": {"lesson": LESSON}}}, indent=2)


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
       b"\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def _fixtures(pid_dir, child_pid_file):
    """{file name: notebook text or bytes} and {stem: (score, status)}."""
    setup = _setup(pid_dir)
    correct = _notebook([("md", "# ZZ · Fixture"), setup, ADD_OK, SCALE_OK, ANSWER_OK, "print('done')"])
    files = {
        "correct.ipynb": correct,
        "blank stub.ipynb": _notebook([setup, ADD_STUB, SCALE_STUB, "answer = None"]),
        "partial.ipynb": _notebook([setup, ADD_OK, SCALE_STUB, "answer = 41"]),
        "syntax error.ipynb": _notebook([setup, "def add(a, b)\n    return a + b", SCALE_OK, ANSWER_OK]),
        "exception mid-way.ipynb": _notebook([setup, ADD_OK, "raise ValueError('boom')", "name = input('Name?')",
                                              SCALE_OK, ANSWER_OK]),
        "reset namespace.ipynb": _notebook([setup, ADD_OK, "%reset -f", "import numpy as np", SCALE_OK,
                                            "del scale\nanswer = 42"]),
        "infinite loop.ipynb": _notebook([setup, ADD_OK, "while True:\n    pass", SCALE_OK, ANSWER_OK]),
        "stubborn loop.ipynb": _notebook([setup, ADD_OK, "while True:\n    try:\n        while True:\n"
                                          "            pass\n    except KeyboardInterrupt:\n        pass",
                                          SCALE_OK, ANSWER_OK]),
        "os exit.ipynb": _notebook([setup, ADD_OK, "import os\nos._exit(3)", SCALE_OK, ANSWER_OK]),
        "sys exit.ipynb": _notebook([setup, ADD_OK, "import sys\nsys.exit(1)", SCALE_OK, ANSWER_OK]),
        "exit call.ipynb": _notebook([setup, ADD_OK, "exit()", SCALE_OK, ANSWER_OK]),
        "segfault.ipynb": _notebook([setup, ADD_OK, SCALE_OK, "import ctypes\nctypes.string_at(0)", ANSWER_OK]),
        "memory hog.ipynb": _notebook([setup, ADD_OK, "hog = np.ones(10 * 2**30 // 8)",
                                       "def scale(x, factor=2.0):\n    hog = np.ones(10 * 2**30 // 8)\n"
                                       "    return x * factor", ANSWER_OK]),
        "child processes.ipynb": _notebook([setup, ADD_OK,
                                            "import subprocess\n"
                                            "child = subprocess.Popen(['sleep', '1000'])\n"
                                            "escaped = subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
                                            f"open({str(child_pid_file)!r}, 'w').write(f'{{child.pid}} {{escaped.pid}}')",
                                            SCALE_OK, ANSWER_OK]),
        "huge output.ipynb": _notebook([setup, ADD_OK, "print('x' * 50_000_000)", SCALE_OK, ANSWER_OK]),
        "monkeypatched numpy.ipynb": _notebook([
            setup,
            "import builtins\n"
            "np.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n"
            "np.array_equal = lambda *a, **k: True\nnp.asarray = lambda a, *args, **kw: np.zeros(3)\n"
            "np.array = lambda a, *args, **kw: np.zeros(3)\nnp.save = np.load = None\n"
            "builtins.print = lambda *a, **k: None\n"
            "def check(*args, **kwargs):\n    return True",
            "def add(a, b):\n    return a - b", SCALE_OK, "answer = 41", "check('zz_fixture.add', add)"]),
        "eq tricks and check.ipynb": _notebook([
            setup,
            "class Anything:\n    def __eq__(self, other):\n        return True\n"
            "    def __ne__(self, other):\n        return False\n"
            "class EqArray(np.ndarray):\n    def __eq__(self, other):\n        return np.ones(self.shape, bool)\n"
            "    def __ne__(self, other):\n        return np.zeros(self.shape, bool)\n"
            "def check(*args, **kwargs):\n    print('\u2714 all tests passed')",
            "def add(a, b):\n    return Anything()",
            "def scale(x, factor=2.0):\n    return np.zeros_like(x).view(EqArray)",
            "answer = Anything()", "check('zz_fixture.add', add)"]),
        "hostile exceptions.ipynb": _notebook([
            setup,
            "NotImplementedError = ValueError\n"
            "class Weird(BaseException):\n    def __str__(self):\n        raise RuntimeError('no message')",
            "def add(a, b):\n    raise Weird()",
            "def scale(x, factor=2.0):\n    sys.exit('bye')",
            ANSWER_OK]),
        "looping function.ipynb": _notebook([setup, ADD_OK, "import signal\n"
                                             "signal.signal(signal.SIGALRM, signal.SIG_IGN)  # no timer for me\n"
                                             "def scale(x, factor=2.0):\n    while True:\n        pass",
                                             ANSWER_OK]),
        "in-place.ipynb": _notebook([setup, ADD_OK, "def scale(x, factor=2.0):\n    x *= factor\n    return x",
                                     ANSWER_OK]),
        "deleted cell.ipynb": _notebook([setup, SCALE_OK, ANSWER_OK]),
        "duplicated cells.ipynb": _notebook([setup, ADD_OK, ADD_STUB, SCALE_OK, SCALE_OK, ANSWER_OK, ADD_STUB]),
        "reordered cells.ipynb": _notebook([setup, "print(add(1, 2))", ANSWER_OK,
                                            "def scale(x, factor=2.0):\n    return x * factor * UNIT",
                                            ADD_OK, "UNIT = 1.0"]),
        "colab.ipynb": _colab_notebook(setup),
        "Zoë Müller - lesson 1.ipynb": correct,
        "truncated.ipynb": correct[:len(correct) // 2],
        "png renamed.ipynb": PNG,
        "text renamed.ipynb": "My answers: add is a + b, the answer is 42.\n",
        "no cells.ipynb": json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
        "markdown only.ipynb": _notebook([("md", "# ZZ · Fixture"), ("md", "I did not do it.")]),
    }
    expected = {
        "correct": (5, "graded"), "blank stub": (0, "graded"), "partial": (2, "graded"),
        "syntax error": (3, "graded"), "exception mid-way": (5, "graded"), "reset namespace": (5, "graded"), "infinite loop": (5, "cell timeout"),
        "stubborn loop": (2, "cell timeout"), "os exit": (2, "kernel died"), "sys exit": (5, "graded"),
        "exit call": (2, "kernel died"), "segfault": (4, "kernel died"), "memory hog": (3, "graded"),
        "child processes": (5, "graded"), "huge output": (5, "graded"), "monkeypatched numpy": (2, "graded"),
        "eq tricks and check": (0, "graded"), "hostile exceptions": (1, "graded"),
        "looping function": (3, "graded"), "in-place": (3, "graded"), "deleted cell": (3, "graded"),
        "duplicated cells": (5, "graded"), "reordered cells": (5, "graded"), "colab": (5, "graded"),
        "Zoë Müller - lesson 1": (5, "graded"), "truncated": (0, "not a notebook"),
        "png renamed": (0, "not a notebook"), "text renamed": (0, "not a notebook"),
        "no cells": (0, "empty notebook"), "markdown only": (0, "empty notebook"),
    }
    return files, expected


def _write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _tree_hash(folder):
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            st = path.stat()
            digest.update(path.read_bytes() + f"{st.st_mtime_ns} {stat.S_IMODE(st.st_mode)}".encode())
    return digest.hexdigest()


def _alive(pid):
    """True if ``pid`` is a live process (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


# cell timeout 6 s: long enough for the fixture that prints 50 MB to finish on a loaded 2-core
# machine (at load 16 it took over 3 s and was stopped), short enough that the loops stop quickly.
OPTIONS = GradeOptions(cell_timeout=6.0, timeout=90.0, memory_limit=parse_size("1G"), interrupt_grace=3.0)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every fixture once (2 jobs); return (results by stem, out dir, expected, pid info)."""
    base = tmp_path_factory.mktemp("grader")
    pid_dir = base / "pids"
    pid_dir.mkdir()
    child_pid_file = base / "child_pids.txt"
    files, expected = _fixtures(pid_dir, child_pid_file)
    submissions, out = base / "submissions", base / "results"
    _write(submissions, files)
    before = _tree_hash(submissions)
    lines = []
    results = grade_submissions(find_submissions(submissions), EXERCISES, out, options=OPTIONS, hidden=HIDDEN,
                                jobs=2, progress=lines.append)
    after = _tree_hash(submissions)
    return {"results": {r.stem: r for r in results}, "out": out, "expected": expected, "before": before,
            "after": after, "pid_dir": pid_dir, "child_pid_file": child_pid_file, "progress": lines,
            "submissions": submissions}


STEMS = list(_fixtures(Path("/p"), Path("/c"))[1])


@pytest.mark.parametrize("stem", STEMS)
def test_fixture_score_and_status(graded, stem):
    result = graded["results"][stem]
    score, status = graded["expected"][stem]
    assert (result.score, result.status) == (score, status), (
        f"{stem}: expected {score} ({status}), got {result.score} ({result.status})\n{result.output}\n"
        + "\n".join(f"  {t['name']}: {t['score']}/{t['max_score']} {t['output']}" for t in result.tests))
    assert result.max_score == MAX
    on_disk = json.loads((graded["out"] / f"{stem}.json").read_text(encoding="utf-8"))
    assert on_disk["score"] == score and on_disk["extra_data"]["status"] == status
    validate_gradescope(on_disk)


# ---------------------------------------------------------------------- Gradescope's format
_TOP = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
        "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
         "visibility", "extra_data"}
_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def validate_gradescope(data):
    """Gradescope's results.json fields: known keys only, the right types, statuses and visibilities."""
    assert isinstance(data, dict)
    assert set(data) <= _TOP, f"unknown top-level keys {set(data) - _TOP}"
    assert "score" in data or "tests" in data
    assert isinstance(data["score"], (int, float)) and not isinstance(data["score"], bool)
    assert isinstance(data["execution_time"], int) and data["execution_time"] >= 0
    assert isinstance(data["output"], str)
    assert data.get("stdout_visibility", "hidden") in _VISIBILITY
    assert isinstance(data.get("extra_data", {}), dict)
    assert isinstance(data["tests"], list) and data["tests"]
    for test in data["tests"]:
        assert set(test) <= _TEST, f"unknown test keys {set(test) - _TEST}"
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert (test["status"] == "passed") == (test["score"] == test["max_score"])
        assert isinstance(test["output"], str) and test["output"]
        assert test["visibility"] in _VISIBILITY
    assert abs(sum(t["score"] for t in data["tests"]) - data["score"]) < 1e-9


def _tests(result):
    return {t["name"].split(":")[0]: t for t in result.tests}


# ---------------------------------------------------------------------- what each fixture shows
def test_submissions_folder_is_never_modified(graded):
    assert graded["before"] == graded["after"]


def test_gradebook_csv(graded):
    text = (graded["out"] / "gradebook.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["submission", *KEYS, "total", "max", "status"]
    body = rows[1:]
    assert [r[0] for r in body] == sorted((r[0] for r in body), key=lambda s: (s.casefold(), s))
    assert len(body) == len(STEMS)
    table = {r[0]: r for r in body}
    for stem, (score, status) in graded["expected"].items():
        row = table[stem]
        assert float(row[-3]) == score and float(row[-2]) == MAX and row[-1] == status, row
        assert sum(float(x) for x in row[1:-3]) == score
    assert table["partial"][1:4] == ["2", "0", "0"]   # add: public 1 + hidden 1
    assert not [p for p in graded["out"].iterdir() if p.name.endswith(".tmp")], "a temporary file was left"
    assert len(graded["progress"]) == len(STEMS)


def test_correct_submission_in_detail(graded):
    result = graded["results"]["correct"]
    tests = _tests(result)
    assert set(tests) == {"zz_fixture.add", "zz_fixture.add (hidden tests)", "zz_fixture.scale",
                          "zz_fixture.answer"}
    assert tests["zz_fixture.add"]["visibility"] == "visible"
    assert tests["zz_fixture.add (hidden tests)"]["visibility"] == "after_published"
    assert tests["zz_fixture.scale"]["max_score"] == 2.0
    assert "raised" not in result.output, result.output          # incl. the no-TensorFlow assertion
    assert "cannot change them and were not run" in result.output  # the final print('done') was skipped


def test_blank_stub_says_not_implemented(graded):
    tests = _tests(graded["results"]["blank stub"])
    assert "`add` is not implemented yet" in tests["zz_fixture.add"]["output"]
    assert "`scale` is not implemented yet" in tests["zz_fixture.scale"]["output"]
    assert "`answer` is None: assign your result to `answer`." in tests["zz_fixture.answer"]["output"]


def test_partial_names_the_wrong_value(graded):
    tests = _tests(graded["results"]["partial"])
    assert tests["zz_fixture.answer"]["output"] == "0 of 1 tests passed. The value is wrong: expected 42, got 41."


def test_errors_in_cells_are_reported_and_the_run_goes_on(graded):
    results = graded["results"]
    assert "raised SyntaxError" in results["syntax error"].output
    assert "does not define `add`" in _tests(results["syntax error"])["zz_fixture.add"]["output"]
    assert "raised ValueError: boom" in results["exception mid-way"].output
    assert "raised StdinNotImplementedError" in results["exception mid-way"].output
    assert "raised SystemExit" in results["sys exit"].output


def test_loops_are_interrupted_or_killed(graded):
    results = graded["results"]
    assert "ran longer than 6 s (an infinite loop?) and was interrupted" in results["infinite loop"].output
    stubborn = results["stubborn loop"]
    assert "could not be interrupted; the kernel was stopped" in stubborn.output
    assert "does not define `scale`" in _tests(stubborn)["zz_fixture.scale"]["output"]
    assert "Cell 3 ran longer than 6 s" in _tests(stubborn)["zz_fixture.scale"]["output"]
    looping = _tests(results["looping function"])["zz_fixture.scale"]["output"]
    assert "`scale` did not return within 6 s" in looping


def test_dead_kernels_have_a_reason_and_keep_earlier_answers(graded):
    results = graded["results"]
    assert "The kernel died during cell 3 (exit code 3)" in results["os exit"].output
    assert _tests(results["os exit"])["zz_fixture.add"]["status"] == "passed"
    assert "called exit() or quit()" in results["exit call"].output
    assert "killed by SIGSEGV: a crash in compiled code" in results["segfault"].output
    assert _tests(results["segfault"])["zz_fixture.scale"]["status"] == "passed"


def test_memory_limit_refuses_the_hog(graded):
    result = graded["results"]["memory hog"]
    assert "raised MemoryError" in result.output
    assert "raised MemoryError" in _tests(result)["zz_fixture.scale"]["output"]


def test_no_process_is_left_running(graded):
    kernels = [int(p.name) for p in graded["pid_dir"].iterdir()]
    assert len(kernels) >= 20          # every notebook that ran recorded its kernel's pid
    children = [int(x) for x in graded["child_pid_file"].read_text().split()]
    assert len(children) == 2
    left = [pid for pid in kernels + children if _alive(pid)]
    assert not left, f"processes still running after grading: {left}"
    assert "2 process(es) the notebook left running were stopped" in graded["results"]["child processes"].output


def test_huge_output_is_not_kept(graded):
    result = graded["results"]["huge output"]
    assert "printed 48 MB of output (not kept)" in result.output
    assert (graded["out"] / "huge output.json").stat().st_size < 20_000


def test_nothing_the_learner_redefines_changes_a_verdict(graded):
    patched = _tests(graded["results"]["monkeypatched numpy"])
    assert patched["zz_fixture.scale"]["status"] == "passed"     # np.asarray patched: outputs still read right
    assert "Likely mistake: you subtracted" in patched["zz_fixture.add"]["output"]
    tricks = _tests(graded["results"]["eq tricks and check"])
    assert "got Anything" in tricks["zz_fixture.add"]["output"]
    assert "is wrong" in tricks["zz_fixture.scale"]["output"]
    assert "got Anything" in tricks["zz_fixture.answer"]["output"]
    hostile = _tests(graded["results"]["hostile exceptions"])
    assert "raised Weird: ?" in hostile["zz_fixture.add"]["output"]
    assert "raised SystemExit: bye" in hostile["zz_fixture.scale"]["output"]


def test_in_place_change_is_named(graded):
    assert "changed its input array in place" in _tests(graded["results"]["in-place"])["zz_fixture.scale"]["output"]


def test_files_that_are_not_notebooks(graded):
    results = graded["results"]
    assert "truncated" in results["truncated"].output
    assert "PNG image" in results["png renamed"].output
    assert "plain text" in results["text renamed"].output
    assert "no cells" in results["no cells"].output
    assert "no code cells" in results["markdown only"].output
    for stem in ("truncated", "png renamed", "no cells"):
        assert all(t["status"] == "failed" and t["score"] == 0 and "Not graded: " in t["output"]
                   and "does not define" not in t["output"] for t in results[stem].tests)


def test_accented_file_name(graded):
    assert (graded["out"] / "Zoë Müller - lesson 1.json").is_file()
    assert graded["results"]["Zoë Müller - lesson 1"].file_name == "Zoë Müller - lesson 1.ipynb"


def test_resume_skips_unchanged_and_regrades_changed(graded, tmp_path):
    source = graded["submissions"]
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(source / "png renamed.ipynb", folder / "a.ipynb")
    shutil.copy(source / "text renamed.ipynb", folder / "b.ipynb")
    out = tmp_path / "out"
    first = grade_submissions(sorted(folder.iterdir()), EXERCISES, out, options=OPTIONS, hidden=HIDDEN,
                              progress=lambda line: None)
    (folder / "b.ipynb").write_bytes(PNG)
    again = grade_submissions(sorted(folder.iterdir()), EXERCISES, out, options=OPTIONS, hidden=HIDDEN,
                              resume=True, progress=lambda line: None)
    assert [r.resumed for r in first] == [False, False]
    assert [r.resumed for r in again] == [True, False]
    assert "PNG image" in again[1].output
    # a resume against other tests (no hidden test) regrades
    other = grade_submissions(sorted(folder.iterdir()), EXERCISES, out, options=OPTIONS, resume=True,
                              progress=lambda line: None)
    assert [r.resumed for r in other] == [False, False] and other[0].max_score == 4.0


def test_whole_notebook_timeout_keeps_earlier_answers(tmp_path):
    folder = tmp_path / "subs"
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    _write(folder, {"slow.ipynb": _notebook([_setup(pid_dir), ADD_OK] + ["import time\ntime.sleep(2)"] * 8
                                            + [SCALE_OK, ANSWER_OK])})
    options = GradeOptions(cell_timeout=3.0, timeout=12.0, memory_limit=parse_size("1G"), interrupt_grace=3.0)
    [result] = grade_submissions(sorted(folder.iterdir()), EXERCISES, tmp_path / "out", options=options,
                                 hidden=HIDDEN, progress=lambda line: None)
    assert (result.score, result.status) == (2.0, "timeout"), result.output
    assert "ran past the 12 s limit" in result.output
    assert not [pid for pid in map(int, (p.name for p in pid_dir.iterdir())) if _alive(pid)]


# ---------------------------------------------------------------------- hidden tests, reading, static checks
def test_hidden_tests_file(tmp_path):
    (tmp_path / f"{LESSON}.py").write_text(
        "import numpy as np\nfrom course_utils.exercises import Case\nSEED = 3\nPOINTS = {'add': 3}\n"
        "def cases(rng):\n    return {'add': [(rng.normal(size=2), 1.0), Case((2.0, 3.0), label='h')],\n"
        "            'zz_fixture.scale': [Case((np.ones(2),), {'factor': -1.0})]}\n", encoding="utf-8")
    hidden, points = load_hidden_tests(tmp_path, LESSON, EXERCISES)
    assert [len(hidden[k]) for k in KEYS[:2]] == [2, 1] and points == {f"{LESSON}.add": 3.0}
    assert isinstance(hidden[f"{LESSON}.add"][0], Case) and hidden[f"{LESSON}.add"][1].label == "h"
    again, _ = load_hidden_tests(tmp_path, LESSON, EXERCISES)         # SEED makes cases(rng) repeatable
    np.testing.assert_array_equal(again[f"{LESSON}.add"][0].args[0], hidden[f"{LESSON}.add"][0].args[0])
    plan = plan_lesson(EXERCISES, hidden, points)
    assert plan.max_score == 4.0 + 3.0 + 2.0
    (tmp_path / f"{LESSON}.py").write_text("CASES = {'subtract': []}\n", encoding="utf-8")
    with pytest.raises(GradingSetupError, match="no exercise 'subtract'.*add, scale, answer"):
        load_hidden_tests(tmp_path, LESSON, EXERCISES)
    (tmp_path / f"{LESSON}.py").write_text("CASES = {'answer': [(1,)]}\n", encoding="utf-8")
    with pytest.raises(GradingSetupError, match="value exercise"):
        plan_lesson(EXERCISES, *load_hidden_tests(tmp_path, LESSON, EXERCISES))
    (tmp_path / f"{LESSON}.py").write_text("CASES = {'add': [(object(), 1)]}\n", encoding="utf-8")
    with pytest.raises(GradingSetupError, match="not plain data"):
        plan_lesson(EXERCISES, *load_hidden_tests(tmp_path, LESSON, EXERCISES))


def test_read_notebook_bytes_kinds():
    with pytest.raises(NotANotebook, match="empty"):
        read_notebook_bytes(b"")
    with pytest.raises(NotANotebook, match="PDF"):
        read_notebook_bytes(b"%PDF-1.4 ...")
    with pytest.raises(NotANotebook, match="not a Jupyter notebook"):
        read_notebook_bytes(b'{"a": 1}')
    nb = read_notebook_bytes(_notebook(["x = 1", ("md", "text"), "   "]).encode())
    assert [c.position for c in nb.code_cells] == [1] and nb.lesson == LESSON


def test_may_rebind():
    names = {"add", "W"}
    assert not may_rebind(["%matplotlib inline\nmodel.compile('adam')\nhistory = model.fit(x)", "!ls",
                           "print(add(1, 2))", "def other(): return W"], names)
    for source in ["add = 1", "def add(a, b): pass", "W[0] = 2", "from m import *", "del W", "import x as add",
                   "exec('add = 1')", "globals()['add'] = 1", "%run other.py", "for add in range(3): pass",
                   "(add := 3)", "class W: pass", "import __main__\n__main__.add = 1"]:
        assert may_rebind([source], names), source


def test_parse_size():
    assert parse_size("1G") == 2**30 and parse_size("512M") == 2**29 and parse_size("1.5GiB") == 3 * 2**29
    assert parse_size("0") == 0 and parse_size("none") == 0
    with pytest.raises(ValueError, match="6G, 512M"):
        parse_size("lots")


# ---------------------------------------------------------------------- the command line
def _cli(*args, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0")
    return subprocess.run([sys.executable, "-m", "course_utils.grade", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)


def test_cli_instructor_mistakes_exit_2(tmp_path):
    missing = _cli(tmp_path / "nowhere", "--lesson", "01_neuron", "--out", tmp_path / "out")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    folder = tmp_path / "subs"
    _write(folder, {"a.ipynb": "not json"})
    unknown = _cli(folder, "--lesson", "99_nothing", "--out", tmp_path / "out")
    assert unknown.returncode == 2 and "no lesson '99_nothing'" in unknown.stderr
    inside = _cli(folder, "--lesson", "01_neuron", "--out", folder / "results")
    assert inside.returncode == 2 and "inside the submissions folder" in inside.stderr
    no_lesson = _cli(folder, "--out", tmp_path / "out")
    assert no_lesson.returncode == 2 and "pass --lesson" in no_lesson.stderr
    hidden = _cli(folder, "--lesson", "01_neuron", "--out", tmp_path / "out", "--tests", tmp_path)
    assert hidden.returncode == 2 and "no hidden tests for lesson 01_neuron" in hidden.stderr
    assert not (tmp_path / "out").exists()


def _real_lesson(stem):
    """(stem, solution path, lesson notebook text) of a lesson with a solution notebook."""
    from course_utils.build import lesson_notebook, notebook_text, read_notebook
    solution = ROOT / "solutions" / f"{stem}.ipynb"
    # every lesson with exercises has a solution notebook: a missing one is a failure, not a skip
    assert solution.is_file(), f"lesson {stem} has exercises but no solution notebook (solutions/{stem}.ipynb)"
    return stem, solution, notebook_text(lesson_notebook(read_notebook(solution), stem))


@pytest.mark.parametrize("lesson", exercises_module.lessons())
def test_cli_grades_a_real_lesson(tmp_path, lesson):
    """Every real lesson: its solution notebook earns every point, its blank lesson only the points
    of value exercises (none are function stubs), and nothing else goes wrong on the way."""
    stem, solution, lesson_text = _real_lesson(lesson)
    folder, out = tmp_path / "subs", tmp_path / "out"
    _write(folder, {"solution.ipynb": solution.read_bytes(), "blank lesson.ipynb": lesson_text})
    # the lesson comes from the notebooks' metadata; the cell timeout is raised from 120 s: this tests the
    # grades, and on a loaded CI machine (or PyTorch's CPU, whose recurrent layers are slow) the longest
    # training cells of lessons 07, 10 and 12 pass 120 s
    done = _cli(folder, "--out", out, "--jobs", "2", "--cell-timeout", "600")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"of lesson {stem}" in done.stdout and "mean score" in done.stdout
    rows = {r["submission"]: r for r in csv.DictReader(io.StringIO((out / "gradebook.csv").read_text("utf-8")))}
    n = len(exercises_module.load_lesson(stem))
    points = sum(ex.points for ex in exercises_module.load_lesson(stem))
    assert (float(rows["solution"]["total"]), rows["solution"]["status"]) == (points, "graded"), done.stdout
    functions = sum(ex.points for ex in exercises_module.load_lesson(stem) if ex.kind == "function")
    assert float(rows["blank lesson"]["total"]) == points - functions
    assert float(rows["blank lesson"]["max"]) == points and len(rows["solution"]) == n + 4
    validate_gradescope(json.loads((out / "solution.json").read_text("utf-8")))


# ---------------------------------------------------------------------- Gradescope
def test_gradescope_zip(tmp_path):
    lesson = exercises_module.lessons()[0]
    hidden_dir = tmp_path / "hidden"
    hidden_dir.mkdir()
    exercise = exercises_module.load_lesson(lesson)[0]
    (hidden_dir / f"{lesson}.py").write_text(f"CASES = {{{exercise.name!r}: []}}\n", encoding="utf-8")
    names = build_zip(lesson, tmp_path / "autograder.zip", tests_dir=hidden_dir)
    with zipfile.ZipFile(tmp_path / "autograder.zip") as zf:
        assert {"setup.sh", "run_autograder", "requirements.txt", f"tests/{lesson}.py",
                "course_package/pyproject.toml", "course_package/course_utils/grade/core.py"} <= set(zf.namelist())
        assert set(names) == set(zf.namelist())
        run = zf.getinfo("run_autograder")
        assert (run.external_attr >> 16) & 0o111 == 0o111, "run_autograder must be executable"
        assert (zf.getinfo("setup.sh").external_attr >> 16) & 0o111 == 0o111
        script = zf.read("run_autograder").decode()
        setup = zf.read("setup.sh").decode()
        requirements = zf.read("requirements.txt").decode()
        assert not [n for n in zf.namelist() if "__pycache__" in n]
    assert f"--lesson {lesson}" in script and "course_utils.grade.gradescope --run" in script
    assert "/autograder/results/results.json" in script and "--tests /autograder/source/tests" in script
    assert "pip install -r requirements.txt" in setup and "./course_package" in setup
    assert "ipykernel" in requirements and "tensorflow" in requirements and "pytest" not in requirements
    for name, text in (("run_autograder", script), ("setup.sh", setup)):
        checked = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True)
        assert checked.returncode == 0, f"{name}: {checked.stderr}"


def test_gradescope_run_autograder(graded, tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    shutil.copy(graded["submissions"] / "correct.ipynb", submission / "my notebook.ipynb")
    results = tmp_path / "results" / "results.json"
    result = run_autograder(LESSON, submission, results, OPTIONS, exercises=EXERCISES)
    data = json.loads(results.read_text(encoding="utf-8"))
    validate_gradescope(data)
    assert data["score"] == 4.0 == result.score        # no hidden tests here: 1 + 2 + 1
    empty = tmp_path / "empty"
    empty.mkdir()
    run_autograder(LESSON, empty, results, OPTIONS, exercises=EXERCISES)
    data = json.loads(results.read_text(encoding="utf-8"))
    validate_gradescope(data)
    assert data["score"] == 0 and "No notebook (.ipynb file) was found" in data["output"]


# ---------------------------------------------------------------------- feedback pages, Canvas export, wording
def test_public_tests_passed_is_said_when_hidden_tests_exist(graded):
    tests = _tests(graded["results"]["correct"])
    # add's 2 cases and the second call with other values of the same shapes (Exercise.public_cases)
    assert tests["zz_fixture.add"]["output"] == "All 3 public tests passed; the hidden tests are scored separately."
    assert tests["zz_fixture.add (hidden tests)"]["output"].startswith("The hidden test passed")
    assert "public" not in tests["zz_fixture.scale"]["output"]      # no hidden tests: plain wording


def test_feedback_pages_for_every_submission(graded, tmp_path):
    from course_utils.grade.feedback import write_feedback
    results = list(graded["results"].values())
    paths = write_feedback(results, tmp_path)
    assert sorted(p.stem for p in paths) == sorted(r.stem for r in results)
    page = (tmp_path / "feedback" / "partial.html").read_text(encoding="utf-8")
    assert "Score: <strong>2 / " in page and "expected 42, got 41" in page
    looping = (tmp_path / "feedback" / "infinite loop.html").read_text(encoding="utf-8")
    assert "ran longer than" in looping                              # what happened to the run


def test_feedback_page_escapes_a_hostile_notebook(tmp_path):
    from course_utils.grade.core import SubmissionResult
    from course_utils.grade.feedback import feedback_html
    evil = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    result = SubmissionResult(f"{evil}.ipynb", evil, "0" * 64, "zz_fixture", "graded", 0.0, 4.0, {},
                              [{"name": f"zz_fixture.add: {evil}", "score": 0, "max_score": 1, "status": "failed",
                                "output": f"0 of 2 tests passed. `add` raised ValueError: {evil}"}],
                              f"Cell 3 raised ValueError: {evil}\"'&", 1.0)
    page = feedback_html(result)
    assert "<script" not in page and "<img" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;" in page and "&quot;" in page and "&amp;" in page
    assert "default-src 'none'" in page                               # and scripts are forbidden anyway


def test_canvas_export(graded, tmp_path):
    from course_utils.grade.feedback import canvas_csv, write_canvas
    results = list(graded["results"].values())
    plan = plan_lesson(EXERCISES, HIDDEN, None, LESSON)
    rows = list(csv.reader(io.StringIO(write_canvas(results, tmp_path, plan).read_text(encoding="utf-8"))))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", LESSON]
    assert rows[1][0] == "Points Possible" and float(rows[1][5]) == MAX
    table = {r[3]: r for r in rows[2:]}
    assert set(table) == set(graded["results"])
    for stem, (score, _) in graded["expected"].items():
        assert table[stem][0] == stem and float(table[stem][5]) == score
    per = list(csv.reader(io.StringIO(canvas_csv(results, plan.keys, LESSON,
                                                 {k: 1.0 for k in plan.keys}, columns="exercises"))))
    assert per[0][5:] == [f"{LESSON}: {k.split('.', 1)[1]}" for k in plan.keys]
    from course_utils.grade.feedback import _cell
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _cell("jdoe") == "jdoe"


def test_a_kernel_past_the_resident_memory_limit_is_stopped_and_the_result_says_so(tmp_path):
    """--rss-limit (Gradescope: the container's memory less the grader's share): the grader stops
    the kernel and the result says it ran out of memory and what to raise - not a bare 'kernel died'."""
    folder = tmp_path / "subs"
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    hog = "import time\nblocks = []\nfor _ in range(40):\n    blocks.append(np.ones(2**20 // 8 * 16))\n    time.sleep(0.05)"
    _write(folder, {"hog.ipynb": _notebook([_setup(pid_dir), ADD_OK, hog, SCALE_OK, ANSWER_OK])})
    options = GradeOptions(cell_timeout=20.0, timeout=90.0, memory_limit=parse_size("2G"),
                           rss_limit=parse_size("300M"), interrupt_grace=3.0)
    [result] = grade_submissions(sorted(folder.iterdir()), EXERCISES, tmp_path / "out", options=options,
                                 hidden=HIDDEN, progress=lambda line: None)
    assert result.status == "kernel died", result.output
    assert "out of memory" in result.output and "raise the autograder's memory" in result.output, result.output
    assert _tests(result)["zz_fixture.add"]["status"] == "passed"       # answers before it are kept
    assert result.timings["peak_rss_mib"] > 300
    assert not [pid for pid in map(int, (p.name for p in pid_dir.iterdir())) if _alive(pid)]


# ---------------------------------------------------------------------- threads of parallel kernels
def test_parallel_grading_gives_each_kernel_its_share_of_the_cores(tmp_path, monkeypatch):
    """--jobs N: each kernel gets OMP_NUM_THREADS = cores // N (PyTorch's CPU ops spin OpenMP threads:
    two kernels of lesson 12 with a thread per core each took over 300 s, with one each 36 s)."""
    from course_utils.grade import core
    from course_utils.grade.kernel import Kernel

    class Stop(Exception):
        pass

    seen = []

    def record(path, plan, options, stem=None):
        seen.append(options.threads)
        raise Stop

    monkeypatch.setattr(core, "grade_notebook", record)
    for name in ("a.ipynb", "b.ipynb"):
        (tmp_path / name).write_text("{}")
    with pytest.raises(Stop):
        grade_submissions(sorted(tmp_path.glob("*.ipynb")), EXERCISES, tmp_path / "out", options=OPTIONS,
                          hidden=HIDDEN, jobs=2, progress=lambda line: None)
    cores = len(os.sched_getaffinity(0))
    assert seen and set(seen) == {max(1, cores // 2)} == {core.kernel_threads(2)}
    assert core.kernel_threads(10 * cores) == 1

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert Kernel(tmp_path, tmp_path, threads=3).environment()["OMP_NUM_THREADS"] == "3"
    assert "OMP_NUM_THREADS" not in Kernel(tmp_path, tmp_path).environment()
    monkeypatch.setenv("OMP_NUM_THREADS", "5")     # the instructor's own setting wins
    assert Kernel(tmp_path, tmp_path, threads=3).environment()["OMP_NUM_THREADS"] == "5"
    with pytest.raises(Exception, match="threads must be 0"):
        GradeOptions(threads=-1)

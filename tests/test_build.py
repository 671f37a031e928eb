"""The lesson build (course_utils.build) on small synthetic notebooks, the pytest/nbval set-up of
the project, and how a failing check() looks in Jupyter.

The synthetic notebooks are written into tmp_path (no .ipynb under tests/, which nbval would
otherwise collect as notebooks to run).
"""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

import course_utils
from course_utils import build

ROOT = Path(__file__).resolve().parents[1]

EXERCISE_CELL = textwrap.dedent('''\
    def scale(x, factor=2.0):
        """Multiply x by factor."""
        ### BEGIN SOLUTION
        result = x * factor
        return result
        ### END SOLUTION
    ''')

LOOP_CELL = textwrap.dedent('''\
    total = 0
    for step in range(3):
        ### BEGIN SOLUTION
        total = total + step * 10
        ### END SOLUTION
        print(step)
    ''')


def make_solution(folder, cells, name="01_demo.ipynb", minor=5):
    """Write a solution notebook: cells are (type, source) or (type, source, metadata) tuples."""
    nb = v4.new_notebook()
    for index, spec in enumerate(cells):
        cell_type, source = spec[0], spec[1]
        metadata = spec[2] if len(spec) > 2 else {}
        make = v4.new_markdown_cell if cell_type == "markdown" else v4.new_code_cell
        nb.cells.append(make(source, id=f"cell-{index}", metadata=metadata))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if minor < 5:  # an old notebook: no cell ids
        data = json.loads(nbformat.writes(nb))
        data["nbformat_minor"] = minor
        for cell in data["cells"]:
            cell.pop("id")
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        nbformat.write(nb, path)
    return path


def basic_cells():
    return [("markdown", "# 01 · Demo\nWhat you will learn."),
            ("code", "import numpy as np"),
            ("code", EXERCISE_CELL),
            ("code", "assert scale(1.0) == 2.0\n### BEGIN HIDDEN TESTS\nassert scale(3.0, 3.0) == 9.0\n"
                     "### END HIDDEN TESTS\nprint('ok')"),
            ("markdown", "Why does it work?\n\n<!-- BEGIN SOLUTION -->\nBecause x * factor scales x.\n"
                         "<!-- END SOLUTION -->\n\nNext."),
            ("code", "print('instructor notes')", {"tags": ["solution-only"]}),
            ("code", LOOP_CELL)]


def read(path):
    return nbformat.read(path, as_version=4)


def run_build(tmp_path, check=False):
    return build.build(tmp_path / "solutions", tmp_path / "lessons", check=check)


def lesson_cell(lesson, cell_id):
    return next(c for c in lesson.cells if c.id == cell_id)


# ---------------------------------------------------------------------- the stub
def test_solution_region_becomes_stub_at_the_marker_indentation(tmp_path):
    make_solution(tmp_path / "solutions", basic_cells())
    run_build(tmp_path)
    lesson = read(tmp_path / "lessons" / "01_demo.ipynb")
    assert lesson_cell(lesson, "cell-2").source == textwrap.dedent('''\
        def scale(x, factor=2.0):
            """Multiply x by factor."""
            # YOUR CODE HERE
            raise NotImplementedError()
        ''')
    assert lesson_cell(lesson, "cell-6").source == textwrap.dedent('''\
        total = 0
        for step in range(3):
            # YOUR CODE HERE
            raise NotImplementedError()
            print(step)
        ''')


def test_stub_defines_the_function_and_raises_not_implemented(tmp_path):
    make_solution(tmp_path / "solutions", basic_cells())
    run_build(tmp_path)
    lesson = read(tmp_path / "lessons" / "01_demo.ipynb")
    namespace = {}
    exec(compile(lesson_cell(lesson, "cell-2").source, "lesson cell", "exec"), namespace)
    assert callable(namespace["scale"])
    with pytest.raises(NotImplementedError):
        namespace["scale"](1.0)


def test_hidden_tests_and_solution_only_cells_and_markdown_answers_removed(tmp_path):
    make_solution(tmp_path / "solutions", basic_cells())
    run_build(tmp_path)
    lesson = read(tmp_path / "lessons" / "01_demo.ipynb")
    assert lesson_cell(lesson, "cell-3").source == "assert scale(1.0) == 2.0\nprint('ok')"
    assert lesson_cell(lesson, "cell-4").source == "Why does it work?\n\n*Your answer here.*\n\nNext."
    assert "cell-5" not in [c.id for c in lesson.cells]
    text = (tmp_path / "lessons" / "01_demo.ipynb").read_text(encoding="utf-8")
    for secret in ("x * factor", "instructor notes", "scale(3.0, 3.0)", "BEGIN", "END SOLUTION", "step * 10"):
        assert secret not in text, f"{secret!r} leaked into the lesson"


def test_outputs_and_counts_cleared_cell_ids_kept(tmp_path):
    path = make_solution(tmp_path / "solutions", basic_cells())
    nb = read(path)
    nb.cells[1].outputs = [v4.new_output("stream", name="stdout", text="hello\n")]
    nb.cells[1].execution_count = 7
    nb.cells[1].metadata["execution"] = {"iopub.status.busy": "2024-01-01T00:00:00"}
    nbformat.write(nb, path)
    run_build(tmp_path)
    lesson = read(tmp_path / "lessons" / "01_demo.ipynb")
    for cell in lesson.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id
            assert "execution" not in cell.metadata
    solution = read(path)
    expected_ids = [c.id for c in solution.cells if "solution-only" not in c.metadata.get("tags", [])]
    assert [c.id for c in lesson.cells] == expected_ids
    # the solution's own cells are not touched (only the header cells are added)
    assert solution.cells[3].outputs[0].text == "hello\n" and solution.cells[3].execution_count == 7


# ---------------------------------------------------------------------- header cells
def test_header_cells_follow_the_title_with_the_colab_badge(tmp_path):
    path = make_solution(tmp_path / "solutions", basic_cells())
    run_build(tmp_path)
    slug = course_utils.REPOSITORY
    for folder, nb in (("solutions", read(path)), ("lessons", read(tmp_path / "lessons" / "01_demo.ipynb"))):
        assert nb.cells[0].source.startswith("# 01 · Demo")
        badge, setup = nb.cells[1], nb.cells[2]
        assert [badge.cell_type, setup.cell_type] == ["markdown", "code"]
        assert badge.metadata["tags"] == setup.metadata["tags"] == ["course-header"]
        url = f"https://colab.research.google.com/github/{slug}/blob/main/{folder}/01_demo.ipynb"
        assert f"]({url})" in badge.source and "colab-badge.svg" in badge.source
        assert sum("course-header" in c.metadata.get("tags", []) for c in nb.cells) == 2
        assert nb.metadata["course"]["lesson"] == "01_demo"
        assert set(nb.metadata["course"]) == ({"lesson"} if folder == "solutions" else {"lesson", "cells_sha256"})
        assert nb.metadata["kernelspec"]["name"] == "python3"
        assert nb.cells[3].source == "import numpy as np"
        # the Colab cell is short and shown collapsed: Colab's form view and JupyterLab's hidden source
        assert setup.source.startswith("#@title ") and len(setup.source.splitlines()) <= 16
        assert setup.metadata["cellView"] == "form" and setup.metadata["jupyter"] == {"source_hidden": True}


_REAL_FIND_SPEC = importlib.util.find_spec


def _run_setup_cell(source, monkeypatch, in_colab, installed, pip_result=None):
    calls = []
    pip_result = pip_result or subprocess.CompletedProcess([], 0, "", "")
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append((args, kwargs)) or pip_result)
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: (_REAL_FIND_SPEC(name, *a) if installed or name != "course_utils" else None))
    exec(compile(source, "setup cell", "exec"), {})
    return calls


def test_setup_cell_installs_only_in_colab_without_touching_tensorflow(monkeypatch):
    setup = build.header_cells("01_demo", "lessons")[1].source
    assert _run_setup_cell(setup, monkeypatch, in_colab=False, installed=False) == []
    assert _run_setup_cell(setup, monkeypatch, in_colab=True, installed=True) == []  # already there
    calls = _run_setup_cell(setup, monkeypatch, in_colab=True, installed=False)
    assert len(calls) == 1
    command = calls[0][0][0]
    assert command == [sys.executable, "-m", "pip", "install", "-q",
                       f"course-utils @ git+https://github.com/{course_utils.REPOSITORY}.git"]
    assert not any(word in " ".join(command).lower() for word in ("tensorflow", "keras", "--upgrade", "-u "))


def test_setup_cell_says_in_one_message_what_failed_and_what_to_do(monkeypatch):
    setup = build.header_cells("01_demo", "lessons")[1].source
    offline = subprocess.CompletedProcess([], 1, "", (
        "  Running command git clone --filter=blob:none --quiet https://github.com/x/y.git /tmp/pip-req\n"
        "  fatal: unable to access 'https://github.com/x/y.git/': Could not resolve host: github.com\n"
        "  error: subprocess-exited-with-error\n"
        "ERROR: Failed to build 'course-utils' when getting requirements to build wheel\n"))
    with pytest.raises(SystemExit) as info:   # shown by IPython as one message, no traceback
        _run_setup_cell(setup, monkeypatch, in_colab=True, installed=False, pip_result=offline)
    message = str(info.value)
    assert message.startswith("Could not install course_utils (course-utils @ git+https://github.com/")
    assert "Could not resolve host: github.com" in message            # what failed, from pip
    assert "online" in message and "--repository <owner>/<name>" in message   # what to do


def test_repository_option_rewrites_the_one_slug_a_fork_changes(tmp_path):
    init = tmp_path / "__init__.py"
    init.write_text('"""doc"""\nREPOSITORY = "deep-learning-course/neuron-to-gan"\n', encoding="utf-8")
    assert build.set_repository("my-name/my-course", init) == "my-name/my-course"
    assert 'REPOSITORY = "my-name/my-course"' in init.read_text(encoding="utf-8")
    for bad in ("my-name", "https://github.com/a/b", "a/b/c", "a b/c", ""):
        with pytest.raises(build.BuildError, match="owner/name"):
            build.set_repository(bad, init)
    path = make_solution(tmp_path / "solutions", basic_cells())
    build.build(tmp_path / "solutions", tmp_path / "lessons", repository="my-name/my-course")
    text = nbformat.writes(read(tmp_path / "lessons" / "01_demo.ipynb"))
    assert "github/my-name/my-course/blob/main/lessons/01_demo.ipynb" in text
    assert "git+https://github.com/my-name/my-course.git" in text and "neuron-to-gan" not in text
    assert "my-name/my-course" in nbformat.writes(read(path))
    # (that pyproject's dependencies leave TensorFlow/Keras alone is tests/test_packaging.py's business)


def test_stale_or_misplaced_header_is_replaced(tmp_path):
    cells = basic_cells()
    old_badge = ("markdown", "[![Open In Colab](x.svg)](https://colab.research.google.com/github/old/repo/blob/main/"
                             "solutions/01_demo.ipynb)", {"tags": ["course-header"]})
    path = make_solution(tmp_path / "solutions", cells[:2] + [old_badge] + cells[2:])
    assert build.build_one(path).solution_changed
    changes = run_build(tmp_path)
    assert any("solutions" in c and "updated" in c for c in changes)
    nb = read(path)
    assert "old/repo" not in nbformat.writes(nb)
    assert [c.id for c in nb.cells[:4]] == ["cell-0", "course-header-badge", "course-header-setup", "cell-1"]


# ---------------------------------------------------------------------- determinism and --check
def test_build_is_idempotent_and_deterministic(tmp_path):
    path = make_solution(tmp_path / "solutions", basic_cells())
    first = run_build(tmp_path)
    assert len(first) == 2  # the solution's header, the lesson
    solution_bytes = path.read_bytes()
    lesson_bytes = (tmp_path / "lessons" / "01_demo.ipynb").read_bytes()
    assert run_build(tmp_path) == []
    assert path.read_bytes() == solution_bytes
    assert (tmp_path / "lessons" / "01_demo.ipynb").read_bytes() == lesson_bytes
    # a fresh build elsewhere from the same solution gives the same bytes
    other = tmp_path / "other"
    (other / "solutions").mkdir(parents=True)
    (other / "solutions" / "01_demo.ipynb").write_bytes(solution_bytes)
    assert run_build(other) == [f"{other / 'lessons' / '01_demo.ipynb'}: written"]
    assert (other / "lessons" / "01_demo.ipynb").read_bytes() == lesson_bytes
    assert lesson_bytes.endswith(b"}\n") and b"\r\n" not in lesson_bytes


def test_check_mode_writes_nothing_and_names_what_is_stale(tmp_path, capsys):
    path = make_solution(tmp_path / "solutions", basic_cells())
    (tmp_path / "lessons").mkdir()
    orphan = tmp_path / "lessons" / "02_gone.ipynb"       # a lesson the build wrote, its solution since deleted
    orphan.write_text(json.dumps({"metadata": {"course": {"lesson": "02_gone"}}}))
    stranger = tmp_path / "lessons" / "01_demo-Copy1.ipynb"  # not the build's: reported, never deleted
    stranger.write_text("{}")
    before = path.read_bytes()
    args = ["--check", "--solutions", str(tmp_path / "solutions"), "--lessons", str(tmp_path / "lessons")]
    assert build.main(args) == 1
    out = capsys.readouterr().out
    assert str(path) in out and "01_demo.ipynb: is missing" in out and "02_gone.ipynb" in out
    assert "python -m course_utils.build" in out
    assert path.read_bytes() == before and not (tmp_path / "lessons" / "01_demo.ipynb").exists()
    assert "01_demo-Copy1.ipynb" in out
    assert build.main(args[1:]) == 1  # the stranger is still there
    assert not orphan.exists() and stranger.exists()
    assert "01_demo-Copy1.ipynb" in capsys.readouterr().err
    stranger.unlink()
    assert build.main(args) == 0
    # a hand edit of the lesson is caught
    lesson = tmp_path / "lessons" / "01_demo.ipynb"
    lesson.write_text(lesson.read_text().replace("YOUR CODE HERE", "my code"))
    capsys.readouterr()
    assert build.main(args) == 1
    out = capsys.readouterr().out
    assert "holds edits made after the build wrote it" in out and "Out of date" not in out
    # a stale build (the solution changed, the lesson untouched since it was built) is told apart
    lesson.unlink()
    assert build.main(args[1:]) == 0
    nb = read(path)
    nb.cells[-1].source += "\nprint('new line')"
    nbformat.write(nb, path)
    capsys.readouterr()
    assert build.main(args) == 1
    out = capsys.readouterr().out
    assert "differs from the build" in out and "Out of date" in out and "holds edits" not in out


def test_check_mode_from_the_command_line(tmp_path):
    make_solution(tmp_path / "solutions", basic_cells())
    command = [sys.executable, "-m", "course_utils.build", "--check"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Run `python -m course_utils.build`" in result.stdout
    assert not (tmp_path / "lessons").exists()


# ---------------------------------------------------------------------- errors
BAD_MARKERS = {
    "never closed": ("def f(x):\n    ### BEGIN SOLUTION\n    return x\n", 2, "never closed"),
    "end without begin": ("def f(x):\n    return x\n    ### END SOLUTION\n", 3, "without a matching BEGIN"),
    "nested": ("def f(x):\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return x\n"
               "    ### END SOLUTION\n    ### END SOLUTION\n", 3, "cannot be nested"),
    "closed by the wrong marker": ("### BEGIN HIDDEN TESTS\nassert True\n### END SOLUTION\n", 3,
                                   "without a matching BEGIN"),
    "misspelt": ("def f(x):\n    ## BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n", 2,
                 "looks like a marker"),
    "not alone on its line": ("def f(x):\n    return x  ### BEGIN SOLUTION\n", 2, "looks like a marker"),
}


@pytest.mark.parametrize("case", sorted(BAD_MARKERS))
def test_bad_markers_name_notebook_cell_and_line(tmp_path, case):
    source, line, words = BAD_MARKERS[case]
    cells = basic_cells()[:2] + [("code", source)]
    path = make_solution(tmp_path / "solutions", cells)
    with pytest.raises(build.BuildError) as info:
        run_build(tmp_path)
    message = str(info.value)
    assert str(path) in message and "cell 3" in message and f"line {line}" in message and words in message, message
    assert not (tmp_path / "lessons").exists()


def test_markdown_marker_unclosed(tmp_path):
    cells = basic_cells()[:2] + [("markdown", "Answer:\n<!-- BEGIN SOLUTION -->\n42\n")]
    make_solution(tmp_path / "solutions", cells)
    with pytest.raises(build.BuildError, match=r"cell 3 .*line 2: the region opened here is never closed"):
        run_build(tmp_path)


def test_region_that_breaks_the_syntax_is_an_error(tmp_path):
    source = "x = 1\n### BEGIN SOLUTION\nif x > 0:\n### END SOLUTION\n    x = 2\n"
    make_solution(tmp_path / "solutions", basic_cells()[:2] + [("code", source)])
    with pytest.raises(build.BuildError, match="not valid Python"):
        run_build(tmp_path)


def test_magics_do_not_count_as_syntax_errors(tmp_path):
    source = "%matplotlib inline\n!echo hi\n" + EXERCISE_CELL
    make_solution(tmp_path / "solutions", basic_cells()[:2] + [("code", source)])
    run_build(tmp_path)
    assert "%matplotlib inline" in read(tmp_path / "lessons" / "01_demo.ipynb").cells[4].source


def test_bad_notebook_name_and_missing_cell_ids(tmp_path):
    make_solution(tmp_path / "solutions", basic_cells(), name="demo.ipynb")
    with pytest.raises(build.BuildError, match="NN_name.ipynb"):
        run_build(tmp_path)
    (tmp_path / "solutions" / "demo.ipynb").unlink()
    make_solution(tmp_path / "solutions", basic_cells(), minor=4)
    with pytest.raises(build.BuildError, match="nbformat 4.5"):
        run_build(tmp_path)


def test_notebook_without_title_cell(tmp_path):
    make_solution(tmp_path / "solutions", [("code", "x = 1")])
    with pytest.raises(build.BuildError, match="markdown title"):
        run_build(tmp_path)


# ---------------------------------------------------------------------- nbval and check() in Jupyter
FAILING_CHECK = textwrap.dedent("""\
    from course_utils.exercises import Case, Exercise
    from course_utils import check
    Exercise("99_fixture.double", reference=lambda x: 2 * x, cases=[Case((1.5,), label="a number")],
             mistakes={"the factor 2 is missing: return 2 * x": lambda x: x})
    check("99_fixture.double", lambda x: x)
    """)


def _fixture_project(tmp_path):
    """A copy of the project's pytest set-up with a unit test, a solution notebook whose check()
    fails, and a lesson notebook that fails (it must not be collected)."""
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_unit.py").write_text("def test_unit():\n    assert 1 + 1 == 2\n")
    title = ("markdown", "# 99 · Fixture")
    make_solution(tmp_path / "solutions", [title, ("code", FAILING_CHECK)], name="99_fails.ipynb")
    make_solution(tmp_path / "lessons", [title, ("code", "raise NotImplementedError()")], name="99_fails.ipynb")


def test_pytest_runs_solutions_with_nbval_and_not_lessons(tmp_path):
    """`pytest` with the project's configuration runs tests/ and solutions/ (with nbval): a failing
    check() fails the solution's run; lessons/ (whose stubs raise) is not collected."""
    _fixture_project(tmp_path)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA"],
                            cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "PASSED tests/test_unit.py::test_unit" in out, out
    assert "FAILED solutions/99_fails.ipynb::Cell 0" in out, out
    assert "lessons/" not in out, out
    assert "1 failed, 1 passed" in out, out
    # nbval shows the check's own message
    assert "the factor 2 is missing" in out, out


def test_check_failed_shows_only_its_message_in_jupyter(tmp_path):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    nb = v4.new_notebook(cells=[v4.new_code_cell(FAILING_CHECK, id="check")])
    nb.metadata["kernelspec"] = dict(build.KERNELSPEC)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError):
        client.execute()
    error = nb.cells[0].outputs[-1]
    assert error.output_type == "error" and error.ename == "CheckFailed"
    traceback = [line for line in error.traceback]
    plain = [line.replace("\x1b[31m", "").replace("\x1b[0m", "") for line in traceback]
    assert plain[0].startswith("\u2718 99_fixture.double: 0 of 1 tests passed."), plain
    assert any("Likely mistake: the factor 2 is missing" in line for line in plain), plain
    # no Python traceback: no file names, no frames, no "Traceback (most recent call last)"
    assert not any("Traceback" in line or "File " in line or "---->" in line for line in plain), plain
    assert len(plain) <= 6, plain


# ---------------------------------------------------------------------- nbgrader metadata
def test_nbgrader_metadata_marks_answers_and_checks(tmp_path):
    cells = [("markdown", "# 01 · Demo"),
             ("code", "def relu(z):\n    ### BEGIN SOLUTION\n    return np.maximum(z, 0)\n    ### END SOLUTION"),
             ("code", "# the check\ncheck(\"01_neuron.relu\", relu)"),
             ("code", "print('other')", {"nbgrader": {"grade": True, "solution": False, "points": 9}})]
    make_solution(tmp_path / "solutions", cells)
    run_build(tmp_path)
    for folder in ("solutions", "lessons"):
        nb = read(tmp_path / folder / "01_demo.ipynb")
        answer, checking, other = (lesson_cell(nb, f"cell-{i}") for i in (1, 2, 3))
        assert answer.metadata["nbgrader"] == {"grade": False, "grade_id": "answer-cell-1", "locked": False,
                                               "schema_version": 3, "solution": True}
        assert checking.metadata["nbgrader"] == {"grade": True, "grade_id": "check-relu", "locked": True,
                                                 "points": 1, "schema_version": 3, "solution": False}
        assert "nbgrader" not in other.metadata                     # stale metadata is removed
    assert build.build(tmp_path / "solutions", tmp_path / "lessons", check=True) == []


@pytest.mark.parametrize("source, message", [
    ("check(\"01_neuron.relu\", relu)\nprint('more')", "must stand alone in its cell"),
    ("check(\"01_neuron.nope\", relu)", "There is no exercise '01_neuron.nope'"),
])
def test_nbgrader_check_cells_must_be_unambiguous(tmp_path, source, message):
    make_solution(tmp_path / "solutions", [("markdown", "# 01 · Demo"), ("code", source)])
    with pytest.raises(build.BuildError, match=message):
        run_build(tmp_path)


def test_nbgrader_one_test_cell_per_exercise(tmp_path):
    cells = [("markdown", "# 01 · Demo"), ("code", "check('01_neuron.relu', relu)"),
             ("code", "check('01_neuron.relu', relu)")]
    make_solution(tmp_path / "solutions", cells)
    with pytest.raises(build.BuildError, match="already checked in cell 2"):
        run_build(tmp_path)


# ---------------------------------------------------------------------- a learner's work is never lost
def _jupyterlab_save(path, answer=None):
    """What JupyterLab writes when it opens, runs and saves a lesson (measured on JupyterLab 4): its
    kernelspec display name, language_info, outputs, execution counts, cell metadata - and, if
    ``answer`` is given, the learner's answer in place of the first stub."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["metadata"]["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
    nb["metadata"]["language_info"] = {"codemirror_mode": {"name": "ipython", "version": 3},
                                       "file_extension": ".py", "mimetype": "text/x-python", "name": "python",
                                       "nbconvert_exporter": "python", "pygments_lexer": "ipython3",
                                       "version": "3.11.9"}
    for count, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        cell["execution_count"] = count + 1
        cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": ["ok\n"]}]
        cell["metadata"].update({"scrolled": True, "collapsed": False,
                                 "execution": {"iopub.status.idle": "2026-12-04T10:00:00.000Z"},
                                 "jupyter": {"source_hidden": False}})
    if answer is not None:
        for cell in nb["cells"]:
            source = "".join(cell["source"])
            if "raise NotImplementedError()" in source:
                cell["source"] = source.replace("# YOUR CODE HERE\n    raise NotImplementedError()", answer)
                break
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def test_what_jupyterlab_writes_is_not_out_of_date(tmp_path, capsys):
    path = make_solution(tmp_path / "solutions", basic_cells())
    run_build(tmp_path)
    lesson = tmp_path / "lessons" / "01_demo.ipynb"
    _jupyterlab_save(lesson)
    saved = lesson.read_bytes()
    built = build.build_one(path)
    assert build.lesson_state(lesson, built.lesson_text).kind == "same"
    assert build.notebook_content(saved.decode()) == build.notebook_content(built.lesson_text)
    args = ["--solutions", str(tmp_path / "solutions"), "--lessons", str(tmp_path / "lessons")]
    assert build.main(["--check", *args]) == 0
    assert build.main(args) == 0 and lesson.read_bytes() == saved      # left alone: outputs kept
    assert "Nothing to do" in capsys.readouterr().out
    # the same for a solution opened and saved in JupyterLab
    _jupyterlab_save(path)
    assert not build.build_one(path).solution_changed
    assert build.main(["--check", *args]) == 0
    # --force rewrites the lesson as built (nothing of the learner's is in it to lose)
    assert build.main(["--force", *args]) == 0
    assert lesson.read_text(encoding="utf-8") == build.build_one(path).lesson_text
    assert not (tmp_path / "my-work").exists()


def test_an_answer_in_a_lesson_survives_the_build_which_says_where_it_is(tmp_path, capsys):
    path = make_solution(tmp_path / "solutions", basic_cells())
    run_build(tmp_path)
    lesson = tmp_path / "lessons" / "01_demo.ipynb"
    _jupyterlab_save(lesson, answer="return x * factor  # my answer")
    answered = lesson.read_bytes()
    assert b"my answer" in answered
    # the maintainer changes the solution meanwhile; a plain build must still keep the answer
    nb = read(path)
    nb.cells[-1].source += "\nprint('updated')"
    nbformat.write(nb, path)
    args = ["--solutions", str(tmp_path / "solutions"), "--lessons", str(tmp_path / "lessons")]
    assert build.main(args) == 1
    captured = capsys.readouterr()
    assert lesson.read_bytes() == answered
    # (cells named: those that differ from the new build - the answer, and the cell the solution changed)
    assert f"{lesson}: holds edits made after the build wrote it (cell 5 ('def scale(x, factor=2.0):'), " \
           f"cell 8 ('total = 0'))" in captured.out
    assert "python -m course_utils.start" in captured.out and "--force" in captured.out
    assert "not overwritten" in captured.err
    assert build.main(["--check", *args]) == 1
    assert "holds edits" in capsys.readouterr().out and lesson.read_bytes() == answered
    # --force keeps the answer in my-work/ (git-ignored), names the copy, then writes the lesson
    assert build.main(["--force", *args]) == 0
    out = capsys.readouterr().out
    backups = sorted((tmp_path / "my-work").glob("01_demo.backup-*.ipynb"))
    assert len(backups) == 1 and backups[0].read_bytes() == answered
    assert f"kept as {backups[0]}, then written" in out
    assert (tmp_path / "my-work" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert lesson.read_text(encoding="utf-8") == build.build_one(path).lesson_text
    # a second forced build with a second answer never overwrites the first backup
    _jupyterlab_save(lesson, answer="return factor * x  # second try")
    assert build.main(["--force", *args]) == 0
    assert len(list((tmp_path / "my-work").glob("01_demo.backup-*.ipynb"))) == 2
    assert backups[0].read_bytes() == answered


def test_a_lesson_from_before_digests_is_not_overwritten_blindly(tmp_path):
    path = make_solution(tmp_path / "solutions", basic_cells())
    run_build(tmp_path)
    lesson = tmp_path / "lessons" / "01_demo.ipynb"
    nb = json.loads(lesson.read_text())
    del nb["metadata"]["course"]["cells_sha256"]
    nb["cells"][4]["source"] = "def scale(x, factor=2.0):\n    return x * factor\n"
    lesson.write_text(json.dumps(nb))
    state = build.lesson_state(lesson, build.build_one(path).lesson_text)
    assert state.kind == "edited" and state.cells == ["cell 5 ('def scale(x, factor=2.0):')"]


def test_start_copies_the_lessons_into_an_ignored_folder_and_never_overwrites(tmp_path):
    from course_utils import start
    make_solution(tmp_path / "solutions", basic_cells())
    make_solution(tmp_path / "solutions", basic_cells(), name="02_more.ipynb")
    run_build(tmp_path)
    work = tmp_path / "my-work"
    command = [sys.executable, "-m", "course_utils.start"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "my-work/01_demo.ipynb: copied from lessons/01_demo.ipynb" in result.stdout
    for name in ("01_demo.ipynb", "02_more.ipynb"):
        assert (work / name).read_bytes() == (tmp_path / "lessons" / name).read_bytes()
    # git ignores the folder (its own .gitignore: nothing to add to the course's)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    ignored = subprocess.run(["git", "-C", str(tmp_path), "check-ignore", "my-work/01_demo.ipynb"],
                             capture_output=True, text=True)
    assert ignored.returncode == 0, ignored.stdout + ignored.stderr
    # the learner answers; the course is updated (a solution changes, the build rewrites lessons/)
    _jupyterlab_save(work / "01_demo.ipynb", answer="return x * factor  # mine")
    mine = (work / "01_demo.ipynb").read_bytes()
    (work / "02_more.ipynb").unlink()
    nb = read(tmp_path / "solutions" / "01_demo.ipynb")
    nb.cells[-1].source += "\nprint('course update')"
    nbformat.write(nb, tmp_path / "solutions" / "01_demo.ipynb")
    assert run_build(tmp_path) == [f"{tmp_path / 'lessons' / '01_demo.ipynb'}: written"]  # my-work untouched
    report = start.start(tmp_path / "lessons", work)
    assert (work / "01_demo.ipynb").read_bytes() == mine
    assert report[0].startswith(f"{work / '01_demo.ipynb'}: kept (yours, not overwritten); the course has "
                                f"changed {tmp_path / 'lessons' / '01_demo.ipynb'} since you copied it")
    assert report[1] == f"{work / '02_more.ipynb'}: copied from {tmp_path / 'lessons' / '02_more.ipynb'}"
    with pytest.raises(FileNotFoundError, match="No lessons"):
        start.start(tmp_path / "nowhere", work)


def test_nbgrader_is_for_instructors_not_in_the_learners_install():
    """A learner's `pip install -r requirements.txt` leaves nbgrader out (its JupyterLab menus,
    Validate button and 'No nbgrader_config.py found' warning); requirements-instructor.txt adds it,
    and CI's job 1 installs that file, so tests/test_nbgrader.py runs there."""
    learner = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert not any(line.strip().startswith("nbgrader") for line in learner.splitlines())
    instructor = (ROOT / "requirements-instructor.txt").read_text(encoding="utf-8").splitlines()
    assert "-r requirements.txt" in instructor
    assert any(line.startswith("nbgrader>=") for line in instructor)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pip install -r requirements-instructor.txt" in ci

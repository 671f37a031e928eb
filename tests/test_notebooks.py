"""The course's notebooks and exercises, as stored in solutions/ and lessons/.

- lessons/ is exactly what `python -m course_utils.build` writes from solutions/;
- no solution line leaks into a lesson;
- solutions are stored without outputs, with current header cells; their check() calls and the
  registered exercises match one to one, and every exercise has a fenced solution region;
- each lesson runs without error up to its first exercise (executed with nbclient);
- every exercise's check() rejects the stub, passes the reference and names each listed mistake.

The solution notebooks themselves are executed by nbval (`pytest` runs solutions/ with --nbval-lax).
"""
import ast
from pathlib import Path

import nbformat
import pytest

from course_utils import build
from course_utils import exercises as exercise_registry
from course_utils.checks import run_check

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
LESSONS = ROOT / "lessons"
FIX = f"run `{build.FIX_COMMAND}` (from the repository root) and commit lessons/"

CELL_TIMEOUT_S = 180      # per cell, when running a lesson up to its first exercise
LEAK_MIN_LENGTH = 12      # shorter solution lines ("return x", "pass", "else:") are too generic to count


def _stems(folder):
    return sorted(p.stem for p in folder.glob("*.ipynb")) if folder.is_dir() else []


SOLUTION_STEMS = _stems(SOLUTIONS)
LESSON_STEMS = _stems(LESSONS)
EXERCISES = exercise_registry.all_exercises()


def read(path):
    return nbformat.read(path, as_version=4)


def code_cells(nb):
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def fenced_lines(source, cell_type="code"):
    """The lines inside the cell's solution (and hidden-test) regions, markers excluded."""
    lines = source.splitlines()
    return [lines[n - 1] for region in build.find_regions(source, cell_type)
            for n in range(region.begin + 1, region.end)]


# ---------------------------------------------------------------------- lessons == build(solutions)
def test_every_lesson_has_a_solution_and_every_solution_a_lesson():
    assert set(LESSON_STEMS) == set(SOLUTION_STEMS), (
        f"lessons without a solution: {sorted(set(LESSON_STEMS) - set(SOLUTION_STEMS))}; "
        f"solutions without a lesson: {sorted(set(SOLUTION_STEMS) - set(LESSON_STEMS))}. {FIX}.")
    for name in [p.name for p in SOLUTIONS.glob("*.ipynb")]:
        assert build.NOTEBOOK_NAME.match(name), f"solutions/{name}: name it NN_name.ipynb"


@pytest.mark.parametrize("stem", SOLUTION_STEMS)
def test_lesson_is_what_the_build_writes(stem):
    """Compared by content (build.notebook_content): what Jupyter writes when a lesson is opened, run
    and saved (kernelspec, language_info, outputs, cell metadata) is not a difference."""
    built = build.build_one(SOLUTIONS / f"{stem}.ipynb")
    lesson = LESSONS / f"{stem}.ipynb"
    assert lesson.exists(), f"lessons/{stem}.ipynb is missing: {FIX}."
    state = build.lesson_state(lesson, built.lesson_text)
    assert state.kind != "edited", (
        f"lessons/{stem}.ipynb holds edits made after the build wrote it ({', '.join(state.cells[:4])}). "
        f"If you are a learner, these are probably your answers: they are safe, nothing here changes them; "
        f"this test checks the shipped lessons, so work on your own copies in {build.WORKSPACE}/ instead "
        f"(`{build.START_COMMAND}` copies the lessons there, answers included; git ignores it), then "
        f"`git checkout lessons/{stem}.ipynb` restores the shipped lesson. If you are a maintainer: edit "
        f"solutions/{stem}.ipynb, never the lesson, then `{build.FIX_COMMAND} --force`.")
    assert state.kind in ("current", "same"), (
        f"lessons/{stem}.ipynb is not what the build writes from solutions/{stem}.ipynb: the solution "
        f"changed and the lesson was not rebuilt (a maintainer's step): {FIX}.")


@pytest.mark.parametrize("stem", SOLUTION_STEMS)
def test_solution_header_cells_are_current(stem):
    built = build.build_one(SOLUTIONS / f"{stem}.ipynb")
    assert not built.solution_changed, (
        f"solutions/{stem}.ipynb: the Colab header cells or the notebook metadata are missing or stale: {FIX}.")
    nb = read(SOLUTIONS / f"{stem}.ipynb")
    assert nb.metadata["course"] == {"lesson": stem}
    assert [c.id for c in nb.cells if build.HEADER_TAG in c.metadata.get("tags", [])] == \
        ["course-header-badge", "course-header-setup"]


@pytest.mark.parametrize("stem", SOLUTION_STEMS)
def test_solution_is_stored_without_outputs(stem):
    nb = read(SOLUTIONS / f"{stem}.ipynb")
    dirty = [i + 1 for i, cell in code_cells(nb) if cell.outputs or cell.execution_count is not None]
    assert not dirty, (f"solutions/{stem}.ipynb: cells {dirty} hold outputs or execution counts; store it "
                       f"cleared (Jupyter: Edit > Clear Outputs of All Cells, then save; or "
                       f"`jupyter nbconvert --clear-output --inplace solutions/{stem}.ipynb`).")


@pytest.mark.parametrize("stem", SOLUTION_STEMS)
def test_no_solution_line_leaks_into_the_lesson(stem):
    """Rule: a line inside a solution or hidden-test region leaks if, stripped, it is not blank,
    not a comment, at least LEAK_MIN_LENGTH characters long, and appears (stripped) as a line of
    any lesson cell of the same type - whether the build let it through or the same line is written
    unfenced elsewhere in the notebook (which gives the answer away just the same)."""
    assert (LESSONS / f"{stem}.ipynb").exists(), f"lessons/{stem}.ipynb is missing: {FIX}."
    solution, lesson = read(SOLUTIONS / f"{stem}.ipynb"), read(LESSONS / f"{stem}.ipynb")
    for cell_type, comment in (("code", "#"), ("markdown", "<!--")):
        lesson_lines = {line.strip() for cell in lesson.cells if cell.cell_type == cell_type
                        for line in cell.source.splitlines()}
        for index, cell in enumerate(solution.cells):
            if cell.cell_type != cell_type:
                continue
            for line in fenced_lines(cell.source, cell_type):
                text = line.strip()
                if len(text) < LEAK_MIN_LENGTH or text.startswith(comment):
                    continue
                assert text not in lesson_lines, (
                    f"solutions/{stem}.ipynb, cell {index + 1}: the solution line {text!r} appears in "
                    f"lessons/{stem}.ipynb. Fence it (### BEGIN SOLUTION / ### END SOLUTION) wherever it "
                    f"occurs, or write the visible code differently.")


# ---------------------------------------------------------------------- check() calls and exercises
def _check_calls(nb):
    """[(cell index, key)] for every check("key", ...) call in the notebook's code."""
    calls = []
    for index, cell in code_cells(nb):
        try:
            tree = ast.parse(build.python_source(cell.source))
        except SyntaxError as exc:
            pytest.fail(f"cell {index + 1} is not valid Python: {exc}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (getattr(node.func, "id", None) == "check"
                                               or getattr(node.func, "attr", None) == "check"):
                first = node.args[0] if node.args else None
                assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
                    f"cell {index + 1}, line {node.lineno}: write the key of check() as a string literal, "
                    f'check("lesson.exercise", answer)')
                calls.append((index, first.value))
    return calls


def _lesson_exercises(stem):
    return {key: ex for key, ex in EXERCISES.items() if ex.lesson == stem}


def test_every_lesson_with_exercises_has_a_solution_notebook():
    lessons = sorted({ex.lesson for ex in EXERCISES.values()})
    missing = [lesson for lesson in lessons if lesson not in SOLUTION_STEMS]
    assert not missing, f"exercises are registered for {missing} but there is no solutions/<lesson>.ipynb"


@pytest.mark.parametrize("stem", SOLUTION_STEMS)
def test_checks_and_registered_exercises_match(stem):
    calls = _check_calls(read(SOLUTIONS / f"{stem}.ipynb"))
    checked = {key for _, key in calls}
    registered = set(_lesson_exercises(stem))
    unknown = sorted(checked - registered)
    assert not unknown, (f"solutions/{stem}.ipynb checks {unknown}, which are not registered exercises of "
                         f"{stem} (course_utils/exercises/lesson_{stem}.py defines {sorted(registered)}).")
    unchecked = sorted(registered - checked)
    assert not unchecked, f"solutions/{stem}.ipynb never calls check() for the registered exercises {unchecked}."


def _defines(cell_source, exercise):
    """True when the cell defines the exercise's function (or assigns its value) inside a solution region."""
    try:
        tree = ast.parse(build.python_source(cell_source))
    except SyntaxError:
        return False
    regions = [r for r in build.find_regions(cell_source) if r.kind == "solution"]
    for node in ast.walk(tree):
        if exercise.kind == "function" and isinstance(node, ast.FunctionDef) and node.name == exercise.name:
            # the region starts inside the body (its END marker, a comment, may follow the last statement)
            if any(node.lineno < r.begin <= node.end_lineno for r in regions):
                return True
        if exercise.kind == "value" and isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if exercise.name in names and any(r.begin < node.lineno < r.end for r in regions):
                return True
    return False


@pytest.mark.parametrize("stem", SOLUTION_STEMS)
def test_every_exercise_has_a_fenced_solution_before_its_check(stem):
    nb = read(SOLUTIONS / f"{stem}.ipynb")
    calls = _check_calls(nb)
    for key, exercise in _lesson_exercises(stem).items():
        cells = [i for i, cell in code_cells(nb) if _defines(cell.source, exercise)]
        what = f"def {exercise.name}(...)" if exercise.kind == "function" else f"{exercise.name} = ..."
        assert cells, (f"solutions/{stem}.ipynb: no cell has `{what}` with its body fenced by "
                       f"### BEGIN SOLUTION / ### END SOLUTION (exercise {key}).")
        check_cells = [i for i, k in calls if k == key]
        assert check_cells and min(check_cells) > cells[0], (
            f"solutions/{stem}.ipynb: check({key!r}, ...) must come after the cell defining it (cell {cells[0] + 1}).")


def _raises_not_implemented(function):
    return any(isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
               and getattr(node.exc.func, "id", None) == "NotImplementedError" for node in ast.walk(function))


@pytest.mark.parametrize("stem", LESSON_STEMS)
def test_lesson_stubs_define_each_exercise_function(stem):
    """In the lesson, each exercise's cell still defines the function (valid Python), whose body
    now raises NotImplementedError - so running the cell works and check() says 'not implemented'."""
    nb = read(LESSONS / f"{stem}.ipynb")
    functions = {}
    for index, cell in code_cells(nb):
        try:
            tree = ast.parse(build.python_source(cell.source))
        except SyntaxError as exc:
            pytest.fail(f"lessons/{stem}.ipynb, cell {index + 1} is not valid Python: {exc}")
        functions.update({node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)})
    for key, exercise in _lesson_exercises(stem).items():
        if exercise.kind != "function":
            continue
        assert exercise.name in functions, f"lessons/{stem}.ipynb no longer defines {exercise.name}() ({key})"
        assert _raises_not_implemented(functions[exercise.name]), (
            f"lessons/{stem}.ipynb: {exercise.name}() does not raise NotImplementedError - is its body fenced?")


# ---------------------------------------------------------------------- the lesson runs up to its first exercise
@pytest.mark.parametrize("stem", LESSON_STEMS)
def test_lesson_runs_up_to_its_first_exercise(stem):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    path = LESSONS / f"{stem}.ipynb"
    nb = read(path)
    stub = build.STUB_LINES[1]
    first = next((i for i, cell in code_cells(nb) if stub in cell.source), None)
    assert first is not None, f"lessons/{stem}.ipynb has no exercise (no `{stub}` stub)"
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        for index, cell in code_cells(nb):
            if index >= first:
                break
            try:
                client.execute_cell(cell, index)
            except (CellExecutionError, CellTimeoutError) as exc:
                pytest.fail(f"lessons/{stem}.ipynb, cell {index + 1} fails before the first exercise "
                            f"(cell {first + 1}); a learner would see this error:\n{exc}")


def test_a_lesson_copied_into_my_work_runs_and_checks_the_same(tmp_path):
    """A learner's copy (python -m course_utils.start) in a folder outside the repository: imports,
    data and check() do not depend on the notebook's folder. Lesson 01 is run up to and through its
    first check() cell: the stub is reported as not implemented, as in lessons/."""
    from nbclient import NotebookClient
    from course_utils import start

    work = tmp_path / "my-work"
    start.start(LESSONS, work)
    stem = "01_neuron"
    nb = read(work / f"{stem}.ipynb")
    stub = build.STUB_LINES[1]
    first = next(i for i, cell in code_cells(nb) if stub in cell.source)
    check_cell = next(i for i, cell in code_cells(nb) if i > first and cell.source.lstrip().startswith("check("))
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(work)}})
    with client.setup_kernel():
        for index, cell in code_cells(nb):
            if index > check_cell:
                break
            client.execute_cell(cell, index)
    errors = [(i + 1, o.get("ename")) for i, c in code_cells(nb) if i < check_cell
              for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, f"cells of my-work/{stem}.ipynb fail before its first check: {errors}"
    outputs = nb.cells[check_cell].outputs
    assert [o.get("ename") for o in outputs if o.get("output_type") == "error"] == ["CheckFailed"], outputs
    text = "".join(str(o.get("text", "")) + str(o.get("evalue", "")) + str(o.get("data", "")) for o in outputs)
    assert "is not implemented yet" in text, text
    assert not list(work.glob("*.ipynb.*")) and (work / ".gitignore").exists()


# ---------------------------------------------------------------------- the checks are not vacuous
EXERCISE_KEYS = sorted(EXERCISES)


def _stub(exercise):
    if exercise.kind == "value":
        return None

    def stub(*args, **kwargs):
        raise NotImplementedError()
    stub.__name__ = exercise.name
    return stub


def _reference(exercise):
    return exercise.reference if exercise.kind == "function" else exercise.expected()


@pytest.mark.parametrize("key", EXERCISE_KEYS)
def test_check_rejects_the_unimplemented_stub(key):
    exercise = exercise_registry.get(key)
    result = run_check(key, _stub(exercise))
    message = result.message()
    assert not result.ok, f"check({key!r}) passed the unimplemented stub:\n{message}"
    if exercise.kind == "function":
        assert "not implemented" in message, message
    assert exercise.name in message, message


@pytest.mark.parametrize("key", EXERCISE_KEYS)
def test_check_passes_the_reference(key):
    exercise = exercise_registry.get(key)
    result = run_check(key, _reference(exercise))
    assert result.ok, f"check({key!r}) fails the reference answer:\n{result.message()}"
    assert result.total >= 1


@pytest.mark.parametrize("key", EXERCISE_KEYS)
def test_check_recognises_each_listed_mistake(key):
    exercise = exercise_registry.get(key)
    assert exercise.mistakes, f"{key} lists no common mistakes"
    for sentence, wrong in exercise.mistakes.items():
        answer = wrong if exercise.kind == "function" else (wrong() if callable(wrong) else wrong)
        result = run_check(key, answer)
        message = result.message()
        assert not result.ok, f"check({key!r}) passes the mistake {sentence!r}: its cases cannot tell them apart"
        assert sentence in message, (f"check({key!r}) fails the mistake {sentence!r} but does not name it "
                                     f"(another mistake with the same output listed first, or the mistake "
                                     f"raises on a case?):\n{message}")


@pytest.mark.parametrize("solution", sorted(SOLUTIONS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_load_data_only_through_course_utils(solution):
    """Offline and Colab-proof: no data set loaded from a package or a path directly (use
    course_utils.data), no download."""
    forbidden = {"sklearn.datasets": "course_utils.data", "keras.datasets": "course_utils.data",
                 "tf.keras.datasets": "course_utils.data", "urllib": "shipped data", "requests.get": "shipped data",
                 "../data": "course_utils.data", "pd.read_csv(": "course_utils.data", "np.loadtxt(": "course_utils.data"}
    nb = nbformat.read(solution, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "course-header" in cell.metadata.get("tags", []):
            continue
        for pattern, instead in forbidden.items():
            assert pattern not in cell.source, (
                f"{solution.name} cell {index} uses {pattern!r}; load data through {instead} instead")

"""The course with the real nbgrader: the build's cell metadata makes the shipped notebooks an
nbgrader assignment as they are.

In a temporary course directory, for each lesson: ``nbgrader generate_assignment`` on the shipped
solution notebook (it must accept it unchanged), then ``nbgrader autograde`` of three submissions -
the solution (full marks), the shipped lesson (0) and the lesson with only its first answer filled
in (that exercise's points) - and the scores read back from nbgrader's gradebook.

Autograding runs every notebook, so by default the full round trip covers ROUND_TRIP_LESSONS and
every other lesson gets generate_assignment only; COURSE_NBGRADER_LESSONS=all (or a comma-separated
list of lesson stems) runs the round trip on those lessons.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

def _require_nbgrader():
    """nbgrader is an instructors' tool (requirements-instructor.txt, which CI installs): missing, these
    tests fail. Only on Colab's stack (jupyter_client < 8, ci/colab.sh), where nbgrader is not
    installed and grading is not supported (see the README), are they skipped."""
    try:
        import nbgrader as module
        return module
    except ImportError:
        from importlib import metadata
        try:
            client = metadata.version("jupyter_client")
        except metadata.PackageNotFoundError:
            client = "0"
        if int(client.split(".")[0]) < 8:
            pytest.skip(f"nbgrader is not installed on Colab's stack (jupyter_client {client}); "
                        f"instructors grade outside Colab", allow_module_level=True)
        pytest.fail("nbgrader is not installed, and tests/test_nbgrader.py needs it: run "
                    "`pip install -r requirements-instructor.txt` (the learners' requirements.txt leaves it out).",
                    pytrace=False)


nbgrader = _require_nbgrader()

from course_utils import exercises as exercises_module  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STEMS = sorted(p.stem for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
ROUND_TRIP_LESSONS = ("01_neuron", "02_perceptron")
_chosen = os.environ.get("COURSE_NBGRADER_LESSONS", "")
ROUND_TRIP = STEMS if _chosen == "all" else ([s for s in _chosen.split(",") if s] or list(ROUND_TRIP_LESSONS))

CONFIG = """\
c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = "sqlite:///" + {db!r}
c.Execute.timeout = 300
c.Execute.allow_errors = True
"""


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0", MPLBACKEND="Agg",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return env


def _nbgrader(course, *args, timeout=900):
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--force"], cwd=course, env=_env(),
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def _course(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text(CONFIG.format(root=str(course), db=str(course / "gradebook.db")))
    return course


def _notebook(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _partial(stem):
    """The shipped lesson with only its first answer cell filled in (from the solution)."""
    solution = {c["id"]: c for c in _notebook(ROOT / "solutions" / f"{stem}.ipynb")["cells"]}
    lesson = _notebook(ROOT / "lessons" / f"{stem}.ipynb")
    for cell in lesson["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell["source"] = solution[cell["id"]]["source"]
            break
    return lesson


def _points(stem):
    return [float(e.points) for e in exercises_module.load_lesson(stem)]


def test_build_metadata_matches_the_exercises():
    """One locked, graded test cell per exercise worth its points; one solution cell per answer."""
    for stem in STEMS:
        for folder in ("solutions", "lessons"):
            cells = _notebook(ROOT / folder / f"{stem}.ipynb")["cells"]
            meta = [c["metadata"].get("nbgrader") for c in cells]
            tests = [m for m in meta if m and m["grade"]]
            answers = [m for m in meta if m and m["solution"]]
            assert [t["points"] for t in tests] == _points(stem), (stem, folder)
            assert all(t["locked"] and not t["solution"] for t in tests)
            assert all(not a["grade"] and not a["locked"] for a in answers)
            ids = [m["grade_id"] for m in meta if m]
            assert len(ids) == len(set(ids)), (stem, folder, ids)
            assert len(answers) == len(tests), (stem, folder)


@pytest.mark.parametrize("stem", STEMS)
def test_generate_assignment_accepts_every_shipped_solution(tmp_path, stem):
    course = _course(tmp_path)
    source = course / "source" / stem
    source.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / f"{stem}.ipynb", source / f"{stem}.ipynb")
    _nbgrader(course, "generate_assignment", stem, "--create")
    released = _notebook(course / "release" / stem / f"{stem}.ipynb")
    shipped = _notebook(ROOT / "lessons" / f"{stem}.ipynb")
    # nbgrader's student version and the shipped lesson have the same code in every code cell
    # (nbgrader keeps solution-only cells, the build drops them)
    ours = {c["id"]: "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in shipped["cells"] if c["cell_type"] == "code" and "course-header" not in
            c["metadata"].get("tags", [])}
    theirs = {c["id"]: "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
              for c in released["cells"] if c["id"] in ours}
    assert theirs == ours, stem


@pytest.mark.parametrize("stem", ROUND_TRIP)
def test_autograde_full_blank_partial(tmp_path, stem):
    course = _course(tmp_path)
    source = course / "source" / stem
    source.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / f"{stem}.ipynb", source / f"{stem}.ipynb")
    _nbgrader(course, "generate_assignment", stem, "--create")
    submissions = {"full": _notebook(ROOT / "solutions" / f"{stem}.ipynb"),
                   "blank": _notebook(ROOT / "lessons" / f"{stem}.ipynb"),
                   "partial": _partial(stem)}
    for student, nb in submissions.items():
        folder = course / "submitted" / student / stem
        folder.mkdir(parents=True)
        (folder / f"{stem}.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    _nbgrader(course, "autograde", stem, "--create")

    from nbgrader.api import Gradebook
    points = _points(stem)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s: gb.find_submission_notebook(stem, stem, s).score for s in submissions}
        max_score = gb.find_notebook(stem, stem).max_score
    assert max_score == sum(points)
    assert scores == {"full": sum(points), "blank": 0.0, "partial": points[0]}, scores

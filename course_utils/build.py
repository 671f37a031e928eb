"""Build the student lessons from the solution notebooks.

    python -m course_utils.build            # update solutions' header cells, write lessons/
    python -m course_utils.build --check    # write nothing; exit 1 if anything is out of date
    python -m course_utils.build --force    # also replace lessons that hold a learner's edits (kept first
                                            # as my-work/NN_name.backup-<time>.ipynb)

``solutions/NN_name.ipynb`` are the only hand-edited notebooks. For each of them the build

1. keeps the **header cells** up to date (tagged ``course-header``, right after the title cell): an
   "Open in Colab" badge built from ``course_utils.REPOSITORY`` and a code cell that, only inside
   Colab, installs ``course_utils`` from the repository without touching Colab's TensorFlow/Keras.
   It also sets the notebook metadata ``{"course": {"lesson": "NN_name"}}`` (the grader reads the
   lesson from it) and the ``python3`` kernelspec. The solution file is rewritten only when that
   changes something; no other solution cell is ever touched.
2. writes **``lessons/NN_name.ipynb``**: the same cells, with

   - every code region fenced by ``### BEGIN SOLUTION`` / ``### END SOLUTION`` replaced by two
     lines at the indentation of the BEGIN marker::

         # YOUR CODE HERE
         raise NotImplementedError()

   - every ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` region removed,
   - every markdown region between the lines ``<!-- BEGIN SOLUTION -->`` and
     ``<!-- END SOLUTION -->`` replaced by ``*Your answer here.*``,
   - cells tagged ``solution-only`` removed,
   - outputs, execution counts and execution timings cleared; cell ids kept from the solution.

3. writes **nbgrader cell metadata** into both (``with_nbgrader``), so that the course plugs into
   nbgrader unchanged: every code cell with a solution region is an nbgrader *solution cell*
   (``grade_id`` "answer-<cell id>"), every ``check("<key>", ...)`` cell an autograded, locked
   *test cell* worth the exercise's points (``grade_id`` "check-<exercise name>"); the other cells
   carry no nbgrader metadata (nbgrader leaves them as they are). A ``check(...)`` call shares its
   cell with nothing but comments.

What counts as a change (``notebook_content``): the cells' type, id, source, attachments and the
cell metadata the build writes (``tags``, ``nbgrader``), and the notebook's ``course`` metadata.
What Jupyter writes on its own when a notebook is opened, run or saved - the kernelspec's display
name, ``language_info``, outputs, execution counts, cell metadata such as ``collapsed``,
``scrolled``, ``execution`` or ``jupyter.source_hidden`` - is not a change: the build and
``--check`` leave such a lesson alone (``--force`` rewrites it).

**A lesson that holds learner work is never overwritten silently.** Each lesson records the digest
of its cells as the build wrote them (``metadata.course.cells_sha256``). A lesson whose cells no
longer match that digest was edited after the build (a learner's answers, or a maintainer who edited
the lesson instead of the solution): the build leaves it as it is, says which file and which cells,
and exits 1; with ``--force`` it first copies it to ``my-work/NN_name.backup-<time>.ipynb`` (next
to lessons/) and says so. Learners work in ``my-work/`` (``python -m course_utils.start``), which
git ignores and the build never touches.

Markers stand alone on their line. Unbalanced, nested or misspelt markers are errors naming the
notebook, the cell and the line. The output is deterministic: building twice gives the same bytes.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import hashlib
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import v4

from . import REPOSITORY

BRANCH = "main"
HEADER_TAG = "course-header"
SOLUTION_ONLY_TAG = "solution-only"

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
MD_BEGIN_SOLUTION = "<!-- BEGIN SOLUTION -->"
MD_END_SOLUTION = "<!-- END SOLUTION -->"

STUB_LINES = ("# YOUR CODE HERE", "raise NotImplementedError()")
MD_STUB = "*Your answer here.*"

NOTEBOOK_NAME = re.compile(r"^(\d\d_[A-Za-z0-9_]+)\.ipynb$")
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
FIX_COMMAND = "python -m course_utils.build"
START_COMMAND = "python -m course_utils.start"
WORKSPACE = "my-work"          # the learners' folder (next to lessons/), made by course_utils.start
DIGEST_KEY = "cells_sha256"    # metadata.course.<key> of a lesson: its cells as the build wrote them
# the only cell metadata that is the notebook's content; the rest (collapsed, scrolled, execution,
# jupyter.source_hidden, ...) is what Jupyter writes when a notebook is opened, run or saved
CONTENT_CELL_METADATA = ("tags", "nbgrader")

# a line that mentions a marker without being exactly one (a typo would silently leak a solution)
_CODE_MARKER_WORDS = re.compile(r"\b(BEGIN|END)\s+(SOLUTION|HIDDEN\s+TESTS)\b")
_MD_MARKER_WORDS = re.compile(r"(BEGIN|END)\s+SOLUTION")


class BuildError(ValueError):
    """A solution notebook cannot be built into a lesson; the message says where and why."""


# ---------------------------------------------------------------------- reading and writing
def read_notebook(path):
    """A solution notebook as a NotebookNode, checked to be nbformat 4.5+ with cell ids.

    (nbformat.read would invent random ids for an older notebook, which would make the build
    non-deterministic; so the notebook is read as plain JSON first.)
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BuildError(f"{path}: cannot read the notebook as JSON: {exc}") from None
    version = (data.get("nbformat"), data.get("nbformat_minor"))
    if version[0] != 4 or not isinstance(version[1], int) or version[1] < 5:
        raise BuildError(f"{path}: expected an nbformat 4.5+ notebook (with cell ids), got nbformat "
                         f"{version[0]}.{version[1]}. Open and save it in a recent Jupyter, or upgrade it "
                         f"with nbformat.validator.normalize, then build again.")
    for index, cell in enumerate(data.get("cells", [])):
        if not cell.get("id"):
            raise BuildError(f"{_where(path, index, data['cells'])}: the cell has no id. Save the notebook "
                             f"with a recent Jupyter (nbformat 4.5 gives every cell an id).")
    return nbformat.from_dict(data)


def notebook_text(nb):
    """The notebook serialised exactly as Jupyter/nbformat write it (one trailing newline)."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def _source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _where(path, index, cells=None, line=None):
    """'solutions/01_neuron.ipynb, cell 7 ("def sigmoid(z):"), line 3' (cells and lines count from 1)."""
    text = f"{path}, cell {index + 1}"
    if cells is not None:
        first = next((ln.strip() for ln in _source(cells[index]).splitlines() if ln.strip()), "")
        if first:
            text += f" ({first[:50]!r})"
    if line is not None:
        text += f", line {line}"
    return text


# ---------------------------------------------------------------------- what counts as a change
def notebook_content(nb):
    """What the course owns in a notebook, as a canonical JSON string: every cell's type, id, source,
    attachments and ``tags``/``nbgrader`` metadata, and the notebook's ``course`` metadata (its digest
    left out). Outputs, execution counts, the kernelspec, ``language_info`` and the cell metadata
    Jupyter writes by itself are not part of it: two notebooks with the same content differ only by
    what opening, running or saving them in Jupyter changes."""
    nb = nb if isinstance(nb, dict) else json.loads(nb)
    course = dict((nb.get("metadata") or {}).get("course") or {})
    course.pop(DIGEST_KEY, None)
    cells = []
    for cell in nb.get("cells", []):
        metadata = cell.get("metadata") or {}
        cells.append({"cell_type": cell.get("cell_type"), "id": cell.get("id"), "source": _source(cell),
                      "attachments": cell.get("attachments") or {},
                      "metadata": {k: metadata[k] for k in CONTENT_CELL_METADATA if k in metadata}})
    return json.dumps({"course": course, "cells": cells}, sort_keys=True, ensure_ascii=False)


def content_digest(nb):
    """sha256 of ``notebook_content(nb)``: what a lesson records as built."""
    return hashlib.sha256(notebook_content(nb).encode("utf-8")).hexdigest()


def _recorded_digest(nb):
    course = (nb.get("metadata") or {}).get("course") or {}
    return course.get(DIGEST_KEY) if isinstance(course, dict) else None


def edited_cells(lesson, built):
    """'cell 7 (answer: 'def sigmoid(z):')' for each cell of ``lesson`` whose content differs from the
    cell with the same id in ``built`` (or that ``built`` does not have); both as dicts."""
    by_id = {c.get("id"): c for c in built.get("cells", [])}
    out = []
    for index, cell in enumerate(lesson.get("cells", [])):
        other = by_id.get(cell.get("id"))
        if other is None or _source(other) != _source(cell) or other.get("cell_type") != cell.get("cell_type"):
            first = next((ln.strip() for ln in _source(cell).splitlines() if ln.strip()), "")
            out.append(f"cell {index + 1}" + (f" ({first[:40]!r})" if first else ""))
    return out


@dataclass
class LessonState:
    """How a stored lesson stands against the build:

    - ``missing``; ``current`` (byte for byte); ``same`` (only what Jupyter writes differs: metadata,
      outputs, execution counts);
    - ``stale``: the lesson is as the build once wrote it, but the solution has changed since (a
      maintainer forgot to rebuild);
    - ``edited``: its cells were changed after the build wrote it (a learner's answers, or a hand edit);
      ``cells`` names them.
    """
    kind: str
    cells: list = field(default_factory=list)


def lesson_state(lesson_path, built_text):
    lesson_path = Path(lesson_path)
    if not lesson_path.exists():
        return LessonState("missing")
    text = lesson_path.read_text(encoding="utf-8")
    if text == built_text:
        return LessonState("current")
    try:
        stored = json.loads(text)
    except ValueError:
        return LessonState("edited", ["the file is not valid JSON"])
    built = json.loads(built_text)
    if notebook_content(stored) == notebook_content(built):
        return LessonState("same")
    if _recorded_digest(stored) == content_digest(stored):
        return LessonState("stale")
    # edited after the build (or written before lessons recorded their digest: it cannot be told apart)
    return LessonState("edited", edited_cells(stored, built))


WORKSPACE_GITIGNORE = ("# Your work on the lessons: git ignores this folder (a `git pull` of the course never\n"
                       "# touches it), and `python -m course_utils.start` never overwrites a file here.\n*\n")


def ensure_workspace(folder):
    """Make the learners' folder, git-ignored by its own .gitignore (nothing to add to the repository's)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / ".gitignore").exists():
        _write(folder / ".gitignore", WORKSPACE_GITIGNORE)
    return folder


def backup_path(lesson_path, stem):
    """my-work/NN_name.backup-<YYYYmmdd-HHMMSS>[-k].ipynb next to the lessons folder, never an existing file."""
    folder = Path(lesson_path).parent.parent / WORKSPACE
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path, k = folder / f"{stem}.backup-{stamp}.ipynb", 1
    while path.exists():
        k += 1
        path = folder / f"{stem}.backup-{stamp}-{k}.ipynb"
    return path


def edited_message(lesson_path, state, solution_path, check=False):
    cells = ", ".join(state.cells[:4]) + (f" and {len(state.cells) - 4} more" if len(state.cells) > 4 else "")
    return (f"{lesson_path}: holds edits made after the build wrote it ({cells or 'its cells changed'}) - "
            f"a learner's answers, or a hand edit of the lesson. The build leaves it as it is. "
            f"A learner: keep working in {WORKSPACE}/ (`{START_COMMAND}` copies your lessons, answers "
            f"included, there; git and the build never touch it). A maintainer: edit {solution_path} instead. "
            f"Then `{FIX_COMMAND} --force` replaces the lesson, keeping a copy of it in {WORKSPACE}/ first.")


# ---------------------------------------------------------------------- header cells
REPOSITORY_COMMAND = "python -m course_utils.build --repository <owner>/<name>"
SETUP_TITLE = "Google Colab only: install `course_utils` (run it first; elsewhere it does nothing)"
_SLUG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


def set_repository(slug, init_path=None):
    """Point the badges and Colab install cells at ``slug`` ("owner/name" on GitHub): rewrites
    ``REPOSITORY`` in course_utils/__init__.py (the one place a fork changes) and returns it."""
    if not isinstance(slug, str) or not _SLUG.match(slug) or slug.endswith(".git"):
        raise BuildError(f"--repository expects a GitHub repository as owner/name (e.g. "
                         f"my-name/neuron-to-gan), received {slug!r}.")
    init_path = Path(init_path or Path(__file__).with_name("__init__.py"))
    text = init_path.read_text(encoding="utf-8")
    new, count = re.subn(r'^REPOSITORY = "[^"]*"$', f'REPOSITORY = "{slug}"', text, flags=re.MULTILINE)
    if count != 1:
        raise BuildError(f"Could not find the line REPOSITORY = \"...\" in {init_path}.")
    init_path.write_text(new, encoding="utf-8")
    return slug


def colab_url(folder, stem, repository=REPOSITORY, branch=BRANCH):
    """https://colab.research.google.com/github/<owner>/<name>/blob/<branch>/<folder>/<stem>.ipynb"""
    return f"https://colab.research.google.com/github/{repository}/blob/{branch}/{folder}/{stem}.ipynb"


def install_requirement(repository=REPOSITORY):
    """The pip requirement Colab installs: the course's library from git, nothing else.

    pyproject's dependencies deliberately leave out TensorFlow/Keras, so Colab keeps its own.
    """
    return f"course-utils @ git+https://github.com/{repository}.git"


def header_cells(stem, folder, repository=REPOSITORY):
    """The two header cells of ``<folder>/<stem>.ipynb`` (folder: "lessons" or "solutions")."""
    if folder == "lessons":
        note = ("*In Google Colab, run the collapsed cell below first (it installs `course_utils`). "
                f"Locally, work on your copy in `{WORKSPACE}/` (see the README).*")
    else:
        note = (f"*The solution notebook: the exercises are filled in. The learner's version is "
                f"`lessons/{stem}.ipynb`.*")
    badge = (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             f"({colab_url(folder, stem, repository)})\n\n{note}")
    setup = (
        f"#@title {SETUP_TITLE}\n"
        "import importlib.util, subprocess, sys\n"
        "\n"
        f"requirement = \"{install_requirement(repository)}\"\n"
        "if \"google.colab\" in sys.modules and importlib.util.find_spec(\"course_utils\") is None:\n"
        "    result = subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", requirement],\n"
        "                            capture_output=True, text=True)\n"
        "    if result.returncode != 0:\n"
        "        output = (result.stderr or result.stdout).splitlines()\n"
        "        pip_says = [line.strip() for line in output if \"fatal:\" in line or \"ERROR\" in line][:3]\n"
        "        raise SystemExit(f\"Could not install course_utils ({requirement}).\\npip said:\\n  \"\n"
        "                         + \"\\n  \".join(pip_says or output[-3:]) + \"\\nWhat to do: check that this \"\n"
        "                         \"runtime is online and that the repository exists and is public (a fork \"\n"
        "                         \"points the lessons at itself with \"\n"
        f"                         \"`{REPOSITORY_COMMAND}`, see the README); then run this cell again.\")"
    )
    metadata = {"tags": [HEADER_TAG]}
    # collapsed: Colab shows the #@title form (cellView), JupyterLab hides the source
    setup_metadata = {"cellView": "form", "jupyter": {"source_hidden": True}, "tags": [HEADER_TAG]}
    return [v4.new_markdown_cell(badge, id="course-header-badge", metadata=copy.deepcopy(metadata)),
            v4.new_code_cell(setup, id="course-header-setup", metadata=setup_metadata)]


def _tags(cell):
    return cell.get("metadata", {}).get("tags", []) or []


def with_header(nb, stem, folder, path="notebook", repository=REPOSITORY):
    """A copy of ``nb`` with fresh header cells right after the first markdown (title) cell, and the
    course metadata set. Any older header cells are dropped first."""
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if HEADER_TAG not in _tags(c)]
    title = next((i for i, c in enumerate(cells) if c.cell_type == "markdown"), None)
    if title is None:
        raise BuildError(f"{path}: the notebook has no markdown title cell; start it with a markdown cell "
                         f"'# NN · Title' - the header cells go right after it.")
    nb.cells = cells[:title + 1] + header_cells(stem, folder, repository) + cells[title + 1:]
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["course"] = {"lesson": stem}
    return nb


# ---------------------------------------------------------------------- solution regions
@dataclass(frozen=True)
class Region:
    """Lines ``begin`` .. ``end`` (1-based, the marker lines included) of a cell's source."""
    kind: str      # "solution" or "hidden"
    begin: int
    end: int
    indent: str    # the BEGIN marker's indentation


_CODE_MARKERS = {BEGIN_SOLUTION: ("begin", "solution"), END_SOLUTION: ("end", "solution"),
                 BEGIN_HIDDEN: ("begin", "hidden"), END_HIDDEN: ("end", "hidden")}
_MD_MARKERS = {MD_BEGIN_SOLUTION: ("begin", "solution"), MD_END_SOLUTION: ("end", "solution")}


def find_regions(source, cell_type="code", where=lambda line: "this cell"):
    """The fenced regions of a cell's source, checked to be balanced and not nested.

    ``where(line)`` names the place for error messages. Raises BuildError.
    """
    markers, words = (_CODE_MARKERS, _CODE_MARKER_WORDS) if cell_type == "code" else (_MD_MARKERS, _MD_MARKER_WORDS)
    regions, open_region = [], None
    lines = source.split("\n")  # (not splitlines: a form feed or \u2028 inside a line is no line break)
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        marker = markers.get(stripped)
        if marker is None:
            if words.search(line):
                expected = " / ".join(markers)
                raise BuildError(f"{where(number)}: {stripped!r} looks like a marker but is not one. A marker "
                                 f"stands alone on its line, spelt exactly: {expected}.")
            continue
        side, kind = marker
        if side == "begin":
            if open_region is not None:
                raise BuildError(f"{where(number)}: {stripped!r} inside the region opened at line "
                                 f"{open_region[1]}; regions cannot be nested - close it first with "
                                 f"{_end_marker(cell_type, open_region[0])!r}.")
            open_region = (kind, number, line[:len(line) - len(line.lstrip())])
        else:
            if open_region is None or open_region[0] != kind:
                opened = (f" (the open region, from line {open_region[1]}, is closed by "
                          f"{_end_marker(cell_type, open_region[0])!r})" if open_region else "")
                raise BuildError(f"{where(number)}: {stripped!r} without a matching BEGIN marker{opened}.")
            regions.append(Region(kind, open_region[1], number, open_region[2]))
            open_region = None
    if open_region is not None:
        raise BuildError(f"{where(open_region[1])}: the region opened here is never closed; add "
                         f"{_end_marker(cell_type, open_region[0])!r} after its last line.")
    return regions


def _end_marker(cell_type, kind):
    if cell_type != "code":
        return MD_END_SOLUTION
    return END_SOLUTION if kind == "solution" else END_HIDDEN


def _replace_regions(source, regions, stub):
    """The source with each region replaced by ``stub(region)`` (a list of lines)."""
    lines = source.split("\n")
    out, previous = [], 0
    for region in regions:
        out += lines[previous:region.begin - 1]
        out += stub(region)
        previous = region.end
    out += lines[previous:]
    return "\n".join(out)


def lesson_code(source, where=lambda line: "this cell"):
    """A code cell's lesson source: solution regions stubbed, hidden tests removed."""
    regions = find_regions(source, "code", where)
    return _replace_regions(source, regions,
                            lambda r: [r.indent + s for s in STUB_LINES] if r.kind == "solution" else [])


def lesson_markdown(source, where=lambda line: "this cell"):
    """A markdown cell's lesson source: solution regions replaced by '*Your answer here.*'."""
    return _replace_regions(source, find_regions(source, "markdown", where), lambda r: [MD_STUB])


def python_source(source):
    """The cell's source with IPython magics and shell escapes (``%...``, ``!...``) made ``pass``,
    so that ``ast.parse`` can read it."""
    lines = []
    for line in source.split("\n"):
        body = line.lstrip()
        if body.startswith(("%", "!")):
            line = line[:len(line) - len(body)] + "pass"
        lines.append(line)
    return "\n".join(lines)


def _parses(source):
    try:
        ast.parse(python_source(source))
    except SyntaxError as exc:
        return exc
    return None


# ---------------------------------------------------------------------- nbgrader metadata
NBGRADER_SCHEMA_VERSION = 3
_CHECK_CALL = re.compile(r"""^check\(\s*["']([A-Za-z0-9_]+\.[A-Za-z0-9_]+)["']""")


def _check_key(source):
    """The exercise key of a check cell ("01_neuron.sigmoid"), None for any other cell."""
    lines = [ln.strip() for ln in source.split("\n") if ln.strip() and not ln.strip().startswith("#")]
    keys = [m.group(1) for m in (_CHECK_CALL.match(ln) for ln in lines) if m]
    if not keys:
        return None
    if len(keys) != 1 or len(lines) != 1:
        raise ValueError("a check(...) call must stand alone in its cell (one call, nothing but comments "
                         "around it): nbgrader scores the whole cell as that exercise's test")
    return keys[0]


def with_nbgrader(nb, path="notebook"):
    """A copy of ``nb`` with nbgrader's cell metadata (schema 3) written by the course:

    - a code cell with a ``### BEGIN SOLUTION`` region: ``{"solution": true, "grade": false,
      "locked": false, "grade_id": "answer-<cell id>"}``;
    - a ``check("<key>", ...)`` cell: ``{"grade": true, "solution": false, "locked": true,
      "points": <the exercise's points>, "grade_id": "check-<exercise name>"}``;
    - every other cell: no nbgrader metadata (a stale entry is removed).
    """
    from . import exercises as exercises_module
    nb = copy.deepcopy(nb)
    checked = {}
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("nbgrader", None)
        if cell.cell_type != "code":
            continue
        source = _source(cell)
        try:
            key = _check_key(source)
        except ValueError as exc:
            raise BuildError(f"{_where(path, index, nb.cells)}: {exc}.") from None
        regions = find_regions(source, "code", lambda line, index=index: _where(path, index, nb.cells, line))
        has_solution = any(r.kind == "solution" for r in regions)
        if key is not None and has_solution:
            raise BuildError(f"{_where(path, index, nb.cells)}: a check(...) cell cannot hold a solution region; "
                             f"put the answer in the cell before it.")
        if has_solution:
            cell.metadata["nbgrader"] = {"grade": False, "grade_id": f"answer-{cell.get('id')}", "locked": False,
                                         "schema_version": NBGRADER_SCHEMA_VERSION, "solution": True}
        elif key is not None:
            try:
                exercise = exercises_module.get(key)
            except KeyError as exc:
                raise BuildError(f"{_where(path, index, nb.cells)}: {exc.args[0]}") from None
            if key in checked:
                raise BuildError(f"{_where(path, index, nb.cells)}: {key} is already checked in cell "
                                 f"{checked[key] + 1}; nbgrader needs one test cell per exercise.")
            checked[key] = index
            points = float(exercise.points)
            cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"check-{exercise.name}", "locked": True,
                                         "points": int(points) if points.is_integer() else points,
                                         "schema_version": NBGRADER_SCHEMA_VERSION, "solution": False}
    return nb


# ---------------------------------------------------------------------- the lesson
def lesson_notebook(solution, stem, path="notebook", repository=REPOSITORY):
    """The lesson built from a solution notebook (as stored: cell numbers in errors are its own)."""
    nb = copy.deepcopy(solution)
    cells = []
    for index, cell in enumerate(nb.cells):
        if SOLUTION_ONLY_TAG in _tags(cell):
            continue
        cell.metadata.pop("execution", None)

        def where(line, index=index):
            return _where(path, index, nb.cells, line)

        source = _source(cell)
        if cell.cell_type == "code":
            cell.source = lesson_code(source, where)
            cell.outputs = []
            cell.execution_count = None
            problem = _parses(cell.source)
            if problem and not _parses(source):
                raise BuildError(f"{where(problem.lineno)}: the lesson's version of this cell is not valid "
                                 f"Python ({problem.msg}) once its solution regions are replaced by the stub. "
                                 f"A region must hold whole statements, inside a block that remains valid.")
        elif cell.cell_type == "markdown":
            cell.source = lesson_markdown(source, where)
        cells.append(cell)
    nb.cells = cells
    nb = with_header(nb, stem, "lessons", path, repository)
    nb.metadata["course"][DIGEST_KEY] = content_digest(nb)
    return nb


# ---------------------------------------------------------------------- the whole build
@dataclass
class Built:
    stem: str
    solution_path: Path
    solution_text: str       # the solution as it should be stored (header cells current)
    lesson_text: str
    solution_changed: bool   # the stored solution's header cells/metadata are stale


def solution_paths(solutions_dir):
    """The solution notebooks, sorted; BuildError for a notebook not named NN_name.ipynb."""
    paths = sorted(Path(solutions_dir).glob("*.ipynb"))
    for path in paths:
        if not NOTEBOOK_NAME.match(path.name):
            raise BuildError(f"{path}: a solution notebook is named NN_name.ipynb (e.g. 01_neuron.ipynb); "
                             f"rename it (or move it out of {solutions_dir}).")
    return paths


def build_one(solution_path, repository=REPOSITORY):
    """Build one solution notebook in memory: its updated text and its lesson's text."""
    solution_path = Path(solution_path)
    stem = NOTEBOOK_NAME.match(solution_path.name).group(1)
    stored_nb = read_notebook(solution_path)
    graded_nb = with_nbgrader(stored_nb, solution_path)
    lesson_text = notebook_text(lesson_notebook(graded_nb, stem, solution_path, repository))
    solution_text = notebook_text(with_header(graded_nb, stem, "solutions", solution_path, repository))
    # compared by content, so that what Jupyter writes (kernelspec, language_info, outputs, cell
    # metadata such as collapsed/scrolled) and a mere difference in JSON layout are not a change
    changed = notebook_content(json.loads(solution_text)) != notebook_content(json.loads(notebook_text(stored_nb)))
    return Built(stem, solution_path, solution_text, lesson_text, changed)


class Changes(list):
    """The build's report, one sentence per file; ``edited``: those about lessons holding edits
    (not overwritten, or - with force - backed up and replaced)."""

    def __init__(self):
        super().__init__()
        self.edited = []


def build(solutions_dir="solutions", lessons_dir="lessons", check=False, repository=REPOSITORY, force=False):
    """Build every lesson. Returns the list of things that were (check=False) or would be
    (check=True) changed, one sentence each; with check=True nothing is written.

    A lesson whose only differences are what Jupyter writes (metadata, outputs) is left alone (with
    force: rewritten). A lesson holding edits made after the build wrote it is not overwritten (its
    sentence is also in ``.edited``); with force it is first copied to my-work/ (the sentence names
    the copy)."""
    solutions_dir, lessons_dir = Path(solutions_dir), Path(lessons_dir)
    if not solutions_dir.is_dir():
        raise BuildError(f"There is no folder {solutions_dir}: run the build from the repository root, "
                         f"or pass --solutions DIR.")
    changes, stems = Changes(), set()
    for path in solution_paths(solutions_dir):
        built = build_one(path, repository)
        stems.add(built.stem)
        if built.solution_changed or (force and not check and built.solution_text != path.read_text(encoding="utf-8")):
            changes.append(f"{path}: header cells, nbgrader or notebook metadata "
                           f"{'are stale' if check else 'updated'}")
            if not check:
                _write(path, built.solution_text)
        lesson_path = lessons_dir / f"{built.stem}.ipynb"
        state = lesson_state(lesson_path, built.lesson_text)
        if state.kind == "current" or (state.kind == "same" and (check or not force)):
            continue
        if state.kind == "edited":
            if check or not force:
                message = edited_message(lesson_path, state, path, check)
                changes.append(message)
                changes.edited.append(message)
                continue
            backup = backup_path(lesson_path, built.stem)
            ensure_workspace(backup.parent)
            _write(backup, lesson_path.read_text(encoding="utf-8"))
            message = (f"{lesson_path}: held edits made after the build wrote it "
                       f"({', '.join(state.cells[:4]) or 'its cells changed'}); kept as {backup}, then written")
            changes.append(message)
            changes.edited.append(message)
        elif check:
            state_text = "is missing" if state.kind == "missing" else (
                f"differs from the build of {path} (the solution changed since the lesson was built)")
            changes.append(f"{lesson_path}: {state_text}")
            continue
        else:
            changes.append(f"{lesson_path}: written")
        _write(lesson_path, built.lesson_text)
    for lesson_path in sorted(lessons_dir.glob("*.ipynb")) if lessons_dir.is_dir() else []:
        match = NOTEBOOK_NAME.match(lesson_path.name)
        if match and match.group(1) in stems:
            continue
        # only a notebook the build once wrote (named NN_name, with the course metadata) is removed
        generated = bool(match) and _lesson_of(lesson_path) == match.group(1)
        if check or not generated:
            changes.append(f"{lesson_path}: has no solution notebook {solutions_dir / lesson_path.name}"
                           + ("" if generated else "; it was not written by the build: move or delete it by hand"))
        else:
            changes.append(f"{lesson_path}: has no solution notebook any more - removed")
            lesson_path.unlink()
    return changes


def _lesson_of(path):
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("course", {}).get("lesson")
    except (OSError, ValueError, AttributeError):
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m course_utils.build",
                                     description="Write lessons/ from solutions/ (and keep the solutions' "
                                                 "Colab header cells up to date).")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a lesson or a solution's header is out of date")
    parser.add_argument("--solutions", default="solutions", help="the solution notebooks (default: solutions)")
    parser.add_argument("--lessons", default="lessons", help="where the lessons go (default: lessons)")
    parser.add_argument("--force", action="store_true",
                        help=f"also replace lessons that hold edits made after the build wrote them (a "
                             f"learner's answers), each copied first to {WORKSPACE}/NN_name.backup-<time>.ipynb; "
                             f"and rewrite lessons whose only differences are Jupyter's metadata or outputs")
    parser.add_argument("--repository", metavar="OWNER/NAME",
                        help="for a fork: point every Colab badge and install cell at this GitHub "
                             "repository (rewrites course_utils.REPOSITORY), then rebuild")
    args = parser.parse_args(argv)
    repository = REPOSITORY
    try:
        if args.repository:
            if args.check:
                raise BuildError("--repository rewrites files; it cannot be combined with --check.")
            repository = set_repository(args.repository)
            print(f"course_utils.REPOSITORY is now {repository!r}.")
        if args.check and args.force:
            raise BuildError("--force rewrites files; it cannot be combined with --check.")
        changes = build(args.solutions, args.lessons, check=args.check, repository=repository, force=args.force)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if changes:
            stale = [c for c in changes if c not in changes.edited]
            if stale:
                print("Out of date:\n" + "\n".join(f"  {c}" for c in stale)
                      + f"\nRun `{FIX_COMMAND}` to update them.")
            if changes.edited:
                print("Edited after the build (not a stale build):\n" + "\n".join(f"  {c}" for c in changes.edited))
            return 1
        print(f"{args.lessons}/ is up to date with {args.solutions}/.")
        return 0
    print("\n".join(changes) if changes else "Nothing to do: everything is up to date.")
    if changes.edited and not args.force:
        print(f"{len(changes.edited)} lesson(s) not overwritten because they hold edits (see above); "
              f"nothing of yours was changed.", file=sys.stderr)
        return 1
    left = build(args.solutions, args.lessons, check=True, repository=repository)
    if left:
        print("Still out of date:\n" + "\n".join(f"  {c}" for c in left), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Grading submissions: run each notebook in its own kernel, collect answers, score, write results.

What happens to a notebook (``grade_notebook``):

- the file is read; a file that is not a notebook, is truncated JSON, or has no code cells gets
  score 0 and the status "not a notebook" / "empty notebook" with the reason;
- it is copied into a fresh temporary folder (the submissions folder is only ever read) and its
  code cells run one by one in a new kernel (``kernel.Kernel``); cells tagged ``course-header``
  (the Colab installer the build inserts) are skipped;
- a cell that raises (an error, a failing ``check``, ``sys.exit``) is noted and the run goes on
  with the next cell, so one wrong exercise does not cost the others;
- a cell that runs past ``cell_timeout`` is interrupted (KeyboardInterrupt) and the run goes on
  (status "cell timeout"); if it cannot be interrupted within a few seconds, the kernel is killed
  and the run stops there;
- past the whole-notebook ``timeout`` the run stops (status "timeout"); a kernel that dies
  (``os._exit``, a segfault, ``exit()``, out of memory) stops it too (status "kernel died"),
  with the reason; in every case the answers collected before are graded;
- after every cell the answers are collected (see ``_in_kernel``); for each exercise the latest
  definition that produced outputs counts (``scoring.merge``), so a later crash, loop or stub
  pasted again takes nothing away; once every exercise has an
  answer and no remaining cell can rebind an exercise's name or a global it uses
  (``submission.may_rebind``), the remaining cells are skipped - they could not change a grade
  (``run_all=True`` runs them anyway);
- at the end every process of the kernel is killed and the temporary folder removed.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import report
from .cases import GradingSetupError, LessonPlan, load_hidden_tests, plan_lesson
from .kernel import Kernel, KernelStartError, require_supported_jupyter_client
from .scoring import VISIBILITIES, Collected, decode_record, exercise_tests, merge, read_manifest
from .submission import NotANotebook, may_rebind, read_notebook_bytes, sha256

__all__ = ["GradeOptions", "SubmissionResult", "grade_notebook", "grade_submissions", "find_submissions",
           "GradingSetupError", "parse_size"]

_SEVERITY = ["graded", "cell timeout", "timeout", "kernel died", "not a notebook", "empty notebook",
             "kernel failed to start", "grader error"]
_NEVER_RAN = ("not a notebook", "empty notebook", "kernel failed to start")
_BOOT = """\
def __course_grader_boot__(ipython):
    import builtins
    namespace = {{"__builtins__": dict(builtins.__dict__), "__name__": "__course_grader__"}}
    exec(compile({source!r}, "<course grader>", "exec"), namespace)
    builtins.__course_grader_harvest__ = namespace["_start"](ipython, {folder!r}, {settings!r})
__course_grader_boot__(get_ipython())
del __course_grader_boot__
"""


@dataclass
class GradeOptions:
    """How submissions are run. Times in seconds, memory_limit in bytes (0: no limit)."""
    cell_timeout: float = 120.0       # one cell; also one call of a learner's function by the grader
    timeout: float = 900.0            # the whole notebook, kernel start-up included
    memory_limit: int = 6 * 2**30     # RLIMIT_AS of the kernel and its children
    hidden_visibility: str = "after_published"
    run_all: bool = False             # run every cell even when the remaining ones cannot change a grade
    gpu: bool = False                 # let the kernel see GPUs (then give memory_limit=0: CUDA maps huge memory)
    startup_timeout: float = 120.0
    interrupt_grace: float = 5.0
    rss_limit: int = 0                # resident bytes past which the kernel is stopped "out of memory" (0: none)
    max_output_bytes: int = 64 * 2**20    # one output array of a learner's function
    output_warning_bytes: int = 10 * 2**20
    # OpenMP threads of each kernel (OMP_NUM_THREADS; 0: left as the environment has it). grade_submissions
    # with jobs > 1 gives each kernel its share of the cores: PyTorch's CPU ops spin OpenMP threads, and two
    # kernels with a thread per core each ran lesson 12 over 8x slower than with one thread each
    threads: int = 0

    def __post_init__(self):
        if self.hidden_visibility not in VISIBILITIES:
            raise GradingSetupError(f"hidden_visibility must be one of {', '.join(VISIBILITIES)}; "
                                    f"received {self.hidden_visibility!r}.")
        if self.cell_timeout <= 0 or self.timeout <= 0:
            raise GradingSetupError(f"timeouts must be positive; received cell_timeout={self.cell_timeout}, "
                                    f"timeout={self.timeout}.")
        if self.threads < 0:
            raise GradingSetupError(f"threads must be 0 (the environment's) or more; received {self.threads}.")


@dataclass
class SubmissionResult:
    file_name: str
    stem: str
    sha256: str
    lesson: str
    status: str
    score: float
    max_score: float
    scores: dict                  # exercise key -> points earned (public + hidden)
    tests: list                   # Gradescope tests
    output: str
    seconds: float
    plan_fingerprint: str = ""
    notes: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)   # seconds: kernel_start, first_cell, cells, collect, ...
    resumed: bool = False

    def results_json(self):
        return report.results_json(self)


# ---------------------------------------------------------------------- one notebook
class _NotebookRun:
    """The state of one submission's run: collected answers, events, the stop reason."""

    def __init__(self, plan, options):
        self.plan = plan
        self.options = options
        self.collected = {}           # exercise name -> Collected
        self.deps = {}                # exercise name -> global names its function uses
        self.events = []              # sentences for the output
        self.status = "graded"
        self.stop_note = ""           # why the run stopped before the end, if it did
        self.seq = 0
        self.timings = {"kernel_start": 0.0, "first_cell": 0.0, "cells": 0.0, "collect": 0.0, "cells_run": 0,
                        "slowest_cell": [0, 0.0]}

    def worsen(self, status):
        if _SEVERITY.index(status) > _SEVERITY.index(self.status):
            self.status = status


def grade_notebook(path, plan: LessonPlan, options: GradeOptions | None = None, stem=None):
    """Grade one submitted file against a LessonPlan; return a SubmissionResult (never raises for
    anything the submission does)."""
    options = options or GradeOptions()
    path = Path(path)
    stem = stem or _strip_suffix(path.name)
    t0 = time.monotonic()
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _empty_result(path, stem, "", plan, "grader error", f"The file could not be read: {exc}", t0)
    digest = sha256(data)
    try:
        notebook = read_notebook_bytes(data)
    except NotANotebook as exc:
        return _empty_result(path, stem, digest, plan, exc.status, f"Not graded: {exc.reason}", t0)
    run = _NotebookRun(plan, options)
    if notebook.lesson and notebook.lesson != plan.lesson:
        run.events.append(f"This notebook's metadata says it is lesson {notebook.lesson}; "
                          f"it was graded as lesson {plan.lesson}.")
    tmp = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        _execute(run, notebook, data, path.name, tmp, t0)
    except Exception as exc:   # a bug of the grader: fail closed, say so
        run.worsen("grader error")
        run.stop_note = f"The grader failed: {type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _result(path, stem, digest, plan, run, t0, notebook)


def _execute(run, notebook, data, file_name, tmp, t0):
    """Run the notebook's code cells in a new kernel, collecting the answers after each cell."""
    options = run.options
    work, private, harvest_dir = _prepare_folders(run.plan, data, file_name, tmp)
    deadline = t0 + options.timeout
    with Kernel(work, private, memory_limit=options.memory_limit, gpu=options.gpu,
                rss_limit=options.rss_limit, threads=options.threads) as kernel:
        try:
            if _start_kernel(run, kernel, harvest_dir, deadline):
                _run_cells(run, kernel, notebook.code_cells, harvest_dir, deadline)
        finally:
            run.timings["peak_rss_mib"] = round(kernel.peak_rss / 2**20, 1)
    if kernel.killed_processes:
        run.events.append(f"{kernel.killed_processes} process(es) the notebook left running were stopped.")


def _prepare_folders(plan, data, file_name, tmp):
    """The kernel's working folder (a copy of the notebook) and the grader's private folder."""
    work, private = tmp / "work", tmp / "grader"
    harvest_dir = private / "harvest"
    for folder in (work, private, harvest_dir):
        folder.mkdir(mode=0o700)
    (work / file_name).write_bytes(data)
    (harvest_dir / "inputs.npz").write_bytes(plan.inputs_npz)
    (harvest_dir / "inputs.json").write_bytes(plan.inputs_json)
    return work, private, harvest_dir


def _start_kernel(run, kernel, harvest_dir, deadline):
    """Start the kernel and load the grader's collector into it; False (with the reason) if not."""
    options = run.options
    try:
        run.timings["kernel_start"] = kernel.start(max(1.0, min(options.startup_timeout, deadline - time.monotonic())))
    except KernelStartError as exc:
        run.worsen("kernel failed to start")
        run.stop_note = f"The kernel failed to start (a problem on the grader's side): {exc}"
        return False
    settings = {"call_seconds": options.cell_timeout, "max_output_bytes": options.max_output_bytes}
    boot = _BOOT.format(source=_kernel_source(), folder=str(harvest_dir), settings=settings)
    started = kernel.execute(boot, max(30.0, min(120.0, deadline - time.monotonic())), silent=True)
    if started.status != "ok":
        run.worsen("grader error")
        run.stop_note = (f"The grader could not load its code into the kernel ({started.status}: "
                         f"{started.ename} {started.evalue}).")
        return False
    return True


def _run_cells(run, kernel, cells, harvest_dir, deadline):
    """Run the code cells one by one until the end, a stop, or nothing left that could change a grade."""
    options = run.options
    for i, cell in enumerate(cells):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            run.worsen("timeout")
            run.stop_note = (f"The notebook ran past the {options.timeout:g} s limit; cells from cell "
                             f"{cell.position} on were not run.")
            return
        whole_limit = remaining < options.cell_timeout
        result = kernel.execute(cell.source, min(options.cell_timeout, remaining))
        _time_cell(run, i, cell, result)
        if not _cell_outcome(run, kernel, cell, result, whole_limit, harvest_dir):
            return
        if not _harvest(run, kernel, harvest_dir, cell.position):
            return
        if not options.run_all and i + 1 < len(cells) and _all_answered(run) and _nothing_left_to_change(run, cells, i):
            return


def _time_cell(run, i, cell, result):
    run.timings["cells"] += result.seconds
    run.timings["cells_run"] += 1
    if i == 0:
        run.timings["first_cell"] = result.seconds
    if result.seconds > run.timings["slowest_cell"][1]:
        run.timings["slowest_cell"] = [cell.position, result.seconds]


def _cell_outcome(run, kernel, cell, result, whole_limit, harvest_dir):
    """What one cell's run means for the submission (a timeout, a dead kernel, an error, exit());
    noted in ``run``. False when the run stops after this cell."""
    options = run.options
    if result.status == "timeout":
        recovered = kernel.interrupt(result, options.interrupt_grace)
        if whole_limit:
            run.worsen("timeout")
            run.stop_note = (f"The notebook ran past the {options.timeout:g} s limit during cell "
                             f"{cell.position}; the cells after it were not run.")
            if recovered:
                _harvest(run, kernel, harvest_dir, cell.position, grace=True)
            return False
        run.worsen("cell timeout")
        if not recovered:
            run.stop_note = (f"Cell {cell.position} ran longer than {options.cell_timeout:g} s and "
                             f"could not be interrupted; the kernel was stopped and the cells after "
                             f"it were not run.")
            return False
        run.events.append(f"Cell {cell.position} ran longer than {options.cell_timeout:g} s (an "
                          f"infinite loop?) and was interrupted; the run went on with the next cell.")
    elif result.status == "died":
        run.worsen("kernel died")
        run.stop_note = (f"The kernel died during cell {cell.position} ({kernel.exit_description()}"
                         f"{_memory_hint(kernel, options)}); the cells after it were not run.")
        return False
    elif result.status == "error":
        detail = _short(result.evalue)
        run.events.append(f"Cell {cell.position} raised {result.ename}" + (f": {detail}" if detail else ".")
                          + (_memory_error_hint(options) if result.ename == "MemoryError" else ""))
    if result.output_bytes > options.output_warning_bytes:
        run.events.append(f"Cell {cell.position} printed {result.output_bytes / 2**20:.0f} MB of output "
                          f"(not kept).")
    if result.ask_exit:    # exit()/quit(): collect what the cell defined, then stop as Jupyter would
        _harvest(run, kernel, harvest_dir, cell.position)
        run.worsen("kernel died")
        run.stop_note = (f"Cell {cell.position} called exit() or quit(), which stops the kernel; "
                         f"the cells after it were not run.")
        return False
    return True


def _nothing_left_to_change(run, cells, i):
    """True (with an event) when no cell after cell i can rebind an exercise or a global it uses."""
    names = {p.name for p in run.plan.exercises}
    for deps in run.deps.values():
        names |= set(deps)
    later = [c.source for c in cells[i + 1:]]
    if may_rebind(later, names):
        return False
    run.events.append(f"Every answer was collected after cell {cells[i].position}; the "
                      f"{len(later)} code cell(s) after it cannot change them and were not run.")
    return True


def _harvest(run, kernel, harvest_dir, position, grace=False):
    """Collect answers after a cell; False when the kernel cannot go on (stopped, died)."""
    plan, options = run.plan, run.options
    run.seq += 1
    seq = run.seq
    n_calls = sum(len(p.cases) if p.exercise.kind == "function" else 1 for p in plan.exercises)
    limit = options.cell_timeout * max(1, n_calls) + 10.0
    if grace:
        limit = min(limit, 10.0 + options.cell_timeout)
    result = kernel.execute(f"__course_grader_harvest__({seq})", limit, silent=True)
    run.timings["collect"] += result.seconds
    folder = harvest_dir / f"h{seq}"
    try:
        if result.status in ("timeout", "died"):
            calling = _calling(folder)
            if result.status == "timeout":
                kernel.kill()
                reason = (f"the grader's call of `{calling}` on the test inputs did not return (the function "
                          f"ignores the time limit?); the kernel was stopped")
                run.worsen("cell timeout")
            else:
                reason = (f"the kernel died ({kernel.exit_description()}{_memory_hint(kernel, options)}) while "
                          f"the grader called `{calling}` on the test inputs")
                run.worsen("kernel died")
            run.stop_note = f"After cell {position}, {reason}; the cells after it were not run."
            name = calling.split("(")[0]
            for p in plan.exercises:
                if p.name == name:
                    message = f"Calling `{name}` on the test inputs stopped the kernel: {reason}."
                    run.collected[name] = merge(run.collected.get(name), Collected(error=message, cell=position))
            return False
        if result.status == "error":
            run.events.append(f"After cell {position}, the grader could not collect the answers "
                              f"({result.ename}: {_short(result.evalue)}).")
            return True
        manifest = read_manifest(folder)
        if manifest is None:
            run.events.append(f"After cell {position}, the grader found no answers to collect.")
            return True
        for p in plan.exercises:
            record = manifest["exercises"].get(p.name)
            if record is None:
                continue
            new = decode_record(p, record, folder, cell=position)
            run.collected[p.name] = merge(run.collected.get(p.name), new)
            if isinstance(record, dict) and isinstance(record.get("deps"), list):
                run.deps[p.name] = [d for d in record["deps"] if isinstance(d, str)]
        return True
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _calling(folder):
    try:
        name, index = (folder / "calling.txt").read_text(encoding="utf-8").split()
        return f"{name}(...) for test input {int(index) + 1}"
    except (OSError, ValueError):
        return "the notebook's functions"


def _all_answered(run):
    return all(run.collected.get(p.name) is not None and run.collected[p.name].complete
               for p in run.plan.exercises)


def _memory_hint(kernel, options):
    """Why a kernel died, when memory explains it: stopped by the grader past --rss-limit, killed
    (SIGKILL) by the system's out-of-memory killer, or a crash under the address-space limit."""
    code = kernel.process.returncode if kernel.process is not None else None
    peak = format_size(kernel.peak_rss) if kernel.peak_rss else "an unknown amount"
    if kernel.stopped_for_memory:
        return (f": out of memory - the kernel used more than the {format_size(options.rss_limit)} of memory the "
                f"grader allows it (--rss-limit; on Gradescope the container's memory less the grader's "
                f"share); raise the autograder's memory (Gradescope: the assignment's Autograder settings, "
                f"see the README's table per lesson)")
    if code == -9:
        return (f": killed with SIGKILL, most likely by the system's out-of-memory killer - the kernel had "
                f"reached {peak} resident; give the grader more memory (on Gradescope raise the "
                f"autograder's memory, see the README's table per lesson)")
    if options.memory_limit and code is not None and code < 0:
        return (f": a crash in compiled code, or, with the memory limit of {format_size(options.memory_limit)}, "
                f"running out of memory")
    return ""


def _memory_error_hint(options):
    if not options.memory_limit:
        return ""
    return (f" (the kernel may use at most {format_size(options.memory_limit)} of address space: raise "
            f"--memory-limit if a correct notebook needs more)")


def _short(text, limit=200):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


_SOURCE = None


def _kernel_source():
    global _SOURCE
    if _SOURCE is None:
        _SOURCE = (Path(__file__).with_name("_in_kernel.py")).read_text(encoding="utf-8")
    return _SOURCE


# ---------------------------------------------------------------------- results
def _result(path, stem, digest, plan, run, t0, notebook=None):
    tests, scores = [], {}
    for p in plan.exercises:
        collected = run.collected.get(p.name)
        own = exercise_tests(p, collected, run.options.hidden_visibility, run.stop_note,
                             never_ran=run.status in _NEVER_RAN)
        tests += own
        scores[p.key] = sum(t["score"] for t in own)
    score = sum(scores.values())
    seconds = time.monotonic() - t0
    lines = [f"Lesson {plan.lesson}: {report._number(score)} / {report._number(plan.max_score)} points "
             f"({run.status})."]
    if run.stop_note:
        lines.append(run.stop_note)
    events = run.events
    if len(events) > 12:
        events = events[:12] + [f"... and {len(events) - 12} more."]
    lines += events
    timings = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in run.timings.items()}
    timings["slowest_cell"] = [run.timings["slowest_cell"][0], round(run.timings["slowest_cell"][1], 3)]
    return SubmissionResult(path.name, stem, digest, plan.lesson, run.status, score, plan.max_score, scores,
                            tests, "\n".join(lines), seconds, plan.fingerprint, list(run.events), timings=timings)


def _empty_result(path, stem, digest, plan, status, reason, t0):
    run = _NotebookRun(plan, GradeOptions())
    run.status = status
    run.stop_note = reason
    return _result(path, stem, digest, plan, run, t0)


def _from_json(path, stem, data):
    extra = data["extra_data"]
    return SubmissionResult(path.name, stem, extra.get("sha256", ""), extra.get("lesson", ""),
                            extra.get("status", ""), float(data.get("score", 0.0)),
                            float(extra.get("max_score", 0.0)), dict(extra.get("scores", {})),
                            data.get("tests", []), data.get("output", ""), float(data.get("execution_time", 0)),
                            extra.get("plan", ""), resumed=True)


# ---------------------------------------------------------------------- many notebooks
def find_submissions(folder):
    """[(path, stem)]: every *.ipynb file under ``folder`` (hidden files and checkpoints left out),
    with a unique result name: the path relative to the folder without .ipynb, '/' written '__'."""
    folder = Path(folder)
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("__MACOSX", ".ipynb_checkpoints"))
        for name in sorted(files):
            if name.startswith(".") or not name.lower().endswith(".ipynb"):
                continue
            path = Path(root) / name
            if path.is_file():
                found.append(path)
    return _unique_stems(
        (path, "__".join(list(path.relative_to(folder).parts[:-1]) + [_strip_suffix(path.name)]))
        for path in found)


def _unique_stems(items):
    """(path, stem) pairs with each stem made unique ("name (2)"; never "gradebook"), case-blind."""
    used, result = set(), []
    for path, stem in items:
        unique, n = stem, 2
        while unique.casefold() in used or unique.casefold() == "gradebook":
            unique, n = f"{stem} ({n})", n + 1
        used.add(unique.casefold())
        result.append((path, unique))
    return result


def _strip_suffix(name):
    return name[:-len(".ipynb")] if name.lower().endswith(".ipynb") else Path(name).stem


def grade_submissions(paths, exercises, out_dir, *, options=None, hidden=None, hidden_points=None,
                      tests_dir=None, lesson=None, jobs=1, resume=False, progress=None, plan=None):
    """Grade submitted files; write ``out_dir/<stem>.json`` and ``out_dir/gradebook.csv``.

    paths: files, or (path, stem) pairs (see find_submissions); exercises: the Exercise objects
    of the lesson (any registered ones: the test suite grades a fixture lesson this way);
    hidden: {exercise key: [Case, ...]} or tests_dir: a folder with <lesson>.py (see cases.py);
    progress: called with one line per finished submission (print by default).
    Returns the SubmissionResults in the order given.
    """
    require_supported_jupyter_client()
    options = options or GradeOptions()
    exercises = list(exercises)
    if plan is None:
        if tests_dir is not None:
            lesson = lesson or exercises[0].lesson
            hidden, hidden_points = load_hidden_tests(tests_dir, lesson, exercises)
        plan = plan_lesson(exercises, hidden, hidden_points, lesson)
    progress = print if progress is None else progress
    items = _normalise(paths)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = [None] * len(items)
    lock = threading.Lock()
    done = [0]

    def one(index):
        path, stem = items[index]
        json_path = out_dir / f"{stem}.json"
        result = _resumed(path, stem, json_path, plan) if resume else None
        if result is None:
            result = grade_notebook(path, plan, options, stem=stem)
            report.atomic_write(json_path, _dumps(result.results_json()))
        with lock:
            results[index] = result
            done[0] += 1
            tag = " (resumed)" if result.resumed else ""
            progress(f"[{done[0]:>{len(str(len(items)))}}/{len(items)}] {stem}: "
                     f"{report._number(result.score)}/{report._number(result.max_score)} {result.status}"
                     f"{tag} ({result.seconds:.1f} s)")
        return result

    jobs = max(1, int(jobs))
    if jobs > 1 and not options.threads:
        options = replace(options, threads=kernel_threads(jobs))
    if jobs == 1 or len(items) <= 1:
        for i in range(len(items)):
            one(i)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for future in as_completed([pool.submit(one, i) for i in range(len(items))]):
                future.result()
    report.atomic_write(out_dir / "gradebook.csv", report.gradebook_csv(results, plan.keys))
    return results


def kernel_threads(jobs):
    """Each of ``jobs`` kernels' share of the CPU cores this process may use (at least 1)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, int(jobs)))


def _resumed(path, stem, json_path, plan):
    """The earlier result of this very file against this very plan (--resume), or None."""
    previous = report.read_result(json_path)
    if previous is None:
        return None
    try:
        digest = sha256(path.read_bytes())
    except OSError:
        return None
    extra = previous["extra_data"]
    if digest == extra.get("sha256") and extra.get("plan") == plan.fingerprint and extra.get("lesson") == plan.lesson:
        return _from_json(path, stem, previous)
    return None


def _normalise(paths):
    return _unique_stems((Path(p[0]), str(p[1])) if isinstance(p, (tuple, list))
                         else (Path(p), _strip_suffix(Path(p).name)) for p in paths)


def _dumps(data):
    import json
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------- sizes
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text):
    """Bytes from '6G', '512M', '1.5GiB', '2GB' (powers of 1024); 0 for '0', 'none', 'off'."""
    import re
    if isinstance(text, (int, float)):
        return int(text)
    value = str(text).strip()
    if value.lower() in ("0", "none", "off", "no", "unlimited"):
        return 0
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgtKMGT]?)(?:i?[bB])?", value)
    if not match:
        raise GradingSetupError(f"a memory size looks like 6G, 512M or 1.5GiB (or 0 for no limit); "
                                f"received {text!r}.")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def format_size(n):
    """'6 GiB', '512 MiB'."""
    for unit in ("T", "G", "M", "K"):
        if n >= _UNITS[unit]:
            return f"{n / _UNITS[unit]:.3g} {unit}iB"
    return f"{n} bytes"

"""python -m course_utils.grade SUBMISSIONS_DIR --lesson LESSON --out RESULTS_DIR [options]

Grades every .ipynb file under SUBMISSIONS_DIR against LESSON's exercises, each in its own
kernel, and writes RESULTS_DIR/<file stem>.json (Gradescope's results.json shape) and
RESULTS_DIR/gradebook.csv. Without --lesson, the lesson is read from the notebooks' metadata.

Exit status: 0 when every submission was graded (whatever the scores); 2 for a mistake in the
command (unknown lesson, missing folder, bad hidden tests), with a message saying what to fix;
1 when some submissions could not be graded because of a problem on the grader's side (status
"kernel failed to start" or "grader error": fix it, then re-run with --resume).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .. import exercises as exercises_module
from . import report
from .cases import GradingSetupError, load_hidden_tests, plan_lesson
from .core import GradeOptions, find_submissions, format_size, grade_submissions, parse_size
from .scoring import VISIBILITIES
from .submission import NotANotebook, read_notebook_bytes


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.grade",
        description="Grade a folder of submitted notebooks, each in its own kernel (timeouts, memory "
                    "limit, nothing left running), and write Gradescope-shaped JSON results and a CSV "
                    "gradebook.")
    parser.add_argument("submissions", metavar="SUBMISSIONS_DIR",
                        help="folder of submitted .ipynb files (subfolders too); it is only read")
    parser.add_argument("--lesson", help="the lesson to grade against, e.g. 01_neuron (default: read from the "
                                         "notebooks' metadata; this option wins)")
    parser.add_argument("--out", required=True, metavar="RESULTS_DIR",
                        help="where <file stem>.json and gradebook.csv are written")
    parser.add_argument("--cell-timeout", type=float, default=GradeOptions.cell_timeout, metavar="SECONDS",
                        help="limit for one cell, and for one call of a learner's function by the grader "
                             "(default %(default)g)")
    parser.add_argument("--timeout", type=float, default=GradeOptions.timeout, metavar="SECONDS",
                        help="limit for a whole notebook, kernel start-up included (default %(default)g)")
    parser.add_argument("--memory-limit", default=None, metavar="SIZE",
                        help=f"address-space limit of each kernel, e.g. 4G, 512M; 0 for none (default "
                             f"{format_size(GradeOptions.memory_limit).replace(' ', '')}; none with --gpu)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
                        help="submissions graded at the same time (default %(default)s)")
    parser.add_argument("--tests", metavar="DIR", help="folder of hidden tests: DIR/<lesson>.py defining CASES "
                                                        "(see course_utils.grade.cases)")
    parser.add_argument("--hidden-visibility", choices=VISIBILITIES, default=GradeOptions.hidden_visibility,
                        help="Gradescope visibility of the hidden tests' results (default %(default)s)")
    parser.add_argument("--resume", action="store_true",
                        help="skip submissions whose result JSON exists for the same file content, lesson "
                             "and tests (default: regrade everything)")
    parser.add_argument("--run-all", action="store_true",
                        help="run every cell, even those after the last answer that cannot change a grade")
    parser.add_argument("--feedback", action="store_true",
                        help="also write RESULTS_DIR/feedback/<file stem>.html: one page per submission (score "
                             "per exercise, the check() messages, what happened to the run)")
    parser.add_argument("--canvas", choices=("total", "exercises"), default=None,
                        help="also write RESULTS_DIR/canvas.csv for Canvas's gradebook import: one column for "
                             "the lesson's total, or one per exercise; the student is the file stem")
    parser.add_argument("--gpu", action="store_true",
                        help="let the kernels see the GPUs (then there is no memory limit unless you give "
                             "one: CUDA reserves far more address space than any sensible limit)")
    return parser


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    return 2


def _submissions_and_out(args):
    """The submissions to grade and the results folder; GradingSetupError saying what is wrong."""
    submissions = Path(args.submissions)
    if not submissions.is_dir():
        what = "is a file, not a folder" if submissions.exists() else "does not exist"
        raise GradingSetupError(f"the submissions folder {str(submissions)!r} {what}. Give the folder that holds "
                                f"the submitted .ipynb files.")
    out = Path(args.out)
    try:
        out.resolve().relative_to(submissions.resolve())
        inside = True
    except ValueError:
        inside = False
    if inside:
        raise GradingSetupError(f"the results folder {str(out)!r} is inside the submissions folder; the submissions "
                                f"folder is never written to. Choose --out outside it.")
    if out.exists() and not out.is_dir():
        raise GradingSetupError(f"--out {str(out)!r} is a file; give a folder.")
    if args.jobs < 1:
        raise GradingSetupError(f"--jobs must be at least 1; received {args.jobs}.")
    items = find_submissions(submissions)
    if not items:
        raise GradingSetupError(f"there is no .ipynb file in {str(submissions)!r}. Put the submitted notebooks "
                                f"there (subfolders are searched too).")
    return items, out


def _lesson_and_plan(args, items):
    """The lesson, its exercises, the grading options and the plan; GradingSetupError if not."""
    if args.memory_limit is None:
        memory_limit = 0 if args.gpu else GradeOptions.memory_limit
    else:
        memory_limit = parse_size(args.memory_limit)
    options = GradeOptions(cell_timeout=args.cell_timeout, timeout=args.timeout, memory_limit=memory_limit,
                           hidden_visibility=args.hidden_visibility, run_all=args.run_all, gpu=args.gpu)
    lesson = args.lesson or lesson_from_metadata(items)
    try:
        exercises = exercises_module.load_lesson(lesson)
    except KeyError:
        known = ", ".join(exercises_module.lessons())
        raise GradingSetupError(f"there is no lesson {lesson!r}. The lessons with exercises are: {known}.") from None
    if not exercises:
        raise GradingSetupError(f"lesson {lesson!r} defines no exercises (course_utils/exercises/lesson_{lesson}.py).")
    hidden, points = (load_hidden_tests(args.tests, lesson, exercises) if args.tests else ({}, {}))
    return lesson, exercises, options, plan_lesson(exercises, hidden, points, lesson)


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .kernel import require_supported_jupyter_client
    try:
        require_supported_jupyter_client()
        items, out = _submissions_and_out(args)
        lesson, exercises, options, plan = _lesson_and_plan(args, items)
    except GradingSetupError as exc:
        return fail(str(exc))
    memory_limit = options.memory_limit
    n_hidden = sum(len(p.hidden) for p in plan.exercises)
    print(f"Grading {len(items)} submission(s) of lesson {lesson} ({len(plan.exercises)} exercises, "
          f"{report._number(plan.max_score)} points{f', {n_hidden} hidden tests' if n_hidden else ''}) "
          f"with {args.jobs} job(s); cell timeout {options.cell_timeout:g} s, notebook timeout "
          f"{options.timeout:g} s, memory limit "
          f"{format_size(memory_limit) if memory_limit else 'none'}.", flush=True)
    t0 = time.monotonic()
    results = grade_submissions(items, exercises, out, options=options, plan=plan, jobs=args.jobs,
                                resume=args.resume, progress=lambda line: print(line, flush=True))
    print()
    print(report.summary_table(results, time.monotonic() - t0))
    print(f"\nResults: {out / 'gradebook.csv'} and one <file stem>.json per submission in {out}.")
    if args.feedback:
        from .feedback import write_feedback
        write_feedback(results, out)
        print(f"Feedback: one page per submission in {out / 'feedback'}.")
    if args.canvas:
        from .feedback import write_canvas
        print(f"Canvas gradebook import: {write_canvas(results, out, plan, args.canvas)}.")
    trouble = [r for r in results if r.status in report.GRADER_SIDE_PROBLEMS]
    if trouble:
        print(f"\n{len(trouble)} submission(s) could not be graded because of a problem on the grader's side "
              f"({', '.join(r.stem for r in trouble[:5])}{', ...' if len(trouble) > 5 else ''}); see their "
              f"JSON output, fix the problem and run again with --resume.", file=sys.stderr)
        return 1
    return 0


def lesson_from_metadata(items):
    """The lesson named in the submissions' metadata; GradingSetupError if none or several."""
    lessons = {}
    for path, _ in items:
        try:
            lesson = read_notebook_bytes(path.read_bytes()).lesson
        except (OSError, NotANotebook):
            continue
        if lesson:
            lessons.setdefault(lesson, []).append(path.name)
    if not lessons:
        raise GradingSetupError("no submission says which lesson it is (notebook metadata "
                                "{'course': {'lesson': ...}}); pass --lesson, e.g. --lesson 01_neuron.")
    if len(lessons) > 1:
        listing = "; ".join(f"{lesson}: {len(names)} file(s), e.g. {names[0]!r}" for lesson, names
                            in sorted(lessons.items(), key=lambda kv: -len(kv[1])))
        raise GradingSetupError(f"the submissions say they are from different lessons ({listing}); pass "
                                f"--lesson to grade them all against one lesson, or sort them into one folder "
                                f"per lesson.")
    return next(iter(lessons))


if __name__ == "__main__":
    sys.exit(main())

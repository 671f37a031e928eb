"""Grader throughput: 20 ordinary submissions of one lesson graded with --jobs 2, in one run.

    python benchmarks/bench_grader.py [--lesson 01_neuron] [--n 20] [--jobs 2] [--run-all]

The submissions are copies of the lesson's solution notebook (most of them) and of its blank
student version (every fifth), graded exactly as ``python -m course_utils.grade`` grades them,
with the default limits. Reports the total wall time (the goal: 20 submissions in under 2
minutes on 2 cores), and, per submission, where the time goes: kernel start-up, the first cell
(the lesson's setup: it imports TensorFlow), the other cells, collecting answers. A bare kernel
(a one-cell notebook) is timed too. Times depend on the machine and its load; the shares of the
total much less.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

ROOT = Path(__file__).resolve().parents[1]


def _median(results, key):
    return statistics.median(r.timings.get(key, 0.0) for r in results)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", help="lesson stem (default: the first with a solution notebook)")
    parser.add_argument("--n", type=int, default=20, help="number of submissions (default %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel kernels (default %(default)s)")
    parser.add_argument("--run-all", action="store_true", help="run every cell (no early stop)")
    args = parser.parse_args(argv)

    import nbformat
    from course_utils import exercises as exercises_module
    from course_utils.build import lesson_notebook, notebook_text, read_notebook
    from course_utils.grade import GradeOptions, grade_submissions

    lessons = [args.lesson] if args.lesson else exercises_module.lessons()
    lesson = next((s for s in lessons if (ROOT / "solutions" / f"{s}.ipynb").is_file()), None)
    if lesson is None:
        sys.exit("no lesson has a solution notebook (solutions/NN_name.ipynb) yet")
    solution = ROOT / "solutions" / f"{lesson}.ipynb"
    blank = notebook_text(lesson_notebook(read_notebook(solution), lesson))
    exercises = exercises_module.load_lesson(lesson)
    options = GradeOptions(run_all=args.run_all)

    with tempfile.TemporaryDirectory(prefix="bench-grader-") as tmp:
        tmp = Path(tmp)
        folder = tmp / "submissions"
        folder.mkdir()
        kinds = {}
        for i in range(args.n):
            is_blank = i % 5 == 4
            name = f"student {i + 1:02d}.ipynb"
            (folder / name).write_text(blank if is_blank else solution.read_text(encoding="utf-8"),
                                       encoding="utf-8")
            kinds[name[:-6]] = "blank" if is_blank else "solution"
        bare = tmp / "bare"
        bare.mkdir()
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("x = 1")]
        for i in range(4):
            (bare / f"bare {i}.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")

        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"Lesson {lesson}: {args.n} submissions ({sum(k == 'solution' for k in kinds.values())} solutions, "
              f"{sum(k == 'blank' for k in kinds.values())} blank lessons), --jobs {args.jobs}"
              f"{', --run-all' if args.run_all else ''}; {os.cpu_count()} CPU cores, load average {load:.1f} "
              f"before the run")
        t0 = time.perf_counter()
        results = grade_submissions(sorted(folder.iterdir()), exercises, tmp / "out", options=options,
                                    jobs=args.jobs, progress=lambda line: None)
        total = time.perf_counter() - t0
        t0 = time.perf_counter()
        bare_results = grade_submissions(sorted(bare.iterdir()), exercises, tmp / "bare_out", options=options,
                                         jobs=1, progress=lambda line: None)
        bare_total = time.perf_counter() - t0

    statuses = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    wrong = [r.stem for r in results
             if (r.score == r.max_score) != (kinds[r.stem] == "solution") or r.status != "graded"]
    per = statistics.median(r.seconds for r in results)
    start, first = _median(results, "kernel_start"), _median(results, "first_cell")
    cells, collect = _median(results, "cells"), _median(results, "collect")
    print(f"total wall time: {total:.1f} s for {args.n} submissions (goal: under 120 s for 20 on 2 cores) "
          f"= {total / args.n:.1f} s of wall time per submission; statuses: {statuses}"
          + (f"; UNEXPECTED SCORES: {wrong}" if wrong else ""))
    print(f"per submission (median): {per:.1f} s = kernel start {start:.1f} s ({start / per:.0%}) + first cell "
          f"(setup, TensorFlow import) {first:.1f} s ({first / per:.0%}) + other cells {cells - first:.1f} s "
          f"({(cells - first) / per:.0%}) + collecting answers {collect:.2f} s ({collect / per:.0%}); "
          f"cells run: {statistics.median(r.timings.get('cells_run', 0) for r in results):.0f}")
    print(f"bare kernel (one-cell notebook, sequential): {bare_total / len(bare_results):.1f} s per notebook, "
          f"kernel start {_median(bare_results, 'kernel_start'):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

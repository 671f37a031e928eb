"""Per-student feedback pages and a Canvas gradebook export, from the grader's results.

    python -m course_utils.grade SUBMISSIONS --lesson 01_neuron --out results/ --feedback --canvas total

- ``--feedback`` writes ``results/feedback/<file stem>.html``: one self-contained page per
  submission with the score per exercise, the message of each test (what ``check()`` says: expected
  vs got, the likely mistake), and what happened to the run (cells that raised or timed out, a kernel
  that died, cells skipped). Everything that comes from the submission - the file name, the
  messages quoting its outputs and errors - is HTML-escaped, and the page forbids scripts
  (Content-Security-Policy ``default-src 'none'``), so a hostile notebook cannot inject anything.
- ``--canvas total`` (or ``exercises``) writes ``results/canvas.csv`` in the layout of Canvas's
  gradebook import: ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column for the
  lesson's total (or one per exercise), then a "Points Possible" row. The student is identified by
  the submission's file stem, written in ``Student`` and ``SIS Login ID`` (name the submitted files
  after the Canvas login, e.g. ``jdoe42.ipynb``); ``ID`` and ``SIS User ID`` are left empty, which
  Canvas accepts when another identifier matches. A cell that would start a spreadsheet formula
  (``=``, ``+``, ``-``, ``@``) is prefixed with ``'``.
"""
from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from .report import _number, atomic_write

CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.4em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.score { white-space: nowrap; text-align: right; }
tr.passed td.score { color: #166d16; }
tr.failed td.score { color: #a31515; }
pre { white-space: pre-wrap; margin: 0; font-size: 0.92em; }
.summary { font-size: 1.2em; }
"""


def _e(text):
    return html.escape(str(text), quote=True)


def feedback_html(result):
    """The HTML page (a str) of one SubmissionResult."""
    rows = []
    for test in result.tests:
        status = "passed" if test.get("status") == "passed" else "failed"
        rows.append(f'<tr class="{status}"><td>{_e(test.get("name", ""))}</td>'
                    f'<td class="score">{_e(_number(test.get("score", 0)))} / {_e(_number(test.get("max_score", 0)))}</td>'
                    f'<td><pre>{_e(test.get("output", ""))}</pre></td></tr>')
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>Feedback: {_e(result.stem)} - lesson {_e(result.lesson)}</title>\n<style>{_STYLE}</style>\n"
        "</head>\n<body>\n"
        f"<h1>Lesson {_e(result.lesson)}: feedback for {_e(result.file_name)}</h1>\n"
        f"<p class=\"summary\">Score: <strong>{_e(_number(result.score))} / {_e(_number(result.max_score))}</strong>"
        f" ({_e(result.status)})</p>\n"
        "<h2>Exercises</h2>\n<table>\n<tr><th>Test</th><th>Score</th><th>What the grader found</th></tr>\n"
        + "\n".join(rows) +
        "\n</table>\n<h2>The run</h2>\n"
        f"<pre>{_e(result.output)}</pre>\n"
        "</body>\n</html>\n")


def write_feedback(results, out_dir):
    """Write out_dir/feedback/<stem>.html for every result; return the paths."""
    folder = Path(out_dir) / "feedback"
    paths = []
    for result in results:
        path = folder / f"{result.stem}.html"
        atomic_write(path, feedback_html(result))
        paths.append(path)
    return paths


def _cell(text):
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def canvas_csv(results, keys, lesson, max_scores, columns="total"):
    """Canvas gradebook-import CSV text.

    keys: the exercise keys in order; max_scores: {key: points} (public + hidden);
    columns: "total" (one column, the lesson) or "exercises" (one column per exercise).
    """
    if columns not in ("total", "exercises"):
        raise ValueError(f"columns must be 'total' or 'exercises', received {columns!r}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = [f"{lesson}"] if columns == "total" else [f"{lesson}: {k.split('.', 1)[-1]}" for k in keys]
    writer.writerow(CANVAS_FIXED + names)
    possible = [sum(max_scores.values())] if columns == "total" else [max_scores.get(k, 0.0) for k in keys]
    writer.writerow(["Points Possible", "", "", "", ""] + [_number(p) for p in possible])
    for result in sorted(results, key=lambda r: (r.stem.casefold(), r.stem)):
        scores = [result.score] if columns == "total" else [result.scores.get(k, 0.0) for k in keys]
        writer.writerow([_cell(result.stem), "", "", _cell(result.stem), ""] + [_number(s) for s in scores])
    return buffer.getvalue()


def write_canvas(results, out_dir, plan, columns="total"):
    max_scores = {p.key: float(p.exercise.points) + (p.hidden_points if p.hidden else 0.0) for p in plan.exercises}
    path = Path(out_dir) / "canvas.csv"
    atomic_write(path, canvas_csv(results, plan.keys, plan.lesson, max_scores, columns))
    return path

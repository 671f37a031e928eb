"""Writing results: Gradescope results.json per submission, gradebook.csv, a summary table.

Every file is written atomically (a temporary file in the same folder, then ``os.replace``), so
an interrupted run never leaves a half-written result: a result file is either the old one or
the new one.

Gradebook statuses (worst event wins): "graded", "cell timeout", "timeout", "kernel died",
"not a notebook", "empty notebook", "kernel failed to start", "grader error".
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

GRADER = "course_utils.grade"
GRADER_SIDE_PROBLEMS = ("kernel failed to start", "grader error")


def atomic_write(path, data):
    """Write bytes or text to ``path`` atomically."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def results_json(result):
    """The Gradescope results.json of one SubmissionResult, as a dict."""
    return {
        "score": round(result.score, 6),
        "execution_time": int(round(result.seconds)),
        "output": result.output,
        "stdout_visibility": "hidden",
        "tests": result.tests,
        "extra_data": {
            "grader": GRADER,
            "submission": result.file_name,
            "sha256": result.sha256,
            "lesson": result.lesson,
            "plan": result.plan_fingerprint,
            "status": result.status,
            "max_score": round(result.max_score, 6),
            "scores": {k: round(v, 6) for k, v in result.scores.items()},
            "timings": result.timings,
        },
    }


def gradebook_csv(results, keys):
    """gradebook.csv text: submission, one column per exercise key, total, max, status; sorted rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", *keys, "total", "max", "status"])
    for result in sorted(results, key=lambda r: (r.stem.casefold(), r.stem)):
        writer.writerow([result.stem, *(_number(result.scores.get(k, 0.0)) for k in keys),
                         _number(result.score), _number(result.max_score), result.status])
    return buffer.getvalue()


def _number(x):
    x = round(float(x), 6)
    return str(int(x)) if x == int(x) else repr(x)


def summary_table(results, seconds=None):
    """A plain-text table of every submission (score, status) and a count per status."""
    rows = sorted(results, key=lambda r: (r.stem.casefold(), r.stem))
    width = min(48, max([len("submission")] + [len(r.stem) for r in rows]))
    lines = [f"{'submission':<{width}}  {'score':>11}  status", "-" * (width + 30)]
    for r in rows:
        stem = r.stem if len(r.stem) <= width else r.stem[:width - 1] + "\u2026"
        lines.append(f"{stem:<{width}}  {_number(r.score):>5} / {_number(r.max_score):<3}  {r.status}")
    counts = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    done = ", ".join(f"{n} {status}" for status, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    tail = f"{len(rows)} submission{'s' if len(rows) != 1 else ''}: {done}"
    if rows:
        mean = sum(r.score for r in rows) / len(rows)
        tail += f"; mean score {mean:.2f} / {_number(rows[0].max_score)}"
    if seconds is not None:
        tail += f"; {seconds:.1f} s"
    lines += ["-" * (width + 30), tail]
    return "\n".join(lines)


def read_result(path):
    """A results JSON written by this grader, or None."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("extra_data"), dict):
        return None
    if data["extra_data"].get("grader") != GRADER:
        return None
    return data

"""A learner's working folder, apart from the shipped lessons.

    python -m course_utils.start                # copy lessons/*.ipynb into my-work/ (never overwriting)
    python -m course_utils.start --into DIR     # another folder

``my-work/`` is where a learner's answers live: git ignores it (the command writes a
``my-work/.gitignore`` holding ``*``), so ``git pull`` of a course update never touches it, and
``python -m course_utils.build`` never writes there (except the backups it names). Run the command
again after an update: lessons that are new are copied, the learner's files are kept as they are;
a lesson the course has changed since it was copied is named, with how to get the new version.

The copies run exactly as the shipped lessons: ``course_utils`` is an installed package (its data
sets included), so neither imports nor ``check()`` depend on the notebook's folder; in Google Colab
the lessons are opened from GitHub and saved to the learner's Drive, as before.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from .build import DIGEST_KEY, NOTEBOOK_NAME, WORKSPACE, ensure_workspace


def _digest(path):
    try:
        course = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {}).get("course", {})
        return course.get(DIGEST_KEY) if isinstance(course, dict) else None
    except (OSError, ValueError, AttributeError):
        return None


def default_lessons():
    """lessons/ in the current folder if there is one, else the checkout's (an editable install)."""
    here = Path("lessons")
    return here if here.is_dir() else Path(__file__).resolve().parents[1] / "lessons"


def start(lessons_dir=None, into=WORKSPACE):
    """Copy every lesson into ``into`` without overwriting anything; returns one sentence per lesson."""
    lessons_dir = Path(lessons_dir) if lessons_dir is not None else default_lessons()
    into = Path(into)
    lessons = sorted(p for p in lessons_dir.glob("*.ipynb") if NOTEBOOK_NAME.match(p.name)) \
        if lessons_dir.is_dir() else []
    if not lessons:
        raise FileNotFoundError(f"No lessons (NN_name.ipynb) in {lessons_dir}: run this from the course's "
                                f"folder (the one holding lessons/), or pass --lessons DIR.")
    ensure_workspace(into)
    report = []
    for lesson in lessons:
        target = into / lesson.name
        if target.exists():
            line = f"{target}: kept (yours, not overwritten)"
            if _digest(target) and _digest(lesson) and _digest(target) != _digest(lesson):
                line += (f"; the course has changed {lesson} since you copied it - to get the new version "
                         f"as well, rename your copy (e.g. {lesson.stem}-mine.ipynb) and run this again")
            report.append(line)
        else:
            shutil.copyfile(lesson, target)
            report.append(f"{target}: copied from {lesson}")
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m course_utils.start",
                                     description=f"Copy the lessons into your own working folder (default "
                                                 f"{WORKSPACE}/), never overwriting a file there.")
    parser.add_argument("--lessons", default=None, help="the shipped lessons (default: lessons)")
    parser.add_argument("--into", default=WORKSPACE, help=f"your working folder (default: {WORKSPACE})")
    args = parser.parse_args(argv)
    try:
        report = start(args.lessons, args.into)
    except (OSError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report))
    print(f"\nWork in {args.into}/ (e.g. `jupyter lab {args.into}/`): git ignores it and nothing of the course "
          f"overwrites it. After `git pull`, run this again to add new lessons.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

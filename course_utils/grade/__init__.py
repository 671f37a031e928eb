"""The instructors' autograder: grade a folder of submitted notebooks, each in its own kernel.

    python -m course_utils.grade SUBMISSIONS_DIR --lesson 01_neuron --out RESULTS_DIR

Grading model - collect answers, not verdicts:

1. each submission is copied into its own temporary folder and run, cell by cell, in its own
   kernel process (a new process group, a memory limit, per-cell and whole-notebook timeouts;
   every process it started is killed afterwards);
2. after each learner cell, grader code that was loaded into the kernel before the learner's
   first cell calls the learner's functions on the instructor's inputs (public and hidden test
   cases) and brings the outputs back as plain data (.npy files and JSON, no pickle); the latest
   definition that produced outputs counts, so credit earned before a later crash is kept;
3. the grading process compares those outputs with the reference it computes itself, with the
   same ``diagnose`` that learners' ``check()`` uses - nothing the learner redefines in the
   kernel (NumPy functions, ``check``, ``__eq__``, exception classes) can change a verdict.

Results: one Gradescope-shaped ``<file stem>.json`` per submission and a ``gradebook.csv``.
``python -m course_utils.grade.gradescope`` packages the same grader as a Gradescope autograder.
"""

__all__ = ["GradeOptions", "grade_submissions", "grade_notebook", "GradingSetupError"]


def __getattr__(name):
    # the kernel launcher (course_utils.grade._launcher) imports this package: keep it light
    if name in __all__:
        from . import core
        return getattr(core, name)
    raise AttributeError(f"module 'course_utils.grade' has no attribute {name!r}")

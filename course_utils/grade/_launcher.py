"""Start a grading kernel: apply the memory limit, then run ipykernel in this very process.

    python -m course_utils.grade._launcher -f CONNECTION_FILE [ipykernel options]

The grading process starts this in a new session (its own process group). The memory limit
(bytes, from the environment variable COURSE_GRADER_MEMORY_LIMIT; 0 = none) is RLIMIT_AS, soft
and hard, so the learner's code cannot raise it again; it is inherited by every child process.
No file the kernel writes may exceed FILE_LIMIT (RLIMIT_FSIZE; a runaway write kills the kernel
with SIGXFSZ instead of filling the disk).
"""
import os
import resource
import sys

FILE_LIMIT = 4 * 2**30


def _lower(which, limit):
    soft, hard = resource.getrlimit(which)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(which, (limit, limit))


def main(argv):
    limit = int(os.environ.pop("COURSE_GRADER_MEMORY_LIMIT", "0") or 0)
    if limit > 0:
        _lower(resource.RLIMIT_AS, limit)
    _lower(resource.RLIMIT_FSIZE, FILE_LIMIT)
    # as ipykernel_launcher does: the kernel's folder is not a place to import modules from
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    from ipykernel.kernelapp import launch_new_instance
    sys.argv = [sys.argv[0]] + list(argv)
    launch_new_instance()


if __name__ == "__main__":
    main(sys.argv[1:])

"""course_utils: the from-scratch NumPy library, the Keras comparison harness, the learners'
checks and the instructors' grader for the course "Deep learning, from the neuron to the GAN"."""
__version__ = "0.1.0"

# Where the course lives; the "Open in Colab" badges and the Colab setup cells are built from it.
REPOSITORY = "deep-learning-course/neuron-to-gan"


def __getattr__(name):
    # `from course_utils import check` without importing the checks (and NumPy) up front
    if name == "check":
        from .checks import check
        return check
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")

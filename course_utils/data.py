"""Data sets for the lessons, all offline: shipped in data/ (installed as course_utils._data) or
bundled with a package (scikit-learn's digits). Each loader says in its docstring where the data
comes from; notebooks load data only through here, never by a path, so they work in Colab too.
"""
from __future__ import annotations

from importlib import resources

import numpy as np


def data_path(name):
    """The path of a file shipped in data/, whether installed from git or editable."""
    path = resources.files("course_utils._data") / name
    if not path.is_file():
        raise FileNotFoundError(f"The course data file {name!r} is missing from course_utils._data (data/). "
                                f"Reinstall the course package: pip install -e . (or from git in Colab).")
    return path


def load_iris():
    """The iris flowers (150 flowers, 4 measurements in cm, 3 species; bundled with scikit-learn,
    from the UCI repository): scikit-learn's Bunch with ``data`` (150, 4), ``target`` (150,),
    ``feature_names`` and ``target_names``. Lesson 02 keeps setosa and versicolor."""
    from sklearn.datasets import load_iris as sk_load_iris
    return sk_load_iris()


def load_breast_cancer():
    """Breast cancer Wisconsin (diagnostic): 569 tumours, 30 features, benign/malignant (bundled
    with scikit-learn, from the UCI repository): scikit-learn's Bunch with ``data`` (569, 30),
    ``target`` (569,; 0 = malignant, 1 = benign), ``feature_names`` and ``target_names``."""
    from sklearn.datasets import load_breast_cancer as sk_load_breast_cancer
    return sk_load_breast_cancer()


def make_moons(n_samples=640, noise=0.25, seed=0):
    """Two interleaving half-moons in 2-D, a small non-linear classification problem generated
    from a seed (scikit-learn's ``make_moons``): x (n_samples, 2), y (n_samples,) in {0, 1}."""
    from sklearn.datasets import make_moons as sk_make_moons
    return sk_make_moons(n_samples=n_samples, noise=noise, random_state=seed)


def load_digits(test_size=0.25, validation_size=0.0, seed=0, flatten=True, one_hot=False):
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes; bundled with scikit-learn,
    from the UCI ML hand-written digits data set), pixels scaled to [0, 1].

    Returns ``(x_train, y_train), (x_test, y_test)``, or with ``validation_size > 0``
    ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``. The split is stratified and seeded.
    ``flatten=False`` gives images of shape (8, 8, 1) (for CNNs); ``one_hot`` gives one-hot labels.
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    digits = sk_load_digits()
    x = (digits.images / 16.0).astype(np.float64)
    y = digits.target.astype(np.int64)
    x = x.reshape(len(x), -1) if flatten else x[..., None]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    if one_hot:
        y_train, y_test = np.eye(10)[y_train], np.eye(10)[y_test]
    if validation_size:
        labels = y_train.argmax(-1) if one_hot else y_train
        x_train, x_val, y_train, y_val = train_test_split(
            x_train, y_train, test_size=validation_size, random_state=seed, stratify=labels)
        return (x_train, y_train), (x_val, y_val), (x_test, y_test)
    return (x_train, y_train), (x_test, y_test)


def load_names():
    """5,163 English first names in lower case, a-z only, sorted (data/first_names.txt), for the
    character-level models of lesson 07.

    Source: the female and male first-name lists of the PyPI package ``names`` 0.3.0 (Trey Hunner,
    MIT licence), which are public domain, derived from the 1990 US Census; merged, lower-cased and
    deduplicated. See data/README.md for the checksum. Returns a list of str.
    """
    names = data_path("first_names.txt").read_text(encoding="utf-8").split()
    if not names or any(not (n.isascii() and n.isalpha() and n.islower()) for n in names):
        raise ValueError("The course data file first_names.txt is damaged (expected one lower-case a-z name "
                         "per line). Reinstall the course package: pip install -e . (or from git in Colab).")
    return names


def make_series(n_steps=2000, periods=(25.0, 60.0, 170.0), amplitudes=(1.0, 0.6, 0.4), noise=0.15, seed=0):
    """A generated time series for forecasting (lesson 07): a sum of sines plus Gaussian noise,

        s_t = sum_k a_k sin(2 pi t / P_k + phase_k) + noise * eps_t,    eps_t ~ N(0, 1),

    with random phases (seeded). Nothing is downloaded: the same seed gives the same series.
    Returns an array of shape (n_steps,) (float64).
    """
    if len(periods) != len(amplitudes):
        raise ValueError(f"make_series needs one amplitude per period; received {len(periods)} periods and "
                         f"{len(amplitudes)} amplitudes.")
    if int(n_steps) <= 0:
        raise ValueError(f"make_series needs n_steps >= 1, received n_steps={n_steps!r}.")
    rng = np.random.default_rng(seed)
    t = np.arange(int(n_steps), dtype=np.float64)
    phases = rng.uniform(0, 2 * np.pi, size=len(periods))
    series = sum(a * np.sin(2 * np.pi * t / p + phase) for a, p, phase in zip(amplitudes, periods, phases))
    return series + noise * rng.normal(size=t.shape)


def load_python_reference():
    """An English corpus for the language models of lesson 12 (data/python_reference.txt, 199,678
    characters, ASCII): 39 sections of the Python Language Reference and Library documentation (the
    "if" statement, classes, exceptions, string methods, ...), as CPython 3.11.7 bundles them for
    ``help()`` in ``pydoc_data/topics.py``, taken in that module's order, each section kept whole while
    the total stays under 200,000 characters, reduced to ASCII (NFKD) with trailing spaces removed.

    Licence: the Python documentation is distributed with CPython under the PSF License Agreement
    (permissive: use, copy and modify with the copyright notice kept). See data/README.md for the
    checksum. Returns the text (str).
    """
    text = data_path("python_reference.txt").read_text(encoding="utf-8")
    if len(text) < 100_000 or not text.isascii():
        raise ValueError("The course data file python_reference.txt is damaged (expected about 200,000 ASCII "
                         "characters). Reinstall the course package: pip install -e . (or from git in Colab).")
    return text

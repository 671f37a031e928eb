"""Packaging: what `pip install` (locally, or from git in Colab) brings, what requirements.txt admits,
and that the README's test command is the one CI runs."""
import fnmatch
import re
import shlex
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# What Google Colab has (or is about to have): requirements must admit these, not replace them.
COLAB_TENSORFLOW = ["2.20.0", "2.21.0"]
COLAB_KERAS = ["3.13.0", "3.13.2", "3.14.0", "3.15.0"]


def _package_folders():
    """{dotted package name: folder} for every folder with an __init__.py under course_utils/, plus data/."""
    found = {}
    for init in sorted((ROOT / "course_utils").rglob("__init__.py")):
        if "__pycache__" in init.parts:
            continue
        folder = init.parent
        found[".".join(folder.relative_to(ROOT).parts)] = folder
    if (ROOT / "data" / "__init__.py").exists():
        found["course_utils._data"] = ROOT / "data"
    return found


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = _package_folders()
    missing = sorted(set(found) - listed)
    assert not missing, (f"pyproject.toml [tool.setuptools] packages lacks {missing}: "
                         f"`pip install git+...` (Colab) would not install them.")
    stale = sorted(listed - set(found))
    assert not stale, f"pyproject.toml lists packages with no folder and __init__.py: {stale}"
    assert PYPROJECT["tool"]["setuptools"]["package-dir"]["course_utils._data"] == "data"


def test_every_data_file_is_shipped():
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["course_utils._data"]
    files = [p for p in (ROOT / "data").rglob("*") if p.is_file() and "__pycache__" not in p.parts
             and p.suffix not in (".py", ".pyc")]
    unshipped = [str(p.relative_to(ROOT)) for p in files
                 if not any(fnmatch.fnmatch(p.name, pattern) for pattern in patterns)]
    assert not unshipped, (f"{unshipped} match none of the package-data patterns {patterns}: they would be "
                           f"missing in Colab. Add their extension to [tool.setuptools.package-data].")


def _requirements():
    requirements = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        requirements[requirement.name.lower()] = requirement
    return requirements


def _check_range(requirement, admitted, source):
    operators = {spec.operator for spec in requirement.specifier}
    assert operators and not operators & {"==", "==="}, (
        f"{source}: {requirement} must be a range (>=, <), not an exact pin, so that Colab's version stays.")
    for version in admitted:
        assert requirement.specifier.contains(version), f"{source}: {requirement} does not admit {version}"


@pytest.mark.parametrize("name, admitted", [("tensorflow", COLAB_TENSORFLOW), ("keras", COLAB_KERAS)])
def test_requirements_admit_colabs_tensorflow_and_keras(name, admitted):
    requirements = _requirements()
    assert name in requirements, f"requirements.txt does not mention {name}"
    _check_range(requirements[name], admitted, "requirements.txt")
    extras = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["keras"]]
    extra = next(r for r in extras if r.name.lower() == name)
    _check_range(extra, admitted, "pyproject.toml [project.optional-dependencies] keras")
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        pytest.skip(f"{name} is not installed here")
    assert requirements[name].specifier.contains(Version(installed).base_version), (
        f"requirements.txt's {requirements[name]} excludes the installed {name} {installed}")


def test_pip_install_from_git_leaves_tensorflow_and_keras_alone():
    """The Colab setup cell installs the project itself; its dependencies must not pull TF/Keras."""
    names = [Requirement(d).name.lower() for d in PYPROJECT["project"]["dependencies"]]
    assert not [n for n in names if n in ("tensorflow", "tensorflow-cpu", "tf-keras", "keras", "jax", "torch")], names
    for dependency in PYPROJECT["project"]["dependencies"]:
        operators = {spec.operator for spec in Requirement(dependency).specifier}
        assert not operators & {"==", "==="}, f"pyproject dependency {dependency} is pinned exactly"


# ---------------------------------------------------------------------- README quick start == CI
def _pytest_commands(lines):
    """The pytest invocations among shell lines, as the argument lists from `pytest` on
    ("python -m pytest -q" and "pytest -q" both give ["pytest", "-q"])."""
    commands = []
    for line in lines:
        line = line.split(" #", 1)[0].strip()
        if line.startswith("#") or not re.search(r"(^|[\s/])pytest(\s|$)", line):
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        starts = [i for i, word in enumerate(words) if word.rsplit("/", 1)[-1] == "pytest"]
        if starts:
            commands.append(["pytest"] + words[starts[0] + 1:])
    return commands


def _readme_code_lines(text):
    lines, inside = [], False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            inside = not inside
            continue
        if inside:
            lines.append(line.strip().removeprefix("$ "))
    return lines


def test_readme_test_command_is_what_ci_runs():
    readme, ci = ROOT / "README.md", ROOT / ".ci" / "run"
    assert readme.exists() and ci.exists(), "README.md and .ci/run are needed: the README's test command is CI's"
    readme_commands = _pytest_commands(_readme_code_lines(readme.read_text(encoding="utf-8")))
    ci_commands = _pytest_commands(ci.read_text(encoding="utf-8").splitlines())
    assert readme_commands, "the README's quick start shows no pytest command in a code block"
    assert ci_commands, ".ci/run runs no pytest command"
    assert readme_commands[0] in ci_commands, (
        f"the README's test command {' '.join(readme_commands[0])!r} is not what .ci/run runs "
        f"({[' '.join(c) for c in ci_commands]}); compared from the word `pytest` on.")

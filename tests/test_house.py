"""The house rules of course_utils, read from the source with ``ast`` (nothing is imported):

- no import circle between its modules, counting imports inside functions (a lazy import hides
  a circle, it does not remove it);
- ``course_utils.nn`` is the ground floor: it imports nothing from the rest of course_utils;
- no function longer than 60 lines (split it by the ideas inside it).
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "course_utils"


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules():
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module, path, node):
    """The course_utils modules an import statement names (a package's ``from . import x``
    names the submodule ``x`` when there is one)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    if node.level:
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def import_graph():
    """{module: set of course_utils modules it imports, at module level or inside functions}."""
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets.update(name for name in _resolve(module, path, node) if name in modules)
        targets.discard(module)
        graph[module] = targets
    return graph


def _with_packages(graph):
    """Importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py`` first, so it imports those
    packages too - all but the ones the importing module lives in (they are running already: a
    package's ``__init__`` is its front door, and its modules import their siblings through it)."""
    packages = {m for m in graph if (PACKAGE.parent / m.replace(".", "/") / "__init__.py").exists()}
    edges = {}
    for module, targets in graph.items():
        inside = {p for p in packages if module == p or module.startswith(p + ".")}
        reached = set()
        for target in targets:
            parts = target.split(".")
            reached |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        edges[module] = {t for t in reached if t in graph and t not in inside and t != module}
    return edges


def import_cycles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycle_in_course_utils():
    cycles = import_cycles(_with_packages(import_graph()))
    assert cycles == [], f"import circles (lazy imports included): {cycles}"


def test_nn_is_the_ground_floor():
    upward = {module: sorted(t for t in targets if not t.startswith("course_utils.nn"))
              for module, targets in import_graph().items() if module.startswith("course_utils.nn")}
    upward = {module: targets for module, targets in upward.items() if targets}
    assert upward == {}, f"course_utils.nn imports the rest of course_utils: {upward}"


def test_the_graph_reader_sees_lazy_imports():
    # a self-check, so that the two tests above cannot pass by reading nothing
    graph = import_graph()
    assert "course_utils.nn.base" in graph and graph["course_utils.nn"], graph.get("course_utils.nn")


def test_every_layer_is_exported_from_nn_and_nn_layers():
    """A layer registered for conversion (``keras_class``) is also one import away, as the README's
    "The house" says: ``nn.<Class>`` and ``nn.layers.<Class>`` (``nn.Masking`` once was missing)."""
    import course_utils.nn as nn
    import course_utils.nn.layers as layers
    missing = sorted(name for name in nn.LAYER_REGISTRY if not (hasattr(nn, name) and hasattr(layers, name)))
    assert missing == [], f"layers not exported from course_utils.nn / course_utils.nn.layers: {missing}"


def test_the_readme_layer_table_names_every_layer():
    import course_utils.nn as nn
    readme = (PACKAGE.parent / "README.md").read_text()
    table = next(line for line in readme.splitlines() if line.startswith("| `course_utils.nn` |"))
    unnamed = sorted(name for name in nn.LAYER_REGISTRY if name != "InputLayer" and f"`{name}`" not in table)
    assert unnamed == [], f"the README's layer table does not name: {unnamed}"


MAX_FUNCTION_LINES = 60


def test_no_function_over_60_lines():
    """Long functions are split by the ideas inside them (the house issue's rule), so a function of
    course_utils reads on one screen."""
    long = sorted((node.end_lineno - node.lineno + 1, f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}")
                  for path in PACKAGE.rglob("*.py") for node in ast.walk(ast.parse(path.read_text("utf-8")))
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES)
    assert long == [], f"functions over {MAX_FUNCTION_LINES} lines: {long}"

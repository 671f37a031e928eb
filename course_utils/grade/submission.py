"""Reading a submitted file: is it a notebook at all, which cells does it have, which lesson.

Read tolerantly (Colab's and old Jupyters' notebooks do not always validate against the nbformat
schema), but a file that is not a notebook is said to be one thing clearly: empty, an image, a
PDF, a zip, not text, truncated JSON, JSON that is no notebook.
"""
from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field

MAX_BYTES = 200 * 2**20
HEADER_TAG = "course-header"      # the Colab set-up cells the build inserts (see course_utils.build)

_MAGIC = [(b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a zip archive (a .docx, .zip or similar)"),
          (b"\x1f\x8b", "a gzip archive"), (b"{\\rtf", "an RTF document"),
          (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document")]


class NotANotebook(ValueError):
    """The file cannot be graded as a notebook. ``status`` is the gradebook's status word."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Cell:
    position: int         # 1-based, counting every cell as Jupyter shows them
    cell_type: str
    source: str
    tags: tuple = ()


@dataclass
class Notebook:
    cells: list
    lesson: str | None = None       # from the metadata {"course": {"lesson": ...}}
    code_cells: list = field(default_factory=list)
    skipped_header_cells: int = 0


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def read_notebook_bytes(data):
    """A Notebook from a file's bytes; NotANotebook saying what the file is otherwise."""
    data_json = _notebook_json(_notebook_text(data))
    parsed = _cells(data_json["cells"])
    metadata = data_json.get("metadata") if isinstance(data_json.get("metadata"), dict) else {}
    course = metadata.get("course") if isinstance(metadata.get("course"), dict) else {}
    lesson = course.get("lesson") if isinstance(course.get("lesson"), str) else None
    notebook = Notebook(parsed, lesson)
    for cell in parsed:
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if HEADER_TAG in cell.tags:
            notebook.skipped_header_cells += 1
            continue
        notebook.code_cells.append(cell)
    if not parsed:
        raise NotANotebook("empty notebook", "the notebook has no cells.")
    if not notebook.code_cells:
        raise NotANotebook("empty notebook", "the notebook has no code cells (only text): nothing to run.")
    return notebook


def _notebook_text(data):
    """The file as JSON-looking text; NotANotebook for an empty, huge, binary or plain-text file."""
    if len(data) == 0:
        raise NotANotebook("not a notebook", "the file is empty (0 bytes).")
    if len(data) > MAX_BYTES:
        raise NotANotebook("not a notebook", f"the file is too large to be a lesson notebook "
                                             f"({len(data) / 2**20:.0f} MiB).")
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise NotANotebook("not a notebook", f"the file is {what} renamed .ipynb, not a Jupyter notebook. "
                                                 f"Download the notebook itself (File > Download > .ipynb).")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotANotebook("not a notebook", f"the file is not text (byte {exc.start} is not UTF-8), so it is "
                                             f"not a Jupyter notebook.") from None
    if "\x00" in text:
        raise NotANotebook("not a notebook", "the file is binary, not a Jupyter notebook.")
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        first = stripped.splitlines()[0][:60] if stripped else ""
        raise NotANotebook("not a notebook", f"the file is plain text, not a Jupyter notebook (JSON); it starts "
                                             f"with {first!r}.")
    return text


def _notebook_json(text):
    """The notebook's JSON (nbformat 3 converted to 4), with a list of 'cells'; NotANotebook if not."""
    try:
        data_json = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) - 1 or "Unterminated" in exc.msg:
            raise NotANotebook("not a notebook", f"the notebook's JSON ends abruptly (line {exc.lineno}): the file "
                                                 f"is truncated - an interrupted download or upload? Submit it "
                                                 f"again.") from None
        raise NotANotebook("not a notebook", f"the file is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                                             f"{exc.msg}), so it is not a readable notebook.") from None
    except RecursionError:
        raise NotANotebook("not a notebook", "the file's JSON is nested too deeply to be a notebook.") from None
    if not isinstance(data_json, dict):
        raise NotANotebook("not a notebook", "the file is JSON but not a Jupyter notebook (no 'cells').")
    if "cells" not in data_json and "worksheets" in data_json:    # nbformat 3
        try:
            import nbformat
            data_json = nbformat.convert(nbformat.from_dict(data_json), 4)
        except Exception as exc:
            raise NotANotebook("not a notebook", f"the file is an old (nbformat 3) notebook that cannot be "
                                                 f"converted: {exc}") from None
    if not isinstance(data_json.get("cells"), list):
        raise NotANotebook("not a notebook", "the file is JSON but not a Jupyter notebook (no list of 'cells').")
    return data_json


def _cells(cells):
    """Cell objects (position, type, source, tags) from the JSON cells, whatever shape they have."""
    parsed = []
    for position, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if not isinstance(source, str):
            source = ""
        metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        tags = metadata.get("tags") if isinstance(metadata.get("tags"), list) else []
        parsed.append(Cell(position, str(cell.get("cell_type", "")), source,
                           tuple(t for t in tags if isinstance(t, str))))
    return parsed


# ---------------------------------------------------------------------- static look at later cells
_REBINDING_CALLS = {"exec", "eval", "globals", "locals", "vars", "setattr", "delattr", "__import__",
                    "execfile", "run_cell", "run_code", "ex", "ev", "push", "del_var", "reset", "run_path",
                    "run_module"}
_MAGIC_CALLS = {"run_line_magic", "run_cell_magic"}
_HARMLESS_MAGICS = {"matplotlib", "pip", "conda", "env", "pwd", "ls", "who", "whos", "config", "precision"}


def may_rebind(sources, names):
    """False only when no code in ``sources`` can bind, delete or change in place any of ``names``.

    Used to stop running a notebook early once every answer is collected: the remaining cells
    could not change any answer. Conservative: magics, exec/eval/globals(), star imports and
    ``import __main__`` count as "may rebind".
    """
    names = set(names)
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        transform = TransformerManager().transform_cell
    except Exception:      # pragma: no cover - IPython is always there with ipykernel
        transform = None
    for source in sources:
        if transform is not None:
            try:
                source = transform(source)
            except Exception:
                return True
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue        # a cell that does not compile runs nothing
        except (ValueError, RecursionError, MemoryError):
            return True
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load) and node.id in names:
                return True
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in names:
                return True
            if isinstance(node, ast.alias) and (node.name == "*" or (node.asname or node.name).split(".")[0] in names
                                                or node.name == "__main__"):
                return True
            if isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(node.ctx, ast.Load):
                base = node.value
                while isinstance(base, (ast.Attribute, ast.Subscript)):
                    base = base.value
                if not isinstance(base, ast.Name) or base.id in names or \
                        (isinstance(node, ast.Attribute) and node.attr in names):
                    return True
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
                if called in _REBINDING_CALLS:
                    return True
                if called in _MAGIC_CALLS:
                    magic = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
                    if magic not in _HARMLESS_MAGICS:
                        return True
            if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name in names:
                return True
            if isinstance(node, ast.MatchMapping) and node.rest in names:
                return True
            if isinstance(node, ast.Global) and names.intersection(node.names):
                return True
    return False

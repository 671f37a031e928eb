"""The grader's code inside the learner's kernel: it collects answers, it never judges them.

The grading process does not import this module. It sends its *source text* to the kernel, where
it runs before the learner's first cell, in a private namespace whose builtins are a copy taken
at that moment. ``_start`` grabs every function it will need (NumPy's ``asarray``, ``open``,
``json.dumps``, the signal functions, the IPython namespace) before any learner code runs, so a
learner who later patches ``np.asarray``, ``print``, ``json``, builtins or redefines ``check``
changes nothing here.

After each learner cell the grader runs ``__course_grader_harvest__(seq)``. For every exercise of
the lesson whose name is defined in the learner's namespace, and whose definition changed since
the last harvest (its *fingerprint*: object ids, code, the globals it uses), the harvest calls the
learner's function on the instructor's inputs (or reads the learner's value), converts each output
with a local copy of ``course_utils.checks.to_plain``'s rules and writes it as ``.npy`` files
(written byte by byte here, read back with ``allow_pickle=False``) plus a JSON manifest:

    <harvest dir>/h<seq>/manifest.json     {"seq": 7, "exercises": {"add": {...}, ...}}
    <harvest dir>/h<seq>/e<i>_c<j>_<k>.npy one array per output part

Each call runs under a SIGALRM timer (``call_seconds``); output printed by the learner's function
is thrown away. Verdicts are computed only in the grading process.
"""


class _Timeout(BaseException):
    """Raised by the SIGALRM handler when a learner's function runs past its time limit."""


class _Sink:
    """Where the learner's prints go during a harvest: nowhere."""

    def write(self, text):
        return len(text) if type(text) is str else 0

    def flush(self):
        pass

    def isatty(self):
        return False


_MISSING = object()
_S = {}   # everything captured at start-up


def _start(ipython, harvest_dir, settings):
    """Capture references, load the instructor's inputs; return the harvest function."""
    import json
    import os
    import signal
    import sys
    import types

    import numpy

    _S.update(
        asarray=numpy.asarray, ndarray=numpy.ndarray, errstate=numpy.errstate, number=numpy.number, generic=numpy.generic,
        tobytes=numpy.ndarray.tobytes, copy=numpy.ndarray.copy, load=numpy.load,
        dumps=json.dumps, loads=json.loads, replace=os.replace, makedirs=os.makedirs, getpid=os.getpid,
        sys=sys, signal=signal.signal, getsignal=signal.getsignal, setitimer=signal.setitimer,
        ITIMER_REAL=signal.ITIMER_REAL, SIGALRM=signal.SIGALRM,
        function=types.FunctionType, user_ns=ipython.user_ns, dir=harvest_dir,
        call_seconds=float(settings["call_seconds"]), max_bytes=int(settings["max_output_bytes"]),
        max_items=int(settings.get("max_items", 64)), last={}, deps={},
    )
    with open(harvest_dir + "/inputs.json", encoding="utf-8") as f:
        spec = json.load(f)
    arrays = {}
    with numpy.load(harvest_dir + "/inputs.npz", allow_pickle=False) as z:
        for key in z.files:
            arrays[key] = z[key]
    _S["exercises"] = [
        {"name": ex["name"], "kind": ex["kind"],
         "cases": [(tuple(_decode_input(a, arrays) for a in case["args"]),
                    {k: _decode_input(v, arrays) for k, v in case["kwargs"].items()})
                   for case in ex["cases"]],
         "strict_fp": [bool(case.get("strict_fp")) for case in ex["cases"]]}
        for ex in spec["exercises"]]
    return _harvest


def _decode_input(spec, arrays):
    kind = spec["t"]
    if kind == "array":
        return arrays[spec["k"]]
    if kind == "npscalar":
        return arrays[spec["k"]][()]
    if kind == "tuple":
        return tuple(_decode_input(v, arrays) for v in spec["v"])
    if kind == "list":
        return [_decode_input(v, arrays) for v in spec["v"]]
    if kind == "dict":
        return {k: _decode_input(v, arrays) for k, v in spec["v"].items()}
    return spec["v"]   # int, float, bool, str, None


def _copy(value):
    """A fresh copy of every array in an input, so that a call cannot change the next call's input."""
    if isinstance(value, _S["ndarray"]):
        return _S["copy"](value)
    if type(value) is tuple:
        return tuple(_copy(v) for v in value)
    if type(value) is list:
        return [_copy(v) for v in value]
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    return value


def _text(value, limit=300):
    """str(value), never raising, at most ``limit`` characters, always a plain str."""
    try:
        text = str(value)
    except BaseException:
        return "?"
    try:
        return "".join(text[:limit])
    except BaseException:
        return "?"


def _type_name(value):
    try:
        return _text(type(value).__name__, 80)
    except BaseException:
        return "object"


# ---------------------------------------------------------------------- fingerprints
def _fingerprint(value, depth, seen, deps):
    """Something that changes when the answer may have changed (ids, code, the globals used)."""
    kind = type(value)
    if kind is _S["function"]:
        if id(value) in seen or depth > 6:
            return ("f", id(value))
        seen.add(id(value))
        code = value.__code__
        parts = ["f", id(value), id(code), id(value.__defaults__), id(value.__kwdefaults__)]
        namespace = value.__globals__
        for name in _code_names(code, 0):
            found = dict.get(namespace, name, _MISSING)
            if found is _MISSING:
                continue
            if namespace is _S["user_ns"]:
                deps.add(name)
            parts.append((name, _fingerprint(found, depth + 1, seen, deps)))
        for cell in value.__closure__ or ():
            try:
                parts.append(_fingerprint(cell.cell_contents, depth + 1, seen, deps))
            except ValueError:   # an empty cell
                parts.append(None)
        return tuple(parts)
    if isinstance(value, _S["ndarray"]):
        content = _S["tobytes"](value) if value.nbytes <= (1 << 22) else id(value)
        return ("a", id(value), value.shape, value.dtype.str, hash(content))
    if kind in (int, float, bool, str, complex, type(None)):
        return ("v", kind.__name__, value)
    if kind in (tuple, list) and depth < 3:
        return ("s", id(value), len(value), tuple(_fingerprint(v, depth + 1, seen, deps) for v in value[:64]))
    return ("o", id(value))


def _code_names(code, depth):
    names = list(code.co_names)
    if depth < 4:
        for const in code.co_consts:
            if type(const) is type(code):
                names += _code_names(const, depth + 1)
    return names


# ---------------------------------------------------------------------- converting outputs
def _all_numbers(seq):
    return all(isinstance(v, (int, float, bool, _S["number"]))
               or (isinstance(v, _S["ndarray"]) and v.ndim == 0) for v in seq)


def _encode(value, depth, path, files):
    """The output as a JSON-able description; arrays written as .npy files (to_plain's rules).
    A sequence of parts is kept as parts (the grader reads a regular one as one array when the
    exercise has one output); a long or deep one is sent as one array if it forms a regular one."""
    if value is None:
        return {"t": "none"}
    if isinstance(value, (tuple, list)):
        items = list(value)
        if items and not _all_numbers(items):
            if len(items) > _S["max_items"] or depth >= 3:
                regular = _regular(items)
                if regular is not None:
                    return _encode(regular, depth, path, files)
                return {"t": "nested"} if depth >= 3 else {"t": "too_many", "n": len(items)}
            return {"t": "seq", "v": [_encode(v, depth + 1, path + "_" + str(i), files)
                                      for i, v in enumerate(items)]}
        value = items
    if isinstance(value, str):
        return {"t": "str", "v": _text(value, 80)}
    try:
        array = _S["asarray"](value)
    except BaseException as exc:
        if isinstance(exc, _Timeout):
            raise
        return {"t": "unreadable", "type": _type_name(value), "detail": _text(exc)}
    if not isinstance(array, _S["ndarray"]):
        return {"t": "unreadable", "type": _type_name(value), "detail": ""}
    kind = array.dtype.kind
    if kind == "c":
        return {"t": "complex"}
    if kind not in "biuf":
        return {"t": "unreadable", "type": _type_name(value), "detail": ""}
    if array.nbytes > _S["max_bytes"]:
        return {"t": "too_large", "nbytes": int(array.nbytes)}
    name = path + ".npy"
    _write_npy(_S["dir_now"] + "/" + name, array)
    files.append(name)
    return {"t": "npy", "file": name}


def _regular(items):
    try:
        array = _S["asarray"](items)
    except BaseException as exc:
        if isinstance(exc, _Timeout):
            raise
        return None
    return array if isinstance(array, _S["ndarray"]) and array.dtype.kind in "biuf" else None


def _write_npy(filename, array):
    """NumPy's .npy format 1.0, written here so that no patched NumPy function is involved."""
    shape = tuple(int(n) for n in array.shape)
    header = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (array.dtype.str, shape)
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    size = len(header)
    with open(filename, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + bytes([size % 256, size // 256]) + header.encode("latin1"))
        f.write(_S["tobytes"](array, "C"))


# ---------------------------------------------------------------------- calling
def _on_alarm(signum, frame):
    raise _Timeout()


def _arm(seconds):
    if _S.get("timer"):
        _S["setitimer"](_S["ITIMER_REAL"], seconds)


def _disarm():
    if _S.get("timer"):
        _S["setitimer"](_S["ITIMER_REAL"], 0)


def _answer(index, exercise, value):
    """The record of one exercise: {"cases": [{"out": ...} | {"error": ...}, ...]} or {"error": ...}."""
    name = exercise["name"]
    if exercise["kind"] == "value":
        if callable(value) and not isinstance(value, _S["ndarray"]):
            return {"error": "callable"}
        files = []
        try:
            _arm(_S["call_seconds"])
            try:
                out = _encode(value, 0, "e%d_c0" % index, files)
            finally:
                _disarm()
        except _Timeout:
            return {"cases": [{"error": "timeout", "seconds": _S["call_seconds"]}]}
        except BaseException as exc:
            return {"cases": [{"error": "raised", "type": _type_name(exc), "message": _text(exc)}]}
        return {"cases": [{"out": out}]}
    if not callable(value):
        return {"error": "not_callable", "type": _type_name(value)}
    cases = []
    for j, (args, kwargs) in enumerate(exercise["cases"]):
        _write_text(_S["dir_now"] + "/calling.txt", "%s %d" % (name, j))
        strict = exercise.get("strict_fp", [])
        cases.append(_call(index, j, value, args, kwargs, j < len(strict) and strict[j]))
        error = cases[-1].get("error")
        if error in ("not_implemented", "timeout"):   # the same would happen for every other input
            break
    return {"cases": cases}


def _call(index, j, function, args, kwargs, strict_fp=False):
    passed_args, passed_kwargs = _copy(args), _copy(kwargs)
    files = []
    try:
        _arm(_S["call_seconds"])
        try:
            try:
                if strict_fp:   # the case's label promises no overflow: numpy raises instead of warning
                    with _S["errstate"](over="raise", invalid="raise", divide="raise"):
                        out = function(*passed_args, **passed_kwargs)
                else:
                    out = function(*passed_args, **passed_kwargs)
            except _Timeout:
                raise
            except NotImplementedError:
                return {"error": "not_implemented"}
            except FloatingPointError as exc:
                if not strict_fp:
                    return {"error": "raised", "type": "FloatingPointError", "message": _text(exc)}
                return {"error": "overflow", "message": _text(exc)}
            except BaseException as exc:
                return {"error": "raised", "type": _type_name(exc), "message": _text(exc)}
            for original, passed in zip(args, passed_args):
                if isinstance(original, _S["ndarray"]) and isinstance(passed, _S["ndarray"]) \
                        and passed.shape == original.shape \
                        and _S["tobytes"](passed) != _S["tobytes"](original):
                    return {"error": "inplace"}
            encoded = _encode(out, 0, "e%d_c%d" % (index, j), files)
        finally:
            _disarm()
    except _Timeout:
        return {"error": "timeout", "seconds": _S["call_seconds"]}
    except BaseException as exc:   # a learner's __str__, __array__, __len__ ... that raised
        return {"error": "raised", "type": _type_name(exc), "message": _text(exc)}
    return {"out": encoded}


def _write_text(filename, text):
    with open(filename, "w", encoding="utf-8") as f:
        f.write(text)


def _harvest(seq):
    """Collect the answers whose definition changed since the last harvest; write h<seq>/manifest.json."""
    sys = _S["sys"]
    here = _S["dir"] + "/h%d" % seq
    _S["makedirs"](here, exist_ok=True)
    _S["dir_now"] = here
    saved = (sys.stdout, sys.stderr, sys.getrecursionlimit())
    sys.stdout = sys.stderr = _Sink()
    sys.setrecursionlimit(max(saved[2], 3000))    # a learner who lowered it must not break the harvest
    try:
        previous_handler = _S["getsignal"](_S["SIGALRM"])
        _S["signal"](_S["SIGALRM"], _on_alarm)
        _S["timer"] = True
    except BaseException:    # not the main thread: the grading process's own timeout still applies
        previous_handler, _S["timer"] = None, False
    manifest = {"seq": seq, "pid": _S["getpid"](), "exercises": {}}
    try:
        for index, exercise in enumerate(_S["exercises"]):
            name = exercise["name"]
            value = dict.get(_S["user_ns"], name, _MISSING)
            deps = set()
            try:
                fingerprint = ("missing",) if value is _MISSING else _fingerprint(value, 0, set(), deps)
            except BaseException:
                fingerprint = ("o", id(value), seq)   # cannot tell: collect again
            if fingerprint == _S["last"].get(name):
                continue
            if value is _MISSING:
                record = {"missing": True}
            else:
                record = _answer(index, exercise, value)
            record["deps"] = sorted(deps)
            manifest["exercises"][name] = record
            _S["last"][name] = fingerprint
    finally:
        _disarm()
        if _S["timer"]:
            try:
                _S["signal"](_S["SIGALRM"], previous_handler)
            except BaseException:
                pass
        sys.stdout, sys.stderr = saved[0], saved[1]
        sys.setrecursionlimit(saved[2])
    text = _S["dumps"](manifest)
    with open(here + "/manifest.tmp", "w", encoding="utf-8") as f:
        f.write(text)
    _S["replace"](here + "/manifest.tmp", here + "/manifest.json")

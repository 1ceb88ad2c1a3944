"""Run a student's answer functions on the grader's cases, in a fresh Python that cannot reach bertlab.

Book page: "Instructor guide". A part whose answer is a function is graded here, not in the
notebook's kernel: the kernel holds bertlab (the reference of every measurement the course asks
for) and whatever the notebook's cells did, so a result it reports proves nothing. The grader
(`bertlab.course.judge`) instead, before the notebook runs:

1. writes a job: the setup cell's imports and the constants it takes from bertlab, the source of
   every code cell the student can edit, and each function part's calls on its visible and hidden
   cases (inputs only; the expected results never leave the grader);
2. runs this file as a script, ``python -I isolated.py JOB_FOLDER``, in a new process that never
   imports bertlab; after the setup's imports it arms an audit hook (PEP 578, which Python code
   cannot remove) that refuses any import of bertlab, any file outside Python's own library
   folders (and bertlab's folder wherever it is), writing files, subprocesses, sockets, ctypes and
   the garbage collector's object lists; numpy's and torch's file readers that bypass Python's
   ``open`` are removed;
3. runs the cells in order (a cell that fails there is skipped, and named if the answer is then
   missing), then each part's calls, each part within the cell timeout, and writes the results;
4. compares the results with bertlab's measurement, in the grader.

Nothing in the notebook can reach this process: it runs before the notebook does, from the
cells' text. What an answer cannot use here, and the notebook says so, is the notebook's data
(the model, the corpus): a function gets what it needs as arguments. A process run as the same
user is not a sandbox against native code that reads files without telling Python; on a
machine where students' code must be kept apart, grade in a container (nbgrader's own advice).

This file is also the module both sides import for `run_calls` and `plain` (so the notebook's
preview runs an answer exactly as the grader does) and imports nothing of bertlab.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["plain", "run_calls", "encode", "run_isolated", "NOT_GIVEN"]

#: The job the grader writes (torch.save, read back with ``weights_only``) and the results file.
JOB_FILE, RESULTS_FILE = "job.pt", "results.jsonl"
#: Audit events refused once the student's code runs (prefixes): other processes, the network,
#: foreign functions, and the lists of every live object (the hook itself among them).
_REFUSED_EVENTS = ("subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
                   "os.forkpty", "os.kill", "socket.", "ctypes.", "mmap.", "gc.get_objects",
                   "gc.get_referrers", "gc.get_referents", "shutil.", "os.remove", "os.rename",
                   "os.rmdir", "os.mkdir", "os.chmod", "os.link", "os.symlink", "os.truncate")
#: What a NameError in an answer means here, added to its message.
NOT_GIVEN = ("the grader runs your functions apart from the notebook: they may use their "
             "arguments, the setup cell's modules and constants, and what your own cells "
             "define, not the notebook's data (the model, the corpus ...)")


def plain(value: Any) -> Any:
    """`value` as JSON-able plain data: tensors, arrays and frames become lists and dicts, every
    number a float, int or bool; then through JSON and back, so that no subclass survives.

    >>> import torch
    >>> plain({"a": torch.tensor([0.5, 1.0]), "b": (1, "x")})
    {'a': [0.5, 1.0], 'b': [1, 'x']}
    """
    return json.loads(json.dumps(_lists(value), allow_nan=True))


def _lists(value: Any) -> Any:
    import numpy as np
    import pandas as pd
    import torch

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        with torch._C.DisableTorchFunction():  # a Tensor subclass cannot dress up its values
            return torch.Tensor.tolist(value.detach().cpu().double())
    if isinstance(value, np.ndarray):
        return np.ndarray.tolist(np.asarray(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.DataFrame):
        return {str(column): _lists(pd.DataFrame.__getitem__(value, column).to_numpy())
                for column in value.columns}
    if isinstance(value, pd.Series):
        return {str(index): _lists(item) for index, item in zip(value.index, value.to_numpy())}
    if isinstance(value, dict):
        return {str(key): _lists(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_lists(item) for item in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [_lists(item) for item in value]
    raise TypeError(f"the answer gave a {type(value).__name__}, which the grader cannot read: "
                    "return numbers, strings, lists, dicts, tensors, arrays or DataFrames")


def run_calls(answer: Callable, calls: dict[str, tuple[tuple, dict]]) -> dict:
    """Call `answer` once per named call ``{name: (args, kwargs)}``.

    Returns ``{"results": {name: plain result}, "unchanged": whether every tensor it was given
    is as it was, "error": None or what went wrong}``; the first error stops the calls.
    """
    results, unchanged = {}, True
    for name, (args, kwargs) in calls.items():
        given = _tensors((args, kwargs))
        before = [tensor.clone() for tensor in given]
        try:
            results[name] = plain(answer(*args, **kwargs))
        except NotImplementedError:
            return {"results": results, "unchanged": unchanged,
                    "error": "not answered yet (the answer cell still raises NotImplementedError)."}
        except NameError as error:
            return {"results": results, "unchanged": unchanged,
                    "error": f"raised NameError: {error} ({NOT_GIVEN})."}
        except Exception as error:  # any bug of the student's is a result to report
            return {"results": results, "unchanged": unchanged,
                    "error": f"raised {type(error).__name__}: {error}"}
        unchanged = unchanged and all(_same(a, b) for a, b in zip(given, before))
    return {"results": results, "unchanged": unchanged, "error": None}


def _same(now, before) -> bool:
    import torch

    return now.shape == before.shape and bool(torch.equal(now, before))


def _tensors(value: Any) -> list:
    """Every tensor in `value` (containers and dataclasses, such as an `Attention`, searched)."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = [getattr(value, field.name) for field in dataclasses.fields(value)]
    if isinstance(value, (list, tuple)):
        return [tensor for item in value for tensor in _tensors(item)]
    return []


# --- the grader's side -------------------------------------------------------------------------

def encode(value: Any) -> Any:
    """`value` as what ``torch.load(weights_only=True)`` reads back: tensors and plain data, an
    `Attention` and a pandas Series marked so that the script rebuilds them."""
    import pandas as pd
    import torch

    if type(value).__name__ == "Attention" and dataclasses.is_dataclass(value):
        return {"__attention__": {field.name: encode(getattr(value, field.name))
                                  for field in dataclasses.fields(value)}}
    if isinstance(value, pd.Series):
        return {"__series__": [list(value.index), torch.tensor(value.to_numpy()), str(value.dtype)]}
    if isinstance(value, dict):
        return {str(key): encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(encode(item) for item in value)
    return value


def run_isolated(job: dict, timeout: float, blocked: list[str], threads: int = 1) -> dict:
    """Run `job` in a fresh ``python -I`` process; ``{"cells": [...], "parts": {name: {...}}}``.

    `job` holds ``setup`` (import statements), ``constants`` ({name: plain value}), ``cells``
    ([{"id": grade id or None, "source"}], in notebook order) and ``parts`` ([{"name", "cases": [{"id", "calls"}]}], inputs `encode`d); every
    part and every cell gets `timeout` seconds; `blocked` are folders the process may not read;
    torch runs on `threads` threads there.
    """
    import torch

    with tempfile.TemporaryDirectory(prefix="bertlab-isolated-") as folder:
        job = {**job, "timeout": float(timeout), "blocked": [str(Path(p).resolve()) for p in blocked],
               "attention_module": str(Path(__file__).resolve().parents[1] / "attention.py")}
        torch.save(job, Path(folder) / JOB_FILE)
        budget = timeout * (len(job["cells"]) + len(job["parts"])) + 60
        environment = {name: value for name, value in os.environ.items()
                       if not name.startswith("BERTLAB_")} | {"OMP_NUM_THREADS": str(threads)}
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run([sys.executable, "-I", __file__, folder], cwd=folder, env=environment,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=budget, check=False)
        return _read_results(Path(folder) / RESULTS_FILE)


def _read_results(path: Path) -> dict:
    """The script's results, as far as it got: each line one cell's or one case's result."""
    found: dict = {"cells": [], "parts": {}}
    if not path.is_file():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
            entry = json.loads(line)
            if entry["kind"] == "cell":
                found["cells"].append({"id": entry["id"], "error": entry["error"]})
            elif entry["kind"] == "missing":
                found["parts"].setdefault(entry["part"], {})["missing"] = str(entry["error"])
            elif isinstance(entry["result"], dict):   # anything else is not a result
                found["parts"].setdefault(entry["part"], {}).setdefault("cases", {})[
                    str(entry["case"])] = entry["result"]
    return found


# --- the script's side -------------------------------------------------------------------------

def _main(folder: str) -> None:
    import torch

    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # what the answers print to stderr is dropped
    job = torch.load(Path(folder) / JOB_FILE, weights_only=True)
    attention_class = _attention_class(job["attention_module"])
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for statement in job["setup"]:
        exec(statement, namespace)  # the instructor's imports (numpy, torch ...), trusted
    namespace.update(job["constants"])
    inputs = {part["name"]: [(case["id"], _decoded(case["calls"], attention_class))
                             for case in part["cases"]] for part in job["parts"]}
    results = open(Path(folder) / RESULTS_FILE, "w", encoding="utf-8")   # noqa: SIM115
    timeout = job["timeout"]
    refused: list[str] = []
    _remove_native_readers()
    sys.addaudithook(_hook(tuple(job["blocked"]), _library_roots(), refused))
    signal.signal(signal.SIGALRM, _out_of_time)

    def write(entry: dict) -> None:
        results.write(json.dumps(entry, allow_nan=True) + "\n")
        results.flush()

    cell_errors = {}
    for cell in job["cells"]:
        error = f"the cell did not finish within {timeout:.0f} s"
        with _time_limit(timeout):
            try:
                exec(compile(cell["source"], f"<cell {cell['id'] or 'added'}>", "exec"), namespace)
                error = None
            except _OutOfTime:
                raise
            except BaseException as exception:  # noqa: BLE001  (a cell's failure is reported)
                error = f"{type(exception).__name__}: {exception}"[:300]
        cell_errors[cell["id"]] = error
        write({"kind": "cell", "id": cell["id"], "error": error})
    for part in job["parts"]:
        answer = namespace.get(part["name"])
        if not callable(answer):
            failed = cell_errors.get(part["name"])
            write({"kind": "missing", "part": part["name"], "error": (
                f"the answer cell defined no function {part['name']}"
                + (f" (it raised {failed})" if failed else ""))})
            continue
        with _time_limit(timeout):
            for case_id, calls in inputs[part["name"]]:
                refused.clear()
                try:
                    result = run_calls(answer, calls)
                except _OutOfTime:
                    result = {"results": {}, "unchanged": True,
                              "error": f"did not finish within {timeout:.0f} s."}
                    write({"kind": "case", "part": part["name"], "case": case_id,
                           "result": {**result, "refused": []}})
                    break
                write({"kind": "case", "part": part["name"], "case": case_id,
                       "result": {**result, "refused": sorted(set(refused))}})
    results.close()


class _OutOfTime(BaseException):
    """Raised in the answer when its time is up (a BaseException: ``except Exception`` in the
    answer does not swallow it)."""


def _out_of_time(signum, frame):
    raise _OutOfTime


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _OutOfTime:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _hook(blocked: tuple[str, ...], roots: tuple[str, ...], refused: list[str]) -> Callable:
    """The audit hook: bertlab's code and the rest of the machine are out of reach."""

    def inside(path: str, folders: tuple[str, ...]) -> bool:
        return any(path == folder or path.startswith(folder + os.sep) for folder in folders)

    def hook(event: str, args: tuple) -> None:
        if event == "import":
            name = str(args[0])
            if name == "bertlab" or name.startswith("bertlab."):
                refused.append(name)
                raise ImportError(f"{name} cannot be imported where answers are graded")
        elif event == "open":
            path, mode, flags = args
            if isinstance(path, int):
                return  # an already open descriptor
            if (mode and any(letter in str(mode) for letter in "wax+")) or (
                    flags and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)):
                raise PermissionError("answers may not write files while they are graded")
            where = os.path.realpath(os.fsdecode(path))
            if inside(where, blocked):
                refused.append(where)
            if inside(where, blocked) or not inside(where, roots):
                raise PermissionError(f"answers may not read {where} while they are graded")
        elif event.startswith(_REFUSED_EVENTS):
            raise PermissionError(f"{event} is not allowed while answers are graded")

    return hook


def _library_roots() -> tuple[str, ...]:
    """Python's own folders (the standard library and site-packages), where imports read."""
    import site
    import sysconfig

    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
               *site.getsitepackages(), *sysconfig.get_paths().values()}
    return tuple(sorted({os.path.realpath(folder) for folder in folders if folder}))


def _remove_native_readers() -> None:
    """numpy and torch functions that read a file in C, without Python's audited ``open``."""
    import numpy as np
    import torch

    def refused(*args, **kwargs):
        raise PermissionError("reading files is not allowed while answers are graded")

    owners = [np, torch, torch.UntypedStorage, torch.TypedStorage]
    owners += [module for name in ("numpy._core.multiarray", "numpy._core._multiarray_umath")
               if (module := sys.modules.get(name)) is not None]
    for owner in owners:
        for name in ("fromfile", "from_file"):
            if hasattr(owner, name):
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(owner, name, refused)


def _attention_class(path: str) -> type:
    """bertlab's `Attention`, from its own file (which imports nothing of bertlab)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("attention", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module.Attention


def _decoded(value: Any, attention_class: type) -> Any:
    import pandas as pd

    if isinstance(value, dict):
        if set(value) == {"__attention__"}:
            return attention_class(**{k: _decoded(v, attention_class)
                                      for k, v in value["__attention__"].items()})
        if set(value) == {"__series__"}:
            index, values, dtype = value["__series__"]
            return pd.Series(values.numpy(), index=index, dtype=dtype)
        return {key: _decoded(item, attention_class) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_decoded(item, attention_class) for item in value)
    return value


if __name__ == "__main__":
    _main(sys.argv[1])

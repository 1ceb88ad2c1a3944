"""Answers run apart from the notebook: what the process allows, refuses, and reports.

Runtime: about 5 s a test (each starts a Python and imports torch).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import bertlab
from bertlab.course.isolated import encode, run_calls, run_isolated

BERTLAB_FOLDER = str(Path(bertlab.__file__).parent)
ADD = "def add(x, y):\n    return x + y\n"


def _run(*sources: str, timeout: float = 20, calls=None) -> dict:
    calls = calls or {"": ((torch.ones(2), torch.ones(2)), {})}
    job = {"setup": ["import math", "import torch"], "constants": {"LIMIT": 0.5},
           "cells": [{"id": "add" if i == len(sources) - 1 else None, "source": source}
                     for i, source in enumerate(sources)],
           "parts": [{"name": "add", "cases": [{"id": "c1", "calls": encode(calls)}]}]}
    return run_isolated(job, timeout, blocked=[BERTLAB_FOLDER])


def _case(found: dict) -> dict:
    return found["parts"]["add"]["cases"]["c1"]


def test_an_answer_runs_and_returns_plain_results_like_the_preview():
    found = _case(_run(ADD))
    preview = run_calls(lambda x, y: x + y, {"": ((torch.ones(2), torch.ones(2)), {})})
    assert found["results"] == preview["results"] == {"": [2.0, 2.0]}
    assert found["error"] is None and found["unchanged"] is True


@pytest.mark.parametrize("body, refused", [
    ("import bertlab.metrics\n    return x", True),
    ("import importlib\n    return importlib.import_module('bert' + 'lab').x", True),
    (f"exec(open({BERTLAB_FOLDER + '/metrics.py'!r}).read())\n    return x", True),
    ("open('/tmp/stash.txt', 'w').write('x')\n    return x", False),
    ("import subprocess\n    return subprocess.run(['true'])", False),
    ("import numpy\n    return numpy.fromfile('/etc/hostname')", False),
])
def test_bertlab_files_and_other_processes_are_out_of_reach(body, refused):
    found = _case(_run(f"def add(x, y):\n    {body}\n"))
    assert found["error"] is not None
    assert bool(found["refused"]) is refused


def test_the_setup_constants_are_given_and_the_notebook_data_is_not():
    assert _case(_run("def add(x, y):\n    return x * LIMIT\n"))["results"] == {"": [0.5, 0.5]}
    error = _case(_run("def add(x, y):\n    return lm\n"))["error"]
    assert "NameError" in error and "apart from the notebook" in error


def test_a_written_input_is_reported_and_an_endless_loop_stopped():
    assert _case(_run("def add(x, y):\n    x += 1\n    return x\n"))["unchanged"] is False
    found = _case(_run("def add(x, y):\n    while True:\n        pass\n", timeout=2))
    assert "did not finish within 2 s" in found["error"]


def test_a_broken_answer_cell_is_named_and_other_cells_still_run():
    found = _run("import bertlab", "x = 1", "def oops(:\n    pass")
    assert "SyntaxError" in found["parts"]["add"]["missing"]
    assert [cell["error"] is None for cell in found["cells"]] == [False, True, False]


# --- the notebook's preview says in advance what the runner will not give ----------------------

def _notebook(source: str, **data) -> dict:
    """The namespace of a notebook whose setup defined `data` and whose cells ran `source`."""
    import math

    namespace = {"__name__": "__main__", "math": math, "torch": torch, "LIMIT": 0.5, **data}
    exec(source, namespace)
    return namespace


@pytest.mark.parametrize("source, flagged", [
    ("def add(x, y):\n    return x * LIMIT + math.pi * torch.ones(1)\n", {}),
    ("def add(x, y):\n    return x + CLS_ID\n", {"CLS_ID": "the setup cell's data"}),
    ("def helper(x):\n    return x + CLS_ID\n\ndef add(x, y):\n    return helper(x) + y\n",
     {"CLS_ID": "the setup cell's data"}),
    ("class Rule:\n    def apply(self, x):\n        return [x + v for v in CLS_ID]\n\n"
     "def add(x, y):\n    return Rule().apply(x)\n", {"CLS_ID": "the setup cell's data"}),
    ("def add(x, y):\n    return bertlab.metrics.entropy(x)\n", {"bertlab": "from bertlab"}),
    ("from bertlab.course.parts import close\ndef add(x, y):\n    return close(x, y)\n",
     {"close": "from bertlab"}),
    ("OFFSET = 2.0\ndef add(x, y):\n    return x + y + OFFSET\n", {}),
])
def test_the_preview_names_what_the_runner_will_not_give(source, flagged):
    from bertlab.course.checking import names_not_given

    namespace = _notebook(source, CLS_ID=101, bertlab=bertlab)
    assert names_not_given(namespace["add"], frozenset({"CLS_ID"})) == flagged
    # ... and the runner agrees: what the preview flags fails there, the rest runs.
    found = _case(_run(source.replace("from bertlab.course.parts import close\n", "")))
    assert (found["error"] is not None) is bool(flagged), found


def test_a_value_a_cell_computed_from_the_setup_data_is_named(monkeypatch):
    """A cell of the student's that reads the setup's data fails where the runner re-runs it:
    the preview reads the cell from IPython's history and names what it was computed from."""
    import types

    from bertlab.course.checking import names_not_given

    history = ["import torch", "N_LAYERS = lm.n_layers", "SCALE = 2.0",
               "def add(x, y):\n    return x * N_LAYERS + y * SCALE"]
    shell = types.SimpleNamespace(user_ns={"In": history})
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    namespace = _notebook("N_LAYERS = 6\nSCALE = 2.0\n" + history[-1])
    assert names_not_given(namespace["add"], frozenset({"lm"})) == {
        "N_LAYERS": "computed from lm in the cell that defines it"}


def test_a_value_a_cell_computed_with_bertlab_is_named(monkeypatch):
    """A cell that imports bertlab, or reads a bertlab object the setup imported (`course`, not
    setup data), fails where the runner re-runs it too; a cell that reads neither passes."""
    import types

    from bertlab import course
    from bertlab.course.checking import names_not_given

    history = ["from bertlab.course.assignments.extract_and_score import TEXTS\n"
               "N_TEXTS = len(TEXTS)",
               "N_LAYERS = course.model().n_layers",
               "import bertlab as b\nUNIFORM = b.__name__",
               "SCALE = 2.0",
               "def add(x, y):\n    return x * N_TEXTS + y * N_LAYERS + len(UNIFORM) * SCALE"]
    shell = types.SimpleNamespace(user_ns={"In": history})
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    namespace = _notebook("N_TEXTS = 4\nN_LAYERS = 6\nUNIFORM = 'b'\nSCALE = 2.0\n"
                          + history[-1], course=course)
    assert names_not_given(namespace["add"], frozenset({"lm"})) == {
        "N_TEXTS": "computed from bertlab in the cell that defines it",
        "N_LAYERS": "computed from course in the cell that defines it",
        "UNIFORM": "computed from bertlab in the cell that defines it"}

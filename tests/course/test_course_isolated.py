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
    job = {"setup": ["import torch"], "constants": {"LIMIT": 0.5},
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

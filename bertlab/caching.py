"""Results kept on disk between processes, keyed by everything they depend on.

Book chapter: "Claims scorecard". The book's chapters run in separate kernels, and several of them
(and the scorecard) decide claims on the same measurements of the same models; `on_disk` lets the
second kernel read what the first computed instead of running the model again.

The key of a result hashes, with the function's name and its other arguments:

* the **model**: its name, class, configuration and a hash of every weight (`model_fingerprint`);
* the **code**: the function's module and every bertlab module it imports
  (`bertlab.sources.code_fingerprint`, docstrings and comments left out), and the shipped data
  files (`data_fingerprint`), so a change to any measurement, rule or text gives a new key;
* the versions of torch, transformers, numpy, pandas and scikit-learn.

Nothing is ever invalidated by hand: a result that could differ has another key. Results live in
``$BERTLAB_CACHE/results/`` (default ``~/.cache/bertlab``, beside the model zoo); set
``BERTLAB_RESULTS_CACHE=0`` to compute everything afresh.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import torch
import transformers

from .sources import code_fingerprint

__all__ = ["on_disk", "data_fingerprint", "model_fingerprint", "results_dir"]

_PACKAGE = Path(__file__).resolve().parent


def results_dir() -> Path:
    """``$BERTLAB_CACHE/results`` (default ``~/.cache/bertlab/results``)."""
    root = os.environ.get("BERTLAB_CACHE") or Path.home() / ".cache" / "bertlab"
    return Path(root) / "results"


@functools.cache
def data_fingerprint() -> str:
    """A hash of the shipped data files (``bertlab/data``), in path order."""
    digest = hashlib.sha256()
    for path in sorted((_PACKAGE / "data").rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(_PACKAGE)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def model_fingerprint(lm) -> str:
    """A hash of a `LoadedModel`'s name, class, configuration and weights, computed afresh on
    every call (a model trained further in place gets a new one)."""
    model = lm.model
    digest = hashlib.sha256(f"{lm.name}|{type(model).__name__}|{model.config.to_json_string()}"
                            .encode())
    for key, tensor in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _versions() -> dict:
    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "numpy": np.__version__, "pandas": pd.__version__, "sklearn": sklearn.__version__}


def on_disk(function: Callable) -> Callable:
    """Decorate ``function(lm, *args)`` so that its result is read from disk when a result for
    the same function, model, arguments, code and versions is there, and written otherwise.

    The arguments after `lm` must have a stable ``repr`` (numbers, strings, booleans). Within a
    process the result is also kept in memory (by the same key), so repeated calls return the
    same object.
    """
    in_memory: dict[str, object] = {}
    signature = inspect.signature(function)

    def cached(lm, *args, **kwargs):
        if os.environ.get("BERTLAB_RESULTS_CACHE", "1") == "0":
            return function(lm, *args, **kwargs)
        bound = signature.bind(lm, *args, **kwargs)
        bound.apply_defaults()
        args = tuple(bound.arguments.values())[1:]         # every argument after lm, in order
        identity = {"function": f"{function.__module__}.{function.__qualname__}",
                    "model": model_fingerprint(lm), "args": repr(args),
                    "code": code_fingerprint(function.__module__), "data": data_fingerprint(),
                    **_versions()}
        key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        if key in in_memory:
            return in_memory[key]
        path = results_dir() / f"{function.__name__}-{key}.pkl"
        if path.is_file():
            in_memory[key] = pickle.loads(path.read_bytes())
            return in_memory[key]
        result = in_memory[key] = function(lm, *args)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as staging:
            staging.write(pickle.dumps(result))
        os.replace(staging.name, path)       # appears in one step: never half written
        return result

    functools.update_wrapper(cached, function)
    return cached

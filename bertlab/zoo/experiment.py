"""The fine-tuning experiment: what attention looks like in healthy, overfit and broken models.

Book chapter: "The fine-tuning experiment" (and "Fine-tuned and overfit models", which builds on
it). For every recipe and seed, on the held-out test split of the reviews:

* per (layer, head): [CLS] / [SEP] / special shares, entropy, normalised entropy, and drift from
  the base model (Jensen–Shannon divergence of attention rows, cosine of flattened maps);
* per model: train / validation / test accuracy and loss (train and validation as the training
  curves recorded them for the kept epoch), the generalisation gap (train − test), and the
  held-out evidence `bertlab.diagnose` uses (chance, confidence, confidence gap).

`results()` computes all of it once (building each missing model right before measuring it) and
caches the tables as CSV next to the zoo models; the book reads the cache and never retrains. The diagnosis verdicts are recomputed from the cached
tables (`ExperimentResults.diagnoses`), so they always follow the current thresholds.

Held out while `bertlab.diagnose`'s thresholds were chosen: seed 2 of every recipe, the whole
`overfit-reinit` recipe, and the probe recipes (other hyper-parameters).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from tqdm.auto import tqdm

from ..datasets import load_reviews
from ..diagnosis import attention_signals, classifier_evidence, decide
from ..drift import DRIFT_METRICS
from ..loading import LoadedModel
from ..loading import load as load_base
from ..extraction import iter_encoded
from ..roles import MAJORITY, relative_depth
from .cache import build, cache_dir, history, key, load, longest_first
from .recipes import PROBE_RECIPES, RECIPES, ZOO_RECIPES
from ..sources import code_fingerprint
from .training import torch_threads
from .workers import in_processes

__all__ = ["SEEDS", "RULE_SEEDS", "HELD_OUT_SEEDS", "HELD_OUT_RECIPES", "EXPERIMENT_RECIPES",
           "EVIDENCE", "ExperimentResults", "results", "run", "spread", "tables_key", "model_summary",
           "concentrated_heads", "profile_distance", "uniform_special_share", "TOP_CHANGED"]

SEEDS = (0, 1, 2)
#: diagnose's thresholds were read off these seeds of the non-held-out recipes ...
RULE_SEEDS = (0, 1)
#: ... and checked on these, and on every seed of `HELD_OUT_RECIPES`.
HELD_OUT_SEEDS = (2,)
HELD_OUT_RECIPES = ("overfit-reinit", *PROBE_RECIPES)
EXPERIMENT_RECIPES = (*ZOO_RECIPES, *PROBE_RECIPES)

#: What `diagnose` is given, from least to most: the five columns of `ExperimentResults.diagnoses`.
EVIDENCE = ("attention", "attention + base", "attention + labelled", "attention + base + labelled",
            "all + training data")


@dataclass(frozen=True)
class ExperimentResults:
    """The experiment's tidy tables.

    `models`: one row per (recipe, seed): intended, ``{split}_accuracy`` / ``{split}_loss`` for
    train, validation, test; accuracy_gap, loss_gap (train − test); and the test-split evidence
    of `bertlab.diagnosis.classifier_evidence` as ``test_<key>``.
    `heads`: one row per (recipe, seed, layer, head) with the attention signals and drift.
    `base_heads`: the same signals (no drift) for the pretrained model itself.
    """

    models: pd.DataFrame
    heads: pd.DataFrame
    base_heads: pd.DataFrame

    @property
    def layers(self) -> pd.DataFrame:
        """`heads` averaged over heads: one row per (recipe, seed, layer)."""
        return (self.heads.drop(columns="head")
                .groupby(["recipe", "seed", "layer"], as_index=False, sort=False).mean())

    @property
    def base_layers(self) -> pd.DataFrame:
        return self.base_heads.drop(columns="head").groupby("layer", as_index=False).mean()

    def diagnoses(self) -> pd.DataFrame:
        """`bertlab.diagnose`'s verdict for every model under each kind of `EVIDENCE`.

        One row per (recipe, seed): intended, held_out (True where neither its seed nor its recipe
        was used to choose the thresholds), then one verdict column per kind of evidence.
        """
        layers = self.layers
        rows = []
        for model in self.models.itertuples(index=False):
            signals = layers[(layers.recipe == model.recipe) & (layers.seed == model.seed)]
            no_drift = signals.drop(columns=list(DRIFT_METRICS))
            labelled = {k.removeprefix("test_"): v for k, v in model._asdict().items()
                        if k.startswith("test_")}
            with_training = {**labelled, "train_accuracy": model.train_accuracy,
                             "generalisation_gap": model.accuracy_gap}
            verdicts = [decide(no_drift, {})[0], decide(signals, {})[0],
                        decide(no_drift, labelled)[0], decide(signals, labelled)[0],
                        decide(signals, with_training)[0]]
            held_out = model.seed in HELD_OUT_SEEDS or model.recipe in HELD_OUT_RECIPES
            rows.append({"recipe": model.recipe, "seed": model.seed, "intended": model.intended,
                         "held_out": held_out, **dict(zip(EVIDENCE, verdicts))})
        return pd.DataFrame(rows)


def spread(table: pd.DataFrame, by: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """Mean, standard deviation, min and max over seeds of each metric, per group `by`.

    Columns: `by`, then ``<metric>_mean``, ``<metric>_std``, ``<metric>_min``, ``<metric>_max``.
    """
    grouped = table.groupby(list(by), sort=False)[list(metrics)].agg(["mean", "std", "min", "max"])
    grouped.columns = [f"{metric}_{stat}" for metric, stat in grouped.columns]
    return grouped.reset_index()


#: The top of the stack that fine-tuning is known to change most, by relative depth: Kovaleva et
#: al. (2019) found the last two of BERT-base's twelve layers changed most, the top sixth.
TOP_CHANGED = 5 / 6


@functools.cache
def uniform_special_share() -> float:
    """The special-token share of evenly spread attention on the reviews' test split: the mean
    over texts of (special tokens / tokens), from the tokenizer alone (2 of n tokens)."""
    shares = []
    for batch in iter_encoded(_base(), load_reviews("test").text.tolist()):
        masks = batch.masks
        shares += (masks.special.sum(dim=1) / masks.valid.sum(dim=1)).tolist()
    return sum(shares) / len(shares)


def concentrated_heads(experiment: ExperimentResults) -> pd.DataFrame:
    """Share of (layer, head) pairs whose special share exceeds what uniform attention gives the
    special tokens (`uniform_special_share`) by more than `MAJORITY`, per (recipe, seed).

    Columns: recipe, seed, concentrated_heads. `MAJORITY` (0.5, `bertlab.roles`) is the bar of
    the role labels too, so a chapter and a claim never disagree on what "concentrated" means.
    """
    excess = experiment.heads.special_share - uniform_special_share()
    heads = experiment.heads.assign(concentrated=excess > MAJORITY)
    return (heads.groupby(["recipe", "seed"], as_index=False, sort=False).concentrated.mean()
            .rename(columns={"concentrated": "concentrated_heads"}))


def profile_distance(experiment: ExperimentResults, below: float = 1.0) -> pd.DataFrame:
    """Largest per-layer gap in special_share between each model and the pretrained base, over
    the layers whose relative depth is below `below` (1: all layers).

    Columns: recipe, seed, profile_distance (max over those layers of |model − base|).
    """
    base = experiment.base_layers.set_index("layer").special_share
    layers = experiment.layers
    n_layers = int(layers.layer.max()) + 1
    layers = layers[relative_depth(layers.layer, n_layers) < below]
    gaps = (layers.special_share - layers.layer.map(base)).abs()
    return (layers.assign(profile_distance=gaps).groupby(["recipe", "seed"], as_index=False,
                                                         sort=False).profile_distance.max())


def model_summary(experiment: ExperimentResults) -> pd.DataFrame:
    """One row per (recipe, seed): accuracies, gaps, concentrated heads, profile distance (all
    layers, and below the top sixth, `TOP_CHANGED`) and peak_special_share (the highest
    per-layer special-token share)."""
    peak = (experiment.layers.groupby(["recipe", "seed"], as_index=False, sort=False)
            .special_share.max().rename(columns={"special_share": "peak_special_share"}))
    below_top = profile_distance(experiment, below=TOP_CHANGED).rename(
        columns={"profile_distance": "profile_distance_below_top"})
    return (experiment.models.merge(concentrated_heads(experiment), on=["recipe", "seed"])
            .merge(profile_distance(experiment), on=["recipe", "seed"])
            .merge(below_top, on=["recipe", "seed"]).merge(peak, on=["recipe", "seed"]))


def results(*, progress: bool = True, jobs: int = 1) -> ExperimentResults:
    """The experiment over `EXPERIMENT_RECIPES` × `SEEDS`, from the cache or computed once."""
    folder = cache_dir() / f"experiment-{tables_key()}"
    tables = {name: folder / f"{name}.csv" for name in ("models", "heads", "base_heads")}
    if all(path.is_file() for path in tables.values()):
        return ExperimentResults(**{name: pd.read_csv(path) for name, path in tables.items()})
    computed = run(EXPERIMENT_RECIPES, SEEDS, progress=progress, jobs=jobs)
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in tables.items():
        getattr(computed, name).to_csv(path, index=False)
    return computed


def run(recipes: Sequence[str] = EXPERIMENT_RECIPES, seeds: Sequence[int] = SEEDS, *,
        progress: bool = True, jobs: int = 1) -> ExperimentResults:
    """Build (or load) every model and measure it, `jobs` models at a time in their own
    processes, each model right after it is built and the longest builds first (so that the
    workers finish together); nothing is cached here (see `results`)."""
    runs = [(recipe, seed) for seed in seeds for recipe in recipes]
    with torch_threads():  # measured like it is trained: one thread (see training.THREADS)
        base_heads = attention_signals(_base(), load_reviews("test").text.tolist())
    start, measured = time.perf_counter(), {}
    for (recipe, seed), (row, heads, built, measuring) in in_processes(
            _measure, longest_first(runs), jobs=jobs, desc="experiment", progress=progress):
        measured[recipe, seed] = row, heads
        if progress:
            tqdm.write(f"{recipe} seed {seed}: built in {built:.1f} s (0 if it was cached), "
                       f"measured in {measuring:.1f} s")
    if progress:
        tqdm.write(f"{len(runs)} model(s) built and measured in "
                   f"{time.perf_counter() - start:.0f} s, {jobs} at a time")
    models = [measured[model][0] for model in runs]
    heads = pd.concat([measured[model][1] for model in runs], ignore_index=True)
    heads = heads[["recipe", "seed", *[c for c in heads if c not in ("recipe", "seed")]]]
    return ExperimentResults(models=pd.DataFrame(models), heads=heads, base_heads=base_heads)


def _measure(model: tuple[str, int]) -> tuple[dict, pd.DataFrame, float, float]:
    """One model's row of `models`, its rows of `heads`, and the seconds spent building it (0 if
    it was cached) and measuring it (in a worker process when jobs > 1)."""
    recipe, seed = model
    test = load_reviews("test")
    start = time.perf_counter()
    build(recipe, seed, progress=False)
    built = time.perf_counter() - start
    with torch_threads():
        lm = load(recipe, seed, progress=False)
        row = _model_row(lm, recipe, seed, test)
        heads = (attention_signals(lm, test.text.tolist(), base=_base())
                 .assign(recipe=recipe, seed=seed))
    return row, heads, built, time.perf_counter() - start - built


@functools.cache
def _base() -> LoadedModel:
    """The pretrained model, loaded once per process."""
    return load_base()


def _model_row(lm: LoadedModel, recipe: str, seed: int, test: pd.DataFrame) -> dict:
    """Train and validation numbers from the training curves (the kept epoch was evaluated on
    both splits, in eval mode, by `bertlab.classification`, so measuring again would repeat
    it), and the test split's held-out evidence."""
    curves = history(recipe, seed, progress=False)
    kept = curves[curves.kept].iloc[0]
    row = {"recipe": recipe, "seed": seed, "intended": RECIPES[recipe].intended}
    for split in ("train", "validation"):
        row |= {f"{split}_{name}": float(kept[f"{split}_{name}"]) for name in ("accuracy", "loss")}
    evidence = classifier_evidence(lm, test)
    row |= {"test_accuracy": evidence["accuracy"], "test_loss": evidence["loss"]}
    row |= {f"test_{name}": value for name, value in evidence.items()
            if name not in ("accuracy", "loss")}
    row["accuracy_gap"] = row["train_accuracy"] - row["test_accuracy"]
    row["loss_gap"] = row["test_loss"] - row["train_loss"]
    return row


def tables_key() -> str:
    """Hash of every model's cache key, of the test texts and of the code that measures them
    (this module and every bertlab module it imports): a change to any of them recomputes.

    It names the whole cache the experiment needs (`python -m bertlab.zoo key` prints it)."""
    identity = {"models": [key(r, s) for r in EXPERIMENT_RECIPES for s in SEEDS],
                "test": hashlib.sha256(load_reviews("test").to_csv().encode()).hexdigest(),
                "code": code_fingerprint(__name__)}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]

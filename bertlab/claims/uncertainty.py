"""Intervals for the numbers that decide a claim: a bootstrap over texts, a t-interval over seeds.

Book chapter: "Claims scorecard" (how a verdict allows for uncertainty).

**Over texts.** A corpus statistic (a share averaged over the reviews, the layer where it peaks,
a correlation over layers, Cohen's d between two groups of pairs) is recomputed on
`N_RESAMPLES` resamples of the texts, drawn with replacement (`SEED` fixed), and the 95 %
interval is the 2.5th to 97.5th percentile of the resampled values (the percentile bootstrap).
Nothing is recomputed by the model: every statistic is written as a function of *weights over
texts* ``[resample, text]`` (`weighted_mean`), applied once to a single row of ones (the value
itself) and once to the matrix of how often each text was drawn (all resamples at once).
2,000 resamples put the Monte-Carlo error of a 2.5 % percentile well below 0.005 for the shares
here, so the interval's two decimals do not depend on the seed (a test checks this).

**Over training seeds.** A zoo statistic is measured once per fine-tuned model; three seeds give
three numbers, and a bootstrap over three values can only produce 10 distinct resamples. The
interval is Student's t instead: mean ± t(0.975, n − 1) · s / √n (t = 4.30 for n = 3), and for a
difference between two recipes, Welch's interval. It assumes the seed-to-seed spread is roughly
normal, and with three seeds it is wide: it decides only differences that are large against the
spread between seeds.

>>> texts = np.array([0.2, 0.4, 0.6, 0.8])
>>> estimate = bootstrap(lambda w: weighted_mean(w, texts), n_texts=4)
>>> round(estimate.value, 2), estimate.low < 0.5 < estimate.high
(0.5, True)
>>> t_interval([0.80, 0.82, 0.84]).low < 0.80
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..errors import InputError

__all__ = ["N_RESAMPLES", "SEED", "LEVEL", "Estimate", "bootstrap", "weighted_mean",
           "resample_counts", "t_interval", "welch_interval", "exact"]

#: Resamples per bootstrap (enough for two stable decimals, see the module doc).
N_RESAMPLES = 2000
#: The seed of every bootstrap: the same intervals on every build.
SEED = 0
#: The confidence level of every interval.
LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """A number with its 95 % interval and how the interval was obtained."""

    value: float
    low: float
    high: float
    method: str

    def __post_init__(self):
        for name in ("value", "low", "high"):
            object.__setattr__(self, name, float(getattr(self, name)))


def resample_counts(n_texts: int, n_resamples: int = N_RESAMPLES, seed: int = SEED,
                    strata: Sequence | None = None) -> np.ndarray:
    """``[resample, text]``: how often each text is drawn in each resample (rows sum to n).

    With `strata` (one label per text), texts are drawn within their stratum, so every resample
    keeps the groups' sizes (for comparisons between groups, e.g. true and random pairs).
    """
    key = None if strata is None else tuple(np.asarray(strata).tolist())
    return _counts(n_texts, n_resamples, seed, key).copy()


@functools.lru_cache(maxsize=16)
def _counts(n_texts: int, n_resamples: int, seed: int, strata: tuple | None) -> np.ndarray:
    """The same resamples for every statistic on the same texts (computed once per corpus)."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_resamples, n_texts))
    groups = [np.arange(n_texts)] if strata is None else [
        np.flatnonzero(np.asarray(strata) == label) for label in np.unique(strata)]
    for members in groups:
        drawn = rng.integers(0, len(members), size=(n_resamples, len(members)))   # [R, n_g]
        for row in range(n_resamples):
            counts[row] += np.bincount(members[drawn[row]], minlength=n_texts)
    return counts


def weighted_mean(weights: np.ndarray, values: np.ndarray, where: np.ndarray | None = None
                  ) -> np.ndarray:
    """Mean over texts with `weights` ``[R, N]`` (or ``[N]``) of `values` ``[N, ...]``, over the
    texts in `where` (bool ``[N]``) only: ``[R, ...]`` (or ``[...]``). NaN values are left out."""
    weights = np.asarray(weights, dtype=float)
    if where is not None:
        weights = weights * np.asarray(where, dtype=float)
    values = np.asarray(values, dtype=float)
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0).reshape(len(values), -1)            # [N, X]
    mask = present.reshape(len(values), -1).astype(float)                     # [N, X]
    total = weights @ filled                                                   # [R, X]
    count = weights @ mask                                                     # [R, X]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return mean.reshape(weights.shape[:-1] + values.shape[1:])


def bootstrap(statistic: Callable[[np.ndarray], np.ndarray], n_texts: int, *,
              strata: Sequence | None = None, what: str = "texts") -> Estimate:
    """`statistic` (a function of text weights, see the module doc) with its percentile interval.

    ``statistic(np.ones((1, n_texts)))[0]`` is the value; ``statistic(counts)`` for the
    ``[R, N]`` resample counts gives the ``[R]`` resampled values.
    """
    if n_texts < 2:
        raise InputError(f"A bootstrap needs at least two {what}, got {n_texts}.")
    value = float(np.asarray(statistic(np.ones((1, n_texts))), dtype=float).reshape(-1)[0])
    resampled = np.asarray(statistic(_counts(n_texts, N_RESAMPLES, SEED, None if strata is None
                                             else tuple(np.asarray(strata).tolist()))), dtype=float)
    resampled = resampled[~np.isnan(resampled)]
    low, high = np.percentile(resampled, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    kind = "stratified " if strata is not None else ""
    return Estimate(value, low, high,
                    f"{kind}percentile bootstrap over {n_texts} {what}, {N_RESAMPLES} resamples")


def t_interval(values: Sequence[float], what: str = "seeds") -> Estimate:
    """Mean of `values` (one per seed) with Student's t interval."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        raise InputError(f"A t interval needs at least two {what}, got {len(values)}.")
    mean, half = values.mean(), _t(len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return Estimate(mean, mean - half, mean + half,
                    f"Student's t over {len(values)} {what}")


def welch_interval(a: Sequence[float], b: Sequence[float], what: str = "seeds") -> Estimate:
    """Difference of means ``mean(a) − mean(b)`` with Welch's t interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if min(len(a), len(b)) < 2:
        raise InputError(f"Welch's interval needs at least two {what} per side.")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    difference, se = a.mean() - b.mean(), np.sqrt(va + vb)
    if se == 0:
        return Estimate(difference, difference, difference,
                        f"Welch's t over {len(a)} and {len(b)} {what} (no spread)")
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = _t(dof) * se
    return Estimate(difference, difference - half, difference + half,
                    f"Welch's t over {len(a)} and {len(b)} {what}")


def exact(value: float, why: str) -> Estimate:
    """A number with no sampling uncertainty (a count of the model's own layers, say): its
    interval is the value itself, and `why` says why."""
    return Estimate(value, value, value, f"exact: {why}")


def _t(dof: float) -> float:
    return float(stats.t.ppf((1 + LEVEL) / 2, dof))

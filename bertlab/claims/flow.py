"""Claims C2, C4, C5 and C10 judged by information flow, not by attention weights alone.

Book chapter: "Does information really flow into [CLS] and [SEP]?". A large weight on [CLS] or
[SEP] does not prove that anything flows there. This module measures, on the shipped reviews
(test split) and sentence pairs (test split):

* weight share vs norm-based share (Kobayashi et al. 2020) of [CLS] / [SEP] / all specials per
  layer (`share_profiles`);
* what the final [CLS] vector is made of under attention rollout (`cls_rollout_summary`);
* what switching off the heads that attend most to [SEP] does, against random heads of the same
  number (`sep_head_ablation`);
* the classifier loss's gradient on attention to [CLS], [SEP] and other tokens (`gradient_profile`).

`checks(lm)` turns those numbers into `ClaimCheck`s with the aspect ``"information flow"``.
Every result is cached per model, so the chapter and the scorecard compute it once.

    [check.claim for check in checks(bertlab.load())]   # ['C2', 'C4', 'C5', 'C10']

(run by the chapter and the scorecard, whose recorded verdicts tests/book/test_book.py re-derives).
"""

from __future__ import annotations

import functools
import math
import statistics

import pandas as pd
import torch

from .. import zoo
from ..datasets import load_pairs, load_reviews
from ..extraction import extract_batch
from ..flow import (ablate_heads, attention_gradients, corpus_norm_scores, cls_rollout,
                    random_heads, top_heads)
from ..loading import LoadedModel, load  # noqa: F401  (load is used by the doctest above)
from ..metrics import corpus_scores, layer_means
from . import ClaimCheck, Condition

__all__ = ["ASPECT", "CHAPTER", "NORM_KEEPS_WEIGHT", "WORD_MAJORITY", "CLOGGED_MAJORITY",
           "CLOGGING_MARGIN", "ABLATION_FRACTION", "N_RANDOM_DRAWS", "N_ABLATION_TEXTS",
           "share_profiles", "cls_rollout_summary", "sep_head_ablation", "gradient_profile",
           "checks"]

ASPECT = "information flow"
CHAPTER = "beyond_attention"

#: A weight share "carries information" when the norm-based share keeps at least half of it.
#: Below half, most of the attention parked on that token moves (almost) nothing: the reading of
#: Kobayashi et al. (2020), whose BERT-base norm shares for [CLS]/[SEP] fell far below this.
NORM_KEEPS_WEIGHT = 0.5

#: An "aggregation of all tokens" into [CLS] should draw most (over half) of the final [CLS]
#: vector's rollout from the words of the text rather than from [CLS] and [SEP] themselves.
WORD_MAJORITY = 0.5

#: "Clogged" flow: in every layer, most (over half) of what the attention sub-layer moves into a
#: token comes from [CLS]/[SEP]/other special tokens (norm-based share).
CLOGGED_MAJORITY = 0.5

#: Two models' shares differ only when they are at least 5 points apart, well above how far one
#: model's share moves between the two halves of the test split (the chapter measures that gap).
CLOGGING_MARGIN = 0.05

#: How many heads an ablation switches off, as a share of all heads (7 of BERT-small's 72,
#: 14 of BERT-base's 144): a targeted cut, well below the 40 % of heads Michel et al. (2019)
#: could prune without loss, so that an effect means the chosen heads matter.
ABLATION_FRACTION = 0.1

#: Random draws of the same number of heads: the control the [SEP] heads are compared with.
N_RANDOM_DRAWS = 8

#: Texts per ablation run (each run is two forward passes per text).
N_ABLATION_TEXTS = 96

_REVIEWS_SPLIT = "test"


def _reviews() -> pd.DataFrame:
    return load_reviews(_REVIEWS_SPLIT)


@functools.lru_cache(maxsize=8)
def share_profiles(lm: LoadedModel, pairs: bool = False) -> pd.DataFrame:
    """Per layer, the weight-based and norm-based [CLS] / [SEP] / special shares (all queries).

    Columns: ``layer``, then ``weight_<metric>`` and ``norm_<metric>`` for ``cls_share``,
    ``sep_share``, ``special_share``. Reviews (one sentence each), or sentence pairs.
    """
    data = load_pairs(_REVIEWS_SPLIT) if pairs else _reviews()
    texts, second = data["text"].tolist(), data["text_pair"].tolist() if pairs else None
    columns = ["cls_share", "sep_share", "special_share"]
    weights = layer_means(corpus_scores(lm, texts, second, progress=False))[columns]
    norms = layer_means(corpus_norm_scores(lm, texts, second, progress=False))[columns]
    return pd.concat([pd.Series(range(lm.n_layers), name="layer"), weights.add_prefix("weight_"),
                      norms.add_prefix("norm_")], axis=1)


@functools.lru_cache(maxsize=8)
def cls_rollout_summary(lm: LoadedModel) -> pd.Series:
    """What the final [CLS] vector is made of under rollout, mean over the reviews.

    ``cls_itself`` (share from the input [CLS]), ``special`` (from all special tokens, [CLS]
    included), ``words`` (from the other tokens), ``effective_fraction`` (``exp(entropy) / n``:
    1 when [CLS] draws evenly on all n tokens, 1/n when on one).
    """
    rows = []
    for att in extract_batch(lm, _reviews()["text"].tolist()):
        drawn = cls_rollout(att).double()                                 # [K]
        special = float(drawn[att.special_mask].sum())
        entropy = float(-torch.special.xlogy(drawn, drawn).sum())
        rows.append({"cls_itself": float(drawn[att.cls_positions[0]]), "special": special,
                     "words": 1 - special, "effective_fraction": math.exp(entropy) / att.n_tokens})
    return pd.DataFrame(rows).mean()


@functools.lru_cache(maxsize=8)
def sep_head_ablation(lm: LoadedModel) -> pd.DataFrame:
    """Switch off the heads with the highest [SEP] weight share, and random heads as a control.

    One row per run: ``run`` ("[SEP] heads off", "[SEP] heads, attention to [SEP] cut",
    "random heads off (draw s)"), then the `AblationEffect` numbers. The heads are chosen from the
    model's own weight table on the reviews; a classifier also reports predictions and accuracy.
    """
    data = _reviews().head(N_ABLATION_TEXTS)
    texts = data["text"].tolist()
    labels = data["label"].tolist() if lm.has_classifier else None
    n_heads = max(1, round(ABLATION_FRACTION * lm.n_layers * lm.n_heads))
    chosen = top_heads(corpus_scores(lm, _reviews()["text"].tolist(), progress=False),
                       "sep_share", n_heads)
    runs = {"[SEP] heads off": (chosen, None), "[SEP] heads, attention to [SEP] cut": (chosen, "sep")}
    for draw in range(N_RANDOM_DRAWS):
        runs[f"random heads off (draw {draw})"] = (random_heads(lm, n_heads, seed=draw,
                                                                exclude=chosen), None)
    rows = []
    for name, (heads, keys) in runs.items():
        effect = ablate_heads(lm, texts, heads, keys=keys, labels=labels, progress=False)
        rows.append({"run": name, "heads": ", ".join(f"{l}.{h}" for l, h in heads),
                     **effect.as_row()})
    return pd.DataFrame(rows)


@functools.lru_cache(maxsize=8)
def gradient_profile(classifier: LoadedModel) -> pd.DataFrame:
    """Per layer, mean ``|∂ loss / ∂ α|`` for attention to [CLS], [SEP] and other tokens."""
    data = _reviews()
    table = attention_gradients(classifier, data["text"].tolist(), data["label"].tolist(),
                                progress=False)
    return layer_means(table)


def _random_median(ablation: pd.DataFrame, column: str) -> float:
    return statistics.median(ablation[ablation["run"].str.startswith("random")][column])


def checks(lm: LoadedModel) -> list[ClaimCheck]:
    """The information-flow checks of C2, C4, C5 and C10 on `lm` and the zoo's seed-0 models."""
    healthy, overfit = zoo.load("healthy", seed=0), zoo.load("overfit", seed=0)
    return [_check_c2(lm), _check_c4(lm, healthy), _check_c5(lm, healthy),
            _check_c10(healthy, overfit)]


def _peak_ratio(profile: pd.DataFrame, metric: str) -> tuple[int, float]:
    """The layer with the highest weight share of `metric`, and norm share / weight share there."""
    peak = int(profile[f"weight_{metric}"].idxmax())
    return peak, float(profile.at[peak, f"norm_{metric}"] / profile.at[peak, f"weight_{metric}"])


def _check_c2(lm: LoadedModel) -> ClaimCheck:
    peak, ratio = _peak_ratio(share_profiles(lm), "sep_share")
    ablation = sep_head_ablation(lm)
    top = float(ablation.set_index("run").at["[SEP] heads off", "cls_cosine_distance"])
    control = _random_median(ablation, "cls_cosine_distance")
    return ClaimCheck("C2", "The attention that heads put on [SEP] carries information.", CHAPTER, (
        Condition(f"norm-based / weight-based [SEP] share in layer {peak} (0-based), the layer "
                  "with the highest [SEP] weight", ratio, ">=", NORM_KEEPS_WEIGHT),
        Condition("switching off the heads that attend most to [SEP] moves the final [CLS] at "
                  "least as far as random heads (ratio of cosine distances, random median)",
                  top / control, ">=", 1.0)), aspect=ASPECT)


def _check_c4(lm: LoadedModel, healthy: LoadedModel) -> ClaimCheck:
    peak, ratio = _peak_ratio(share_profiles(lm), "cls_share")
    return ClaimCheck("C4", "Tokens send their information into [CLS], and the final [CLS] "
                      "aggregates all the tokens.", CHAPTER, (
        Condition(f"norm-based / weight-based [CLS] share in layer {peak} (0-based), the layer "
                  "with the highest [CLS] weight", ratio, ">=", NORM_KEEPS_WEIGHT),
        Condition(f"share of the final [CLS] drawn from the words (rollout), {lm.name}",
                  float(cls_rollout_summary(lm)["words"]), ">=", WORD_MAJORITY),
        Condition(f"share of the final [CLS] drawn from the words (rollout), {healthy.name} "
                  "(whose classifier reads [CLS])",
                  float(cls_rollout_summary(healthy)["words"]), ">=", WORD_MAJORITY)),
        aspect=ASPECT)


def _check_c5(lm: LoadedModel, healthy: LoadedModel) -> ClaimCheck:
    peak, ratio = _peak_ratio(share_profiles(lm, pairs=True), "sep_share")
    gradients = gradient_profile(healthy)
    upper = gradients[gradients["layer"] >= lm.n_layers // 2]
    gradient_ratio = float(upper["sep_gradient"].mean() / upper["other_gradient"].mean())
    return ClaimCheck("C5", "The attention to [SEP], the boundary of a sentence pair, matters in "
                      "the middle and upper layers.", CHAPTER, (
        Condition(f"sentence pairs: norm-based / weight-based [SEP] share in layer {peak} "
                  "(0-based), the layer with the highest [SEP] weight", ratio, ">=",
                  NORM_KEEPS_WEIGHT),
        Condition(f"upper half of {healthy.name}: loss gradient on attention to [SEP] / to "
                  "ordinary tokens", gradient_ratio, ">=", 1.0)), aspect=ASPECT)


def _check_c10(healthy: LoadedModel, overfit: LoadedModel) -> ClaimCheck:
    healthy_special = share_profiles(healthy)["norm_special_share"]
    overfit_special = share_profiles(overfit)["norm_special_share"]
    rollout_gap = (cls_rollout_summary(overfit)["special"]
                   - cls_rollout_summary(healthy)["special"])
    return ClaimCheck("C10", "An overfit model's flow is clogged at [CLS]/[SEP]: its layers move "
                      "mostly special-token content.", CHAPTER, (
        Condition(f"{overfit.name}: lowest norm-based special share over its layers",
                  float(overfit_special.min()), ">=", CLOGGED_MAJORITY),
        Condition(f"{overfit.name} minus {healthy.name}: norm-based special share, mean over "
                  "layers", float(overfit_special.mean() - healthy_special.mean()), ">=",
                  CLOGGING_MARGIN),
        Condition(f"{overfit.name} minus {healthy.name}: share of the final [CLS] drawn from "
                  "special tokens (rollout)", float(rollout_gap), ">=", CLOGGING_MARGIN)),
        aspect=ASPECT)

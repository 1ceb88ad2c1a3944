"""Claims C3, C6 and C10 judged on fine-tuned models: the zoo experiment.

Book chapters: "The fine-tuning experiment" and "Fine-tuned and overfit models". Every number
comes from `bertlab.zoo.experiment.results()` (cached: nothing is retrained here): six zoo recipes
and two probes, three seeds each, measured on the reviews' test split. Values are means over the
seeds; the chapters show the spread beside them.

* **C3** ([CLS]/[SEP] concentration is normal, not a malfunction): a working classifier keeps the
  pretrained model's concentration, and a broken one (`high-lr`) departs from it.
* **C6**, last row (all layers and heads on [CLS]/[SEP] = overfitting or too little diversity):
  are the heads of overfit and low-diversity models more concentrated than a healthy model's, and
  is *every* head concentrated?
* **C10** (freezing or re-initialising layers helps a model with "clogged" attention): do the
  remedies raise the overfit recipe's held-out accuracy, and do they lower its concentration?

The zoo is fine-tuned from the embedded model, so these checks are about that model whatever
`lm` is passed to `checks` (the argument keeps the scorecard's one calling convention).
"""

from __future__ import annotations

import pandas as pd

from ..loading import LoadedModel
from ..roles import MAJORITY
# The experiment's per-model summary lives with the experiment; these names are kept here too.
from ..zoo.experiment import concentrated_heads, model_summary, profile_distance, results
from . import ClaimCheck, Condition

__all__ = ["ASPECT", "CHAPTER", "PROFILE_MARGIN", "ALL_HEADS", "checks", "check_c3", "check_c6",
           "check_c10", "concentrated_heads", "profile_distance", "model_summary"]

ASPECT = "fine-tuned models"
CHAPTER = "finetuned"

# --- Thresholds: where each number comes from --------------------------------------------------
#: Two per-layer special-token profiles are "the same" when no layer differs by more than 0.10:
#: the three seeds of one zoo recipe differ from each other by up to about half that (see the
#: experiment's spread tables), and the pretrained layers span 0.3–0.7.
PROFILE_MARGIN = 0.10
#: "All layers and all heads" read with a little slack: at least 90 % of the (layer, head) pairs.
ALL_HEADS = 0.9
# A head is "concentrated" when more than `MAJORITY` (0.5, bertlab.roles) of its attention goes to
# special tokens (`bertlab.zoo.experiment.concentrated_heads`).


def checks(lm: LoadedModel | None = None) -> list[ClaimCheck]:
    """C3, C6 and C10 from the cached zoo experiment (see the module docstring about `lm`)."""
    summary = model_summary(results(progress=False))
    return [check_c3(summary), check_c6(summary), check_c10(summary)]


def _mean(summary: pd.DataFrame, recipe: str, column: str) -> float:
    return float(summary.loc[summary.recipe == recipe, column].mean())


def check_c3(summary: pd.DataFrame) -> ClaimCheck:
    """C3: concentration is normal. A healthy fine-tuned model keeps it; a broken one loses it."""
    return ClaimCheck("C3", "[CLS]/[SEP] concentration is normal behaviour, not a malfunction: a "
                      "working fine-tuned classifier keeps the pretrained profile, a broken one "
                      "departs from it.", CHAPTER, (
        Condition("healthy recipe: held-out accuracy above chance (test accuracy − majority share)",
                  _mean(summary, "healthy", "test_accuracy") - _mean(summary, "healthy",
                                                                      "test_chance"), ">=", 0.1),
        Condition("healthy recipe: highest per-layer share of attention to special tokens (a "
                  "working classifier still concentrates)",
                  _mean(summary, "healthy", "peak_special_share"), ">", MAJORITY),
        Condition("healthy recipe: largest per-layer gap in special-token share from the "
                  "pretrained model", _mean(summary, "healthy", "profile_distance"), "<=",
                  PROFILE_MARGIN),
        Condition("high-lr (broken) recipe: largest per-layer gap in special-token share from the "
                  "pretrained model", _mean(summary, "high-lr", "profile_distance"), ">",
                  PROFILE_MARGIN),
    ), aspect=ASPECT)


def check_c6(summary: pd.DataFrame) -> ClaimCheck:
    """C6, last row: all layers and heads on [CLS]/[SEP] signals overfitting or low diversity."""
    healthy = _mean(summary, "healthy", "concentrated_heads")
    return ClaimCheck("C6", "When all layers and all heads concentrate on [CLS]/[SEP], the model "
                      "is overfit or was trained on too little input diversity.", CHAPTER, (
        Condition("overfit recipe: share of heads with over half their attention on special "
                  "tokens", _mean(summary, "overfit", "concentrated_heads"), ">=", ALL_HEADS),
        Condition("low-diversity recipe: share of such heads",
                  _mean(summary, "low-diversity", "concentrated_heads"), ">=", ALL_HEADS),
        Condition("overfit minus healthy: share of such heads",
                  _mean(summary, "overfit", "concentrated_heads") - healthy, ">=", PROFILE_MARGIN),
        Condition("low-diversity minus healthy: share of such heads",
                  _mean(summary, "low-diversity", "concentrated_heads") - healthy, ">=",
                  PROFILE_MARGIN),
    ), aspect=ASPECT)


def check_c10(summary: pd.DataFrame) -> ClaimCheck:
    """C10: freezing lower layers or re-initialising top ones helps an overfit model."""
    overfit = summary[summary.recipe == "overfit"]
    seed_spread = float(overfit.test_accuracy.std())  # how much accuracy moves with the seed alone
    conditions = []
    for remedy, what in (("overfit-frozen", "freezing the embeddings and lower half"),
                         ("overfit-reinit", "re-initialising the top layer")):
        conditions.append(Condition(
            f"{what}: held-out accuracy gain over the overfit recipe, against the overfit "
            "recipe's seed-to-seed standard deviation",
            _mean(summary, remedy, "test_accuracy") - _mean(summary, "overfit", "test_accuracy"),
            ">=", round(seed_spread, 3)))
        conditions.append(Condition(
            f"{what}: drop in the share of heads concentrated on special tokens",
            _mean(summary, "overfit", "concentrated_heads")
            - _mean(summary, remedy, "concentrated_heads"), ">=", PROFILE_MARGIN))
    return ClaimCheck("C10", "Freezing layers or re-initialising some during fine-tuning helps a "
                      "model whose attention is clogged on [CLS]/[SEP].", CHAPTER,
                      tuple(conditions), aspect=ASPECT)

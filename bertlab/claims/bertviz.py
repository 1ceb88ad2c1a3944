"""Claim C11: a "[CLS]-concentration layer" next to a "structural layer", chosen by measurement.

Book chapter: "BertViz side by side". The seed offers a Colab cell that shows the two layers in
BertViz; it does not say how to find them. Here both are chosen from one table, the per-layer
means of `bertlab.corpus_scores` over the shipped sentence pairs (`pair_profile`):

* the **[CLS]-concentration layer** is the layer with the highest mean share of attention to [CLS];
* the **structural layer** is the layer with the highest mean share of attention to [SEP]. The seed
  reads [SEP] concentration as "awareness of sentence structure" (its table: "[SEP] concentration
  in the middle layers: the model is aware of the structure"), so its own words give the criterion;
  pairs are the input where a boundary exists to be aware of.

C11 holds when the measurement finds what the offered cell promises (`check_c11`): two different
layers, each with a strong signal of its own, that show different things.

>>> profile = pd.DataFrame({"layer": [0, 1, 2], "cls_share": [0.1, 0.6, 0.2],
...                         "sep_share": [0.1, 0.05, 0.5]})
>>> choice = choose_layers(profile)
>>> (choice.cls_layer, choice.structural_layer, check_c11(choice).verdict)
(1, 2, 'holds')
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..datasets import load_pairs
from ..errors import InputError
from ..loading import LoadedModel
from ..metrics import corpus_scores, layer_means
from ..roles import LEAD_MARGIN, STRONG_SHARE
from . import ClaimCheck, Condition

__all__ = ["CHAPTER", "PAIR_SPLIT", "LayerChoice", "pair_profile", "choose_layers", "checks",
           "check_c11"]

CHAPTER = "bertviz"
#: The pairs the layers are chosen on: the test split of `bertlab.load_pairs` (80 pairs, half of
#: them true next sentences), enough for stable layer means and quick at build time.
PAIR_SPLIT = "test"
# "Strong" is bertlab.roles.STRONG_SHARE (0.3, five times the share evenly spread attention gives
# one key in a text of mean length); two views "differ" when a share differs by at least
# bertlab.roles.LEAD_MARGIN (0.1), the margin the layer-role rules use to call one signal clearly
# ahead of another. Shared constants, so C11 and the layer roles never disagree on these words.


@dataclass(frozen=True)
class LayerChoice:
    """The two layers the BertViz chapter shows (0-based) and the profile they were chosen from.

    ``profile`` has one row per layer (``layer`` 0-based) with at least ``cls_share`` and
    ``sep_share``: means over heads and over the pairs.
    """

    cls_layer: int
    structural_layer: int
    profile: pd.DataFrame

    def share(self, layer: int, metric: str) -> float:
        """The profile's `metric` in `layer` (0-based)."""
        return float(self.profile.set_index("layer").loc[layer, metric])


def pair_profile(lm: LoadedModel, split: str = PAIR_SPLIT) -> pd.DataFrame:
    """One row per layer: `bertlab.METRICS` averaged over heads and over the `split` pairs.

    >>> from bertlab import load
    >>> profile = pair_profile(load())
    >>> len(profile) == load().n_layers and bool(profile["cross_segment_share"].notna().all())
    True
    """
    pairs = load_pairs(split)
    table = corpus_scores(lm, pairs["text"].tolist(), pairs["text_pair"].tolist(),
                          progress=False)                 # one row per (layer, head)
    return layer_means(table)                             # one row per layer


def choose_layers(profile: pd.DataFrame) -> LayerChoice:
    """The [CLS]-concentration layer (highest ``cls_share``) and the structural layer (highest
    ``sep_share``) of a per-layer `profile` such as `pair_profile`'s. Ties go to the lower layer.
    """
    missing = {"layer", "cls_share", "sep_share"} - set(profile.columns)
    if missing:
        raise InputError(f"The profile lacks {sorted(missing)}: pass one row per layer, e.g. "
                         f"bertlab.claims.bertviz.pair_profile(lm).")
    by_layer = profile.set_index("layer")
    return LayerChoice(cls_layer=int(by_layer["cls_share"].idxmax()),
                       structural_layer=int(by_layer["sep_share"].idxmax()),
                       profile=profile.copy())


def check_c11(choice: LayerChoice) -> ClaimCheck:
    """C11: measurement finds a [CLS]-concentration layer and a distinct structural layer."""
    cls_layer, structural = choice.cls_layer, choice.structural_layer
    return ClaimCheck(
        "C11", "A '[CLS]-concentration layer' and a 'structural (boundary) layer' can be shown "
        "side by side in BertViz.", CHAPTER, (
            Condition("mean [CLS] share of the [CLS]-concentration layer (sentence pairs)",
                      choice.share(cls_layer, "cls_share"), ">=", STRONG_SHARE),
            Condition("mean [SEP] share of the structural layer, the layer of highest [SEP] share "
                      "(sentence pairs)", choice.share(structural, "sep_share"), ">=", STRONG_SHARE),
            Condition("distance between the two chosen layers, in layers (0 = the same layer)",
                      abs(cls_layer - structural), ">=", 1),
            Condition("[CLS] share of the [CLS]-concentration layer minus that of the structural "
                      "layer (the two views show different things)",
                      choice.share(cls_layer, "cls_share") - choice.share(structural, "cls_share"),
                      ">=", LEAD_MARGIN),
        ))


def checks(lm: LoadedModel) -> list[ClaimCheck]:
    """The C11 check on `lm` (the scorecard calls this)."""
    return [check_c11(choose_layers(pair_profile(lm)))]

"""Claim C11: a "[CLS]-concentration layer" next to a "structural layer", chosen by measurement.

Book chapter: "BertViz side by side". The seed offers a Colab cell that shows the two layers in
BertViz; it does not say how to find them. Here both are chosen from one table, the per-layer
means of `bertlab.corpus_scores` over the shipped sentence pairs (`pair_profile`):

* the **[CLS]-concentration layer** is the layer with the highest mean share of attention to [CLS];
* the **structural layer** is the layer with the highest mean share of attention to [SEP]. The seed
  reads [SEP] concentration as "awareness of sentence structure" (its table: "[SEP] concentration
  in the middle layers: the model is aware of the structure"), so its own words give the criterion;
  pairs are the input where a boundary exists to be aware of. A layer *is* structural only when
  its [SEP] share beyond uniform attention reaches `bertlab.roles.STRONG_SHARE`
  (`LayerChoice.is_structural`); otherwise it is only the layer where [SEP] gets the most, and the
  book says so instead of calling it structural.

C11 holds when the measurement finds what the offered cell promises (`check_c11`): two different
layers, each with a strong signal of its own (beyond uniform), that show different things. With
the per-pair measures (`pair_texts`), every number gets a bootstrap interval over the pairs, the
layers being chosen again in every resample.

>>> profile = pd.DataFrame({"layer": [0, 1, 2], "cls_share": [0.1, 0.6, 0.2],
...                         "sep_share": [0.1, 0.05, 0.5]})
>>> choice = choose_layers(profile)
>>> (choice.cls_layer, choice.structural_layer, choice.is_structural, check_c11(choice).verdict)
(1, 2, True, 'holds')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..datasets import load_pairs
from ..errors import InputError
from ..caching import on_disk
from ..i18n import Text
from ..loading import LoadedModel
from ..roles import LEAD_MARGIN, STRONG_SHARE, text_measures
from . import ClaimCheck, condition
from .attention import Sample, structured
from .uncertainty import exact, weighted_mean

__all__ = ["CHAPTER", "PAIR_SPLIT", "LayerChoice", "pair_texts", "pair_profile", "choose_layers",
           "checks", "check_c11"]

CHAPTER = "bertviz"
#: The pairs the layers are chosen on: the test split of `bertlab.load_pairs` (80 pairs, half of
#: them true next sentences), enough for stable layer means and quick at build time.
PAIR_SPLIT = "test"
# "Strong" is bertlab.roles.STRONG_SHARE (0.3, five times the share evenly spread attention gives
# one key in a text of mean length), counted beyond uniform attention; two views "differ" when a
# share differs by at least bertlab.roles.LEAD_MARGIN (0.1), the margin the layer-role rules use
# to call one signal clearly ahead of another. Shared constants, so C11 and the layer roles never
# disagree on these words.


@dataclass(frozen=True)
class LayerChoice:
    """The two layers the BertViz chapter shows (0-based) and the profile they were chosen from.

    ``profile`` has one row per layer (``layer`` 0-based) with at least ``cls_share`` and
    ``sep_share`` (means over heads and over the pairs), and the ``uniform_`` baselines of
    `bertlab.roles` when it comes from `pair_profile` (a hand-built one is compared with 0).
    """

    cls_layer: int
    structural_layer: int
    profile: pd.DataFrame

    def share(self, layer: int, metric: str) -> float:
        """The profile's `metric` in `layer` (0-based)."""
        return float(self.profile.set_index("layer").loc[layer, metric])

    def excess(self, layer: int, metric: str) -> float:
        """`metric` in `layer` beyond what uniform attention gives (0 without a baseline)."""
        baseline = f"uniform_{metric}"
        return self.share(layer, metric) - (self.share(layer, baseline)
                                            if baseline in self.profile else 0.0)

    @property
    def is_structural(self) -> bool:
        """Whether the structural candidate concentrates on [SEP] (beyond uniform, strongly)."""
        return self.excess(self.structural_layer, "sep_share") >= STRONG_SHARE


@on_disk
def pair_texts(lm: LoadedModel, split: str = PAIR_SPLIT) -> Sample:
    """The per-pair measures of `split` (`bertlab.roles.text_measures`) as a `Sample`."""
    pairs = load_pairs(split)
    table = text_measures(lm, pairs["text"].tolist(), pairs["text_pair"].tolist())
    split_name = Text(en=split, ja={"test": "テスト", "train": "訓練"}.get(split, split))
    return Sample(table, Text(en="sentence pairs ({split} split)", ja="文ペア（{split}分割）")
                  .format(split=split_name))


def pair_profile(lm: LoadedModel, split: str = PAIR_SPLIT) -> pd.DataFrame:
    """One row per layer: `bertlab.METRICS` and the role measures averaged over heads and over
    the `split` pairs.

    >>> from bertlab import load
    >>> profile = pair_profile(load())
    >>> len(profile) == load().n_layers and bool(profile["cross_segment_share"].notna().all())
    True
    """
    return _profile(pair_texts(lm, split))


def _profile(sample: Sample) -> pd.DataFrame:
    return sample.heads().drop(columns="head").groupby("layer", as_index=False).mean()


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


_STATEMENT = Text(en="A '[CLS]-concentration layer' and a 'structural (boundary) layer' can be "
                     "shown side by side in BertViz.",
                  ja="「[CLS] 集中層」と「構造的な（境界の）層」を BertViz で並べて表示できる。")


def check_c11(choice: LayerChoice, sample: Sample | None = None) -> ClaimCheck:
    """C11: measurement finds a [CLS]-concentration layer and a distinct structural layer.

    With the `sample` the choice was made on, every number gets a bootstrap interval over its
    pairs (the layers chosen again in each resample); without one (a hand-built profile) the
    numbers are taken as exact.
    """
    cls_layer, structural = choice.cls_layer, choice.structural_layer
    if sample is None:
        why = "a hand-built profile, with no texts to resample"
        estimates = {
            "cls": exact(choice.excess(cls_layer, "cls_share"), why),
            "sep": exact(choice.excess(structural, "sep_share"), why),
            "distance": exact(abs(cls_layer - structural), why),
            "differ": exact(choice.share(cls_layer, "cls_share")
                            - choice.share(structural, "cls_share"), why)}
        premises = ()
    else:
        estimates = _bootstrapped(sample)
        premises = (structured(sample),)
    return ClaimCheck("C11", _STATEMENT, CHAPTER, (
        condition(Text(en="[CLS] share beyond uniform of the [CLS]-concentration layer (the layer "
                          "of highest [CLS] share; sentence pairs)",
                       ja="[CLS] 集中層（[CLS] の割合が最も高い層。文ペア）の [CLS] の割合"
                          "（一様を超える分）"), estimates["cls"], ">=", STRONG_SHARE),
        condition(Text(en="[SEP] share beyond uniform of the structural layer (the layer of "
                          "highest [SEP] share; sentence pairs)",
                       ja="構造的な層（[SEP] の割合が最も高い層。文ペア）の [SEP] の割合"
                          "（一様を超える分）"), estimates["sep"], ">=", STRONG_SHARE),
        condition(Text(en="distance between the two chosen layers, in layers (0 = the same layer)",
                       ja="選んだ 2 つの層の距離（層の数。0 = 同じ層）"),
                  estimates["distance"], ">=", 1),
        condition(Text(en="[CLS] share of the [CLS]-concentration layer minus that of the "
                          "structural layer (the two views show different things)",
                       ja="[CLS] 集中層の [CLS] の割合から構造的な層のものを引いた値"
                          "（2 つのビューが別のものを示すこと）"), estimates["differ"], ">=",
                  LEAD_MARGIN),
    ), premises=premises)


def _bootstrapped(sample: Sample) -> dict:
    """The four numbers of `check_c11`, each with its interval over the pairs."""
    cls, sep = sample["cls_share"], sample["sep_share"]                  # [N, L, H]
    cls_excess, sep_excess = sample.excess("cls_share"), sample.excess("sep_share")

    def chosen(w):
        means = {"cls": weighted_mean(w, cls).mean(-1), "sep": weighted_mean(w, sep).mean(-1)}
        return means, means["cls"].argmax(-1), means["sep"].argmax(-1), np.arange(len(w))

    def cls_strength(w):
        _, top, _, rows = chosen(w)
        return weighted_mean(w, cls_excess).mean(-1)[rows, top]

    def sep_strength(w):
        _, _, structural, rows = chosen(w)
        return weighted_mean(w, sep_excess).mean(-1)[rows, structural]

    def distance(w):
        _, top, structural, _ = chosen(w)
        return np.abs(top - structural).astype(float)

    def differ(w):
        means, top, structural, rows = chosen(w)
        return means["cls"][rows, top] - means["cls"][rows, structural]

    return {name: sample.bootstrap(statistic) for name, statistic in
            (("cls", cls_strength), ("sep", sep_strength), ("distance", distance),
             ("differ", differ))}


def checks(lm: LoadedModel) -> list[ClaimCheck]:
    """The C11 check on `lm` (the scorecard calls this)."""
    sample = pair_texts(lm)
    return [check_c11(choose_layers(_profile(sample)), sample)]

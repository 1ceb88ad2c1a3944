"""Claims C3, C6 and C10 judged on fine-tuned models: the zoo experiment.

Book chapters: "The fine-tuning experiment" and "Fine-tuned and overfit models". Every number
comes from `bertlab.zoo.experiment.results()` (cached: nothing is retrained here): six zoo recipes
and two probes, three seeds each, measured on the reviews' test split. A recipe's statistic is
measured once per seed, so its interval is Student's t over the seeds, and a difference between
two groups of recipes is Welch's interval (`bertlab.claims.uncertainty`); with three seeds these
are wide, and decide only what is large against the spread between seeds.

Shares are counted beyond uniform attention, as in `bertlab.claims.attention`: a head is
*concentrated* when its share of attention on the special tokens exceeds what evenly spread
attention gives them on the same texts (2 of n tokens: about 0.13 on the reviews) by more than
`MAJORITY`.

* **C3** ([CLS]/[SEP] concentration is normal, not a malfunction): the pretrained model
  concentrates and a BERT with random weights does not; a working classifier keeps the
  pretrained profile (below the top layers, which fine-tuning is known to change most, Kovaleva
  et al. 2019), and a broken one (`high-lr`) departs from it.
* **C6**, last row (all layers and heads on [CLS]/[SEP] = overfitting or too little diversity):
  are the models meant to be overfit or to lack diversity more concentrated than *every* model
  meant to be healthy (`healthy` and `probe-healthy`), and is nearly every head concentrated?
* **C8** on classifiers that read [CLS] (`healthy`): the book's other C8 check probes the
  pretrained model, which was never trained to use [CLS]; here the same probes run on the healthy
  classifiers, whose head reads the [CLS] vector: does their [CLS]-concentration layer give a
  good sentence vector?
* **C10** (freezing or re-initialising layers helps): the seed's premise, a model whose
  attention is clogged, is judged by `bertlab.claims.flow`; here the remedies themselves: do they
  raise the overfit recipe's held-out accuracy (Zhang et al. 2021 found re-initialising the top
  layers helps few-sample fine-tuning)?

The zoo is fine-tuned from the embedded model, so for any other `lm` these checks are *not
testable*.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import torch
from transformers import AutoConfig, AutoModel

from .. import zoo
from ..caching import on_disk
from ..datasets import load_reviews
from ..extraction import iter_encoded
from ..i18n import Text
from ..loading import LoadedModel, embedded_model_path, wrap
from ..metrics import METRICS, SCORES
from ..probing import probe_correctness, rank_correlation
from ..reduction import run_pass
from ..roles import LEAD_MARGIN, MAJORITY, STRONG_SHARE, text_measures
# The experiment's per-model summary lives with the experiment; these names are kept here too.
from ..zoo.experiment import (SEEDS, TOP_CHANGED, ExperimentResults, concentrated_heads,  # noqa: F401
                              model_summary, profile_distance, results, uniform_special_share)
from . import ClaimCheck, built_from_zoo_base, condition, zoo_base
from .attention import SPEARMAN_OVER_LAYERS
from .uncertainty import bootstrap, t_interval, weighted_mean, welch_interval

__all__ = ["ASPECT", "CHAPTER", "PROFILE_MARGIN", "ALL_HEADS", "TOP_CHANGED", "HEALTHY_MEANT",
           "OVERFIT_MEANT", "checks", "check_c3", "check_c6", "check_c8", "check_c10",
           "classifier_probe", "concentrated_heads",
           "profile_distance", "model_summary", "uniform_special_share"]

ASPECT = "fine-tuned models"
CHAPTER = "finetuned"

# --- Thresholds: where each number comes from --------------------------------------------------
#: Two per-layer special-token profiles are "the same" when no layer differs by more than 0.10:
#: the three seeds of one zoo recipe differ from each other by up to about half that (see the
#: experiment's spread tables), and the pretrained layers span 0.3–0.7.
PROFILE_MARGIN = 0.10
#: "All layers and all heads" read with a little slack: at least 90 % of the (layer, head) pairs.
ALL_HEADS = 0.9
#: The recipes meant to give a healthy model, and those meant to overfit on too few examples.
HEALTHY_MEANT = ("healthy", "probe-healthy")
OVERFIT_MEANT = ("overfit", "probe-overfit")
# A head is "concentrated" when more than `MAJORITY` (0.5, bertlab.roles) of its attention goes to
# special tokens beyond uniform (`bertlab.zoo.experiment.concentrated_heads`).


def checks(lm: LoadedModel | None = None) -> list[ClaimCheck]:
    """C3, C6, C8 and C10 from the zoo; not testable unless `lm` is the zoo's base."""
    if lm is not None and not built_from_zoo_base(lm):
        reason = Text(en="the zoo's classifiers were fine-tuned from another model than {model}",
                      ja="モデル動物園（zoo）の分類器は `{model}` とは別のモデルからファインチューニング"
                         "されています").format(model=lm.name)
        return [ClaimCheck(claim, statement, CHAPTER, (), aspect=ASPECT, untestable=reason)
                for claim, statement in (("C3", _C3), ("C6", _C6), ("C8", _C8), ("C10", _C10))]
    summary = model_summary(results(progress=False))
    return [check_c3(summary), check_c6(summary), check_c8(), check_c10(summary)]


def _values(summary: pd.DataFrame, recipes, column: str) -> np.ndarray:
    recipes = (recipes,) if isinstance(recipes, str) else recipes
    return summary.loc[summary.recipe.isin(recipes), column].to_numpy(dtype=float)


_C3 = Text(en="[CLS]/[SEP] concentration is normal behaviour, not a malfunction: the pretrained "
              "model concentrates and random weights do not; a working fine-tuned classifier "
              "keeps the pretrained profile, a broken one departs from it.",
           ja="[CLS]/[SEP] への集中は正常な挙動であり、故障ではない：事前学習済みモデルは集中し、"
              "ランダムな重みは集中しない。うまく働くファインチューニング済みの分類器は事前学習済みの"
              "プロファイルを保ち、壊れた分類器はそこから離れる。")
_C6 = Text(en="When all layers and all heads concentrate on [CLS]/[SEP], the model is overfit or "
              "was trained on too little input diversity.",
           ja="全層・全ヘッドが [CLS]/[SEP] に集中するとき、そのモデルは過学習しているか、"
              "入力の多様性が足りないデータで学習されている。")
_C8 = Text(en="Layers where attention gathers at [CLS] give a good sentence vector, in classifiers "
              "fine-tuned to read the [CLS] vector.",
           ja="[CLS] ベクトルを読むようにファインチューニングされた分類器では、アテンションが [CLS] "
              "に集まる層から良い文ベクトルが得られる。")
_C10 = Text(en="Freezing layers or re-initialising some during fine-tuning helps an overfit model "
               "(the seed: one whose attention is clogged; that premise is judged by the "
               "information-flow check).",
            ja="ファインチューニングの際に層を凍結したり一部を再初期化したりすると、過学習した"
               "モデルが改善する（解説文では、アテンションが詰まったモデル。この前提は情報の流れの"
               "チェックが判定します）。")


def check_c3(summary: pd.DataFrame) -> ClaimCheck:
    """C3: concentration is normal. A healthy fine-tuned model keeps it; a broken one loses it."""
    pretrained, random_weights = _special_excess_texts(zoo_base()), _special_excess_texts(_random_bert())
    peak = lambda values: lambda w: weighted_mean(w, values).mean(-1).max(-1)  # noqa: E731
    skill = _values(summary, "healthy", "test_accuracy") - _values(summary, "healthy", "test_chance")
    n = len(pretrained)
    return ClaimCheck("C3", _C3, CHAPTER, (
        condition(Text(en="pretrained model: highest layer-mean special-token share beyond "
                          "uniform (reviews)",
                       ja="事前学習済みモデル：特殊トークンの割合（一様を超える分）の層平均の最大値"
                          "（レビュー）"),
                  bootstrap(peak(pretrained), n, what="reviews"), ">=", STRONG_SHARE),
        condition(Text(en="a BERT of the same shape with random weights (weights not loaded): "
                          "the same share",
                       ja="同じ形でランダムな重みの BERT（重みが読み込まれていない状態）：同じ割合"),
                  bootstrap(peak(random_weights), n, what="reviews"), "<", LEAD_MARGIN),
        condition(Text(en="healthy recipe: held-out accuracy above chance (test accuracy − "
                          "majority share)",
                       ja="healthy レシピ：評価用データでの正解率の、偶然の水準からの上積み"
                          "（テストの正解率 − 最多ラベルの割合）"),
                  t_interval(skill), ">=", 0.1),
        condition(Text(en="healthy recipe: largest per-layer gap in special-token share from the "
                          "pretrained model, below the top sixth of the layers (which fine-tuning "
                          "is known to change)",
                       ja="healthy レシピ：特殊トークンの割合の、事前学習済みモデルとの層ごとの最大の"
                          "差（ファインチューニングで変わることが知られている上位 6 分の 1 の層を"
                          "除く）"),
                  t_interval(_values(summary, "healthy", "profile_distance_below_top")),
                  "<=", PROFILE_MARGIN),
        condition(Text(en="high-lr (broken) recipe: largest per-layer gap in special-token share "
                          "from the pretrained model",
                       ja="high-lr（壊れた）レシピ：特殊トークンの割合の、事前学習済みモデルとの"
                          "層ごとの最大の差"),
                  t_interval(_values(summary, "high-lr", "profile_distance")),
                  ">", PROFILE_MARGIN),
    ), aspect=ASPECT)


def check_c6(summary: pd.DataFrame) -> ClaimCheck:
    """C6, last row: all layers and heads on [CLS]/[SEP] signals overfitting or low diversity."""
    healthy = _values(summary, HEALTHY_MEANT, "concentrated_heads")
    overfit = _values(summary, OVERFIT_MEANT, "concentrated_heads")
    low = _values(summary, "low-diversity", "concentrated_heads")
    meant = Text(en=" and ".join(HEALTHY_MEANT), ja="・".join(HEALTHY_MEANT))
    return ClaimCheck("C6", _C6, CHAPTER, (
        condition(Text(en="overfit recipes ({overfit}): share of heads with over half their "
                          "attention on special tokens beyond uniform",
                       ja="過学習させるレシピ（{overfit}）：一様を超える分でアテンションの半分より"
                          "多くを特殊トークンに向けるヘッドの割合").format(
                      overfit=Text.join(Text(r, r) for r in OVERFIT_MEANT)),
                  t_interval(overfit), ">=", ALL_HEADS),
        condition(Text(en="low-diversity recipe: share of such heads",
                       ja="low-diversity レシピ：そのようなヘッドの割合"),
                  t_interval(low), ">=", ALL_HEADS),
        condition(Text(en="overfit recipes minus every model meant to be healthy ({meant}): "
                          "share of such heads",
                       ja="過学習させるレシピと、健全になるはずのすべてのモデル（{meant}）の差："
                          "そのようなヘッドの割合").format(meant=meant),
                  welch_interval(overfit, healthy), ">=", PROFILE_MARGIN),
        condition(Text(en="low-diversity minus every model meant to be healthy ({meant}): share "
                          "of such heads",
                       ja="low-diversity と、健全になるはずのすべてのモデル（{meant}）の差："
                          "そのようなヘッドの割合").format(meant=meant),
                  welch_interval(low, healthy), ">=", PROFILE_MARGIN),
    ), aspect=ASPECT)


def check_c8(seeds: tuple[int, ...] = SEEDS) -> ClaimCheck:
    """C8 on the healthy classifiers: per seed, the rank correlation over layers of the [CLS]
    share (ordinary tokens' rows, beyond uniform) with the [CLS]-probe accuracy, and the [CLS]
    probe minus the mean-pooled probe at the layer of highest [CLS] share; t over the seeds."""
    rows = [classifier_probe(zoo.load("healthy", seed, progress=False)) for seed in seeds]
    correlation = [row["spearman"] for row in rows]
    advantage = [row["cls_minus_mean_at_peak"] for row in rows]
    return ClaimCheck("C8", _C8, CHAPTER, (
        condition(Text(en="healthy classifiers: ", ja="healthy の分類器：") + SPEARMAN_OVER_LAYERS,
                  t_interval(correlation), ">=", MAJORITY),
        condition(Text(en="healthy classifiers: [CLS]-probe minus mean-pooled-probe accuracy at "
                          "the layer of highest [CLS] share",
                       ja="healthy の分類器：[CLS] の割合が最も高い層での、[CLS] プローブと平均"
                          "プーリングのプローブの正解率の差"), t_interval(advantage), ">=", 0.0),
    ), aspect=ASPECT)


@on_disk
def classifier_probe(lm: LoadedModel) -> dict:
    """One classifier's C8 numbers: per layer its [CLS] share beyond uniform (reviews' test split)
    and its probes' accuracies, the Spearman correlation of the two, and the [CLS] probe minus
    the mean-pooled probe at the layer of highest [CLS] share."""
    table = text_measures(lm, load_reviews("test").text.tolist())
    excess = (table.content_cls_share - table.uniform_content_cls_share).groupby(table.layer).mean()
    accuracy = probe_correctness(lm).groupby("layer")[["cls_correct", "mean_correct"]].mean()
    peak = int(excess.idxmax())
    return {"cls_excess": excess.to_numpy(), "cls_accuracy": accuracy.cls_correct.to_numpy(),
            "mean_accuracy": accuracy.mean_correct.to_numpy(),
            "spearman": rank_correlation(excess, accuracy.cls_correct)[0],
            "cls_minus_mean_at_peak": float(accuracy.cls_correct[peak] - accuracy.mean_correct[peak])}


def check_c10(summary: pd.DataFrame) -> ClaimCheck:
    """C10, the remedies: freezing lower layers or re-initialising top ones helps an overfit model."""
    overfit = _values(summary, "overfit", "test_accuracy")
    conditions = []
    for remedy, what in (("overfit-frozen", Text(en="freezing the embeddings and lower half",
                                                 ja="埋め込みと下半分の層凍結")),
                         ("overfit-reinit", Text(en="re-initialising the top layer",
                                                 ja="最上層の再初期化"))):
        conditions.append(condition(
            Text(en="{what}: held-out accuracy gain over the overfit recipe (same {n} examples "
                    "per seed)",
                 ja="{what}：overfit レシピに対する評価用データでの正解率の向上（シードごとに同じ "
                    "{n} 例）").format(what=what, n=zoo.RECIPES["overfit"].train_size),
            welch_interval(_values(summary, remedy, "test_accuracy"), overfit), ">", 0.0))
    return ClaimCheck("C10", _C10, CHAPTER, tuple(conditions), aspect=ASPECT)


@on_disk
def _special_excess_texts(lm: LoadedModel) -> np.ndarray:
    """``[N, L, H]``: per test review, the special share beyond uniform (one pass)."""
    texts = load_reviews("test").text.tolist()
    values = run_pass(lm, texts, [SCORES], keep_texts=True).values[SCORES.name].numpy()
    shares = values[..., METRICS.index("special_share")]                  # [N, L, H]
    uniform = []
    for batch in iter_encoded(lm, texts):
        uniform += (batch.masks.special.sum(dim=1) / batch.masks.valid.sum(dim=1)).tolist()
    return shares - np.asarray(uniform)[:, None, None]


@functools.cache
def _random_bert() -> LoadedModel:
    """The embedded model's architecture with random weights (seed 0): weights not loaded."""
    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(embedded_model_path(), attn_implementation="eager")
    return wrap(AutoModel.from_config(config).eval(), zoo_base().tokenizer, name="random weights")

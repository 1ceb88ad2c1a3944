"""Claims C2, C4, C5 and C10 judged by information flow, not by attention weights alone.

Book chapter: "Does information really flow into [CLS] and [SEP]?". A large weight on [CLS] or
[SEP] does not prove that anything flows there. This module measures, on the shipped reviews
(test split) and sentence pairs (test split), text by text so that every deciding number gets a
bootstrap interval over the texts (`bertlab.claims.uncertainty`):

* weight share vs norm-based share (Kobayashi et al. 2020) of [CLS] / [SEP] / all specials per
  layer (`share_texts`, averaged by `share_profiles`), from one pass of the model;
* what the final [CLS] vector is made of under attention rollout (`rollout_texts`);
* what switching off the heads that attend most to [SEP] does, against random heads of the same
  number (`sep_head_ablation`);
* the classifier loss's gradient on attention to [CLS], [SEP] and other tokens
  (`gradient_texts`), on the zoo's healthy classifier.

`checks(lm)` turns those numbers into `ClaimCheck`s with the aspect ``"information flow"``. Each
has premises: attention is structured (`bertlab.claims.attention.structured`), and the weight the
claim is about is there at all (a flow claim about attention to [SEP] is not testable on a model
that gives [SEP] little attention). Conditions that need the zoo's classifiers are only asked of
the model the zoo was fine-tuned from.

    [check.claim for check in checks(bertlab.load())]   # ['C2', 'C4', 'C5', 'C10']

(run by the chapter and the scorecard, whose recorded verdicts tests/book/test_book.py re-derives).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from .. import zoo
from ..datasets import load_pairs, load_reviews
from ..extraction import extract_batch
from ..i18n import Text, layers_text
from ..flow import ablate_heads, attention_gradients, cls_rollout, norm_measurement, random_heads, top_heads
from ..caching import on_disk
from ..loading import LoadedModel, load  # noqa: F401  (load is used by the doctest above)
from ..metrics import METRICS, SCORES, corpus_scores, layer_means
from ..reduction import run_pass
from ..roles import MAJORITY, STRONG_SHARE, layers_in_band
from . import ClaimCheck, Condition, built_from_zoo_base, condition
from .attention import THIRDS, evidence, structured
from .uncertainty import bootstrap, weighted_mean

__all__ = ["ASPECT", "CHAPTER", "NORM_KEEPS_WEIGHT", "WORD_MAJORITY", "CLOGGED_MAJORITY",
           "CLOGGING_MARGIN", "ABLATION_FRACTION", "N_RANDOM_DRAWS", "N_ABLATION_TEXTS",
           "share_texts", "share_profiles", "rollout_texts", "cls_rollout_summary",
           "sep_head_ablation", "gradient_texts", "gradient_profile", "checks"]

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

_SPLIT = "test"
_NO_ZOO = Text(en="the zoo's classifiers were fine-tuned from another model, so the condition on "
                  "them is not asked here",
               ja="モデル動物園（zoo）の分類器は別のモデルからファインチューニングされているので、"
                  "それらについての条件はここでは問いません")
_SHARES = ("cls_share", "sep_share", "special_share")


def _corpus(pairs: bool) -> tuple[list[str], list[str] | None]:
    data = load_pairs(_SPLIT) if pairs else load_reviews(_SPLIT)
    return data["text"].tolist(), (data["text_pair"].tolist() if pairs else None)


@on_disk
def share_texts(lm: LoadedModel, pairs: bool = False) -> dict[str, np.ndarray]:
    """Per text, layer and head, the weight and the norm-based [CLS] / [SEP] / special shares,
    from one pass: ``{"weight_cls_share": [N, L, H], ..., "norm_special_share": [N, L, H]}``."""
    texts, second = _corpus(pairs)
    norms = norm_measurement(lm)
    result = run_pass(lm, texts, [SCORES, norms], pairs=second, keep_texts=True, desc="norms")
    arrays = {}
    for prefix, name in (("weight", SCORES.name), ("norm", norms.name)):
        values = result.values[name].numpy()                          # [N, L, H, M]
        for share in _SHARES:
            arrays[f"{prefix}_{share}"] = values[..., METRICS.index(share)]
    return arrays


def share_profiles(lm: LoadedModel, pairs: bool = False) -> pd.DataFrame:
    """Per layer, the weight-based and norm-based [CLS] / [SEP] / special shares (all queries).

    Columns: ``layer``, then ``weight_<metric>`` and ``norm_<metric>`` for ``cls_share``,
    ``sep_share``, ``special_share``. Reviews (one sentence each), or sentence pairs.
    """
    means = {name: values.mean(axis=(0, 2)) for name, values in share_texts(lm, pairs).items()}
    return pd.DataFrame({"layer": range(lm.n_layers), **means})


@on_disk
def rollout_texts(lm: LoadedModel) -> pd.DataFrame:
    """Per review: what the final [CLS] vector is made of under rollout.

    ``cls_itself`` (share from the input [CLS]), ``special`` (from all special tokens, [CLS]
    included), ``words`` (from the other tokens), ``effective_fraction`` (``exp(entropy) / n``:
    1 when [CLS] draws evenly on all n tokens, 1/n when on one).
    """
    rows = []
    for att in extract_batch(lm, _corpus(False)[0]):
        drawn = cls_rollout(att).double()                                 # [K]
        special = float(drawn[att.special_mask].sum())
        entropy = float(-torch.special.xlogy(drawn, drawn).sum())
        rows.append({"cls_itself": float(drawn[att.cls_positions[0]]), "special": special,
                     "words": 1 - special, "effective_fraction": math.exp(entropy) / att.n_tokens})
    return pd.DataFrame(rows)


def cls_rollout_summary(lm: LoadedModel) -> pd.Series:
    """`rollout_texts` averaged over the reviews."""
    return rollout_texts(lm).mean()


@on_disk
def sep_head_ablation(lm: LoadedModel) -> pd.DataFrame:
    """Switch off the heads with the highest [SEP] weight share, and random heads as a control.

    One row per run: ``run`` ("[SEP] heads off", "[SEP] heads, attention to [SEP] cut",
    "random heads off (draw s)"), ``heads``, the `AblationEffect` numbers, and ``distances``:
    the per-text cosine distances of the final [CLS] (for intervals). The heads are chosen from
    the model's own weight table on the reviews; a classifier also reports accuracy.
    """
    data = load_reviews(_SPLIT).head(N_ABLATION_TEXTS)
    texts = data["text"].tolist()
    labels = data["label"].tolist() if lm.has_classifier else None
    n_heads = max(1, round(ABLATION_FRACTION * lm.n_layers * lm.n_heads))
    chosen = top_heads(corpus_scores(lm, _corpus(False)[0], progress=False), "sep_share", n_heads)
    runs = {"[SEP] heads off": (chosen, None), "[SEP] heads, attention to [SEP] cut": (chosen, "sep")}
    for draw in range(N_RANDOM_DRAWS):
        runs[f"random heads off (draw {draw})"] = (random_heads(lm, n_heads, seed=draw,
                                                                exclude=chosen), None)
    rows = []
    for name, (heads, keys) in runs.items():
        effect = ablate_heads(lm, texts, heads, keys=keys, labels=labels, progress=False)
        rows.append({"run": name, "heads": ", ".join(f"{l + 1}.{h + 1}" for l, h in heads),
                     **effect.as_row(), "distances": np.array(effect.text_cosine_distances)})
    return pd.DataFrame(rows)


@on_disk
def gradient_texts(classifier: LoadedModel) -> pd.DataFrame:
    """Per (review, layer, head): mean ``|∂ loss / ∂ α|`` for attention to [CLS], [SEP], others."""
    data = load_reviews(_SPLIT)
    return attention_gradients(classifier, data["text"].tolist(), data["label"].tolist(),
                               progress=False, per_text=True)


def gradient_profile(classifier: LoadedModel) -> pd.DataFrame:
    """Per layer, mean ``|∂ loss / ∂ α|`` for attention to [CLS], [SEP] and other tokens."""
    return layer_means(gradient_texts(classifier).drop(columns="text")
                       .groupby(["layer", "head"], as_index=False).mean())


def checks(lm: LoadedModel) -> list[ClaimCheck]:
    """The information-flow checks of C2, C4, C5 and C10 on `lm` (and, for the model the zoo was
    fine-tuned from, on the zoo's seed-0 classifiers)."""
    from_zoo = built_from_zoo_base(lm)
    healthy = zoo.load("healthy", seed=0, progress=False) if from_zoo else None
    overfit = zoo.load("overfit", seed=0, progress=False) if from_zoo else None
    return [_check_c2(lm), _check_c4(lm, healthy), _check_c5(lm, healthy),
            _check_c10(lm, healthy, overfit)]


def _n(arrays: dict[str, np.ndarray]) -> int:
    return len(next(iter(arrays.values())))


def _layer_means(w: np.ndarray, values: np.ndarray) -> np.ndarray:
    return weighted_mean(w, values).mean(-1)                          # [R, L]


def _ratio_at_peak(arrays: dict, share: str, what: str):
    """Norm share / weight share in the layer of highest weight share, per resample."""
    weight, norm = arrays[f"weight_{share}"], arrays[f"norm_{share}"]

    def statistic(w):
        weights, norms = _layer_means(w, weight), _layer_means(w, norm)   # [R, L]
        peak, rows = weights.argmax(-1), np.arange(len(w))
        return norms[rows, peak] / weights[rows, peak]
    return bootstrap(statistic, _n(arrays), what=what)


def _weight_premise(lm: LoadedModel, share: str, pairs: bool, layers: list[int] | None = None,
                    where: Text = Text("", "")) -> Condition:
    """The weight the claim is about is there: the highest layer-mean `share` beyond uniform
    (in `layers`, default all) is strong (`bertlab.roles.STRONG_SHARE`)."""
    sample = evidence(lm).pair_texts if pairs else evidence(lm).review_texts
    values = sample.excess(share)[:, layers] if layers else sample.excess(share)
    name = {"cls_share": "[CLS]", "sep_share": "[SEP]"}[share]
    return condition(Text(en="the attention weight on {name} is there: highest layer-mean {name} "
                             "share beyond uniform{where} ({corpus})",
                          ja="{name} へのアテンションの重みがある：{where}{name} の割合"
                             "（一様を超える分）の層平均の最大値（{corpus}）").format(
                         name=name, where=where, corpus=sample.name_text),
                     sample.bootstrap(lambda w: _layer_means(w, values).max(-1)), ">=", STRONG_SHARE)


def _norm_by_weight(name: str) -> Text:
    """"norm-based / weight-based <name> share in the layer with the highest <name> weight"."""
    return Text(en="norm-based / weight-based {name} share in the layer with the highest {name} "
                   "weight (reviews)",
                ja="{name} への重みが最も大きい層での、ノルムに基づく {name} の割合と重みに基づく"
                   "割合の比（レビュー）").format(name=name)


def _words_of_final_cls(model: LoadedModel, whose: Text = Text("", "")) -> Text:
    """"share of the final [CLS] drawn from the words (rollout), <model><whose>"."""
    return Text(en="share of the final [CLS] drawn from the words (rollout), {model}{whose}",
                ja="最終層の [CLS] のうち単語に由来する割合（ロールアウト）、`{model}`{whose}").format(
        model=model.name, whose=whose)


def _check_c2(lm: LoadedModel) -> ClaimCheck:
    arrays = share_texts(lm)
    ablation = sep_head_ablation(lm)
    chosen = ablation.set_index("run").at["[SEP] heads off", "distances"]          # [T]
    control = np.stack(ablation[ablation["run"].str.startswith("random")]["distances"])  # [D, T]

    def distance_ratio(w):
        return weighted_mean(w, chosen) / np.median(weighted_mean(w, control.T), axis=-1)

    return ClaimCheck("C2", Text(en="The attention that heads put on [SEP] carries information.",
                                 ja="ヘッドが [SEP] に向けるアテンションは情報を運んでいる。"), CHAPTER, (
        condition(_norm_by_weight("[SEP]"), _ratio_at_peak(arrays, "sep_share", "reviews"), ">=",
                  NORM_KEEPS_WEIGHT),
        condition(Text(en="switching off the heads that attend most to [SEP] moves the final [CLS] "
                          "at least as far as random heads (ratio of mean cosine distances, random "
                          "median)",
                       ja="[SEP] に最も注目するヘッドを止めると、最終層の [CLS] がランダムなヘッドを"
                          "止めた場合と少なくとも同じだけ動く（コサイン距離の平均の比、ランダムは"
                          "中央値）"),
                  bootstrap(distance_ratio, len(chosen), what="reviews"), ">=", 1.0)),
        aspect=ASPECT, premises=(structured(evidence(lm).review_texts),
                                 _weight_premise(lm, "sep_share", pairs=False)))


def _check_c4(lm: LoadedModel, healthy: LoadedModel | None) -> ClaimCheck:
    def words(model):
        drawn = rollout_texts(model)["words"].to_numpy()
        return bootstrap(lambda w: weighted_mean(w, drawn), len(drawn), what="reviews")

    conditions = [
        condition(_norm_by_weight("[CLS]"), _ratio_at_peak(share_texts(lm), "cls_share", "reviews"),
                  ">=", NORM_KEEPS_WEIGHT),
        condition(_words_of_final_cls(lm), words(lm), ">=", WORD_MAJORITY)]
    illustrations = ()
    if healthy is not None:
        conditions.append(condition(_words_of_final_cls(healthy, Text(
            en=" (whose classifier reads [CLS])", ja="（分類器が [CLS] を読むモデル）")),
            words(healthy), ">=", WORD_MAJORITY))
    else:
        illustrations = (_NO_ZOO,)
    return ClaimCheck("C4", Text(
        en="Tokens send their information into [CLS], and the final [CLS] aggregates all the "
           "tokens.",
        ja="トークンは自分の情報を [CLS] に送り込み、最終層の [CLS] はすべてのトークンを集約する。"),
                      CHAPTER, tuple(conditions), aspect=ASPECT,
                      premises=(structured(evidence(lm).review_texts),
                                _weight_premise(lm, "cls_share", pairs=False)),
                      illustrations=illustrations)


def _check_c5(lm: LoadedModel, healthy: LoadedModel | None) -> ClaimCheck:
    middle_up = layers_in_band(lm.n_layers, THIRDS["middle"][0], 1)
    arrays = share_texts(lm, pairs=True)
    weight, norm = arrays["weight_sep_share"], arrays["norm_sep_share"]
    band = layers_text(middle_up, lm.n_layers)
    conditions = [condition(
        Text(en="sentence pairs: norm-based / weight-based [SEP] share, middle and upper thirds "
                "({band})",
             ja="文ペア：ノルムに基づく [SEP] の割合と重みに基づく割合の比、中と上の 3 分の 1"
                "（{band}）").format(band=band),
        bootstrap(lambda w: _layer_means(w, norm)[..., middle_up].mean(-1)
                  / _layer_means(w, weight)[..., middle_up].mean(-1), _n(arrays),
                  what="sentence pairs"), ">=", NORM_KEEPS_WEIGHT)]
    illustrations = ()
    if healthy is not None:
        gradients = gradient_texts(healthy)
        n_texts = int(gradients["text"].max()) + 1
        per = {column: gradients[column].to_numpy().reshape(n_texts, lm.n_layers, lm.n_heads)
               for column in ("sep_gradient", "other_gradient")}
        conditions.append(condition(
            Text(en="{model}, middle and upper thirds ({band}): loss gradient on attention to "
                    "[SEP] / to ordinary tokens",
                 ja="`{model}`、中と上の 3 分の 1（{band}）：[SEP] へのアテンションに対する損失の"
                    "勾配と、通常のトークンへのアテンションに対する勾配の比").format(
                model=healthy.name, band=band),
            bootstrap(lambda w: _layer_means(w, per["sep_gradient"])[..., middle_up].mean(-1)
                      / _layer_means(w, per["other_gradient"])[..., middle_up].mean(-1),
                      n_texts, what="reviews"), ">=", 1.0))
    else:
        illustrations = (_NO_ZOO,)
    return ClaimCheck("C5", Text(
        en="The attention to [SEP], the boundary of a sentence pair, matters in the middle and "
           "upper layers.",
        ja="文ペアの境界である [SEP] へのアテンションは、中層と上層で意味を持つ。"), CHAPTER, tuple(conditions), aspect=ASPECT,
                      premises=(structured(evidence(lm).pair_texts),
                                _weight_premise(lm, "sep_share", pairs=True, layers=middle_up,
                                                where=Text(en=" in {band}", ja="{band}での ")
                                                .format(band=band))),
                      illustrations=illustrations)


def _check_c10(lm: LoadedModel, healthy: LoadedModel | None,
               overfit: LoadedModel | None) -> ClaimCheck:
    statement = Text(en="An overfit model's flow is clogged at [CLS]/[SEP]: its layers move "
                        "mostly special-token content.",
                     ja="過学習したモデルでは情報流通が [CLS]/[SEP] で詰まっている：その層が運ぶのは"
                        "主に特殊トークンの内容である。")
    if healthy is None or overfit is None:
        return ClaimCheck("C10", statement, CHAPTER, (), aspect=ASPECT, untestable=Text(
            en="it reads the zoo's healthy and overfit classifiers, which were fine-tuned from "
               "another model than {model}",
            ja="モデル動物園（zoo）の healthy と overfit の分類器を読むチェックですが、それらは "
               "`{model}` とは別のモデルからファインチューニングされています").format(model=lm.name))
    h, o = share_texts(healthy), share_texts(overfit)
    n = _n(o)
    # The same reviews in the same order as the base's evidence, whose uniform baseline they share.
    concentrated = o["weight_special_share"] - evidence(lm).review_texts["uniform_special_share"]

    def clog_gap(w):
        return (_layer_means(w, o["norm_special_share"]).mean(-1)
                - _layer_means(w, h["norm_special_share"]).mean(-1))

    rollout_gap = (rollout_texts(overfit)["special"] - rollout_texts(healthy)["special"]).to_numpy()
    return ClaimCheck("C10", statement, CHAPTER, (
        condition(Text(en="{overfit}: lowest norm-based special share over its layers",
                       ja="`{overfit}`：ノルムに基づく特殊トークンの割合の、層ごとの最小値").format(
                      overfit=overfit.name),
                  bootstrap(lambda w: _layer_means(w, o["norm_special_share"]).min(-1), n,
                            what="reviews"), ">=", CLOGGED_MAJORITY),
        condition(Text(en="{overfit} minus {healthy}: norm-based special share, mean over layers",
                       ja="`{overfit}` と `{healthy}` の差：ノルムに基づく特殊トークンの割合の"
                          "層平均").format(overfit=overfit.name, healthy=healthy.name),
                  bootstrap(clog_gap, n, what="reviews"), ">=", CLOGGING_MARGIN),
        condition(Text(en="{overfit} minus {healthy}: share of the final [CLS] drawn from special "
                          "tokens (rollout)",
                       ja="`{overfit}` と `{healthy}` の差：最終層の [CLS] のうち特殊トークンに由来"
                          "する割合（ロールアウト）").format(overfit=overfit.name, healthy=healthy.name),
                  bootstrap(lambda w: weighted_mean(w, rollout_gap), n, what="reviews"), ">=",
                  CLOGGING_MARGIN)), aspect=ASPECT, premises=(
        condition(Text(en="the premise of C10: {overfit} looks at [CLS]/[SEP] in every layer "
                          "(lowest layer-mean special share beyond uniform, by weight)",
                       ja="C10 の前提：`{overfit}` はすべての層で [CLS]/[SEP] を見ている"
                          "（重みで測った、一様を超える分の特殊トークンの割合の、層平均の最小値）").format(
                      overfit=overfit.name),
                  bootstrap(lambda w: _layer_means(w, concentrated).min(-1), n, what="reviews"),
                  ">=", MAJORITY),))


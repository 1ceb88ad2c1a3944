"""Claim checks on attention weights: C1, C2, C4, C5, C6 (pretrained profile), C7, C8, C9.

Book chapters: "[CLS] as aggregator" (C1, C4, C8), "[SEP] and boundaries" (C2, C5, C9),
"Layer roles" (C6, C7). Each chapter calls `evidence(lm)` for its tables and figures and the
``check_*`` function of each claim for the verdict, so the book, the scorecard and the tests
decide every claim with the same code.

The evidence comes from the shipped data (`bertlab.datasets`), kept **text by text**
(`bertlab.roles.text_measures`), so that every deciding number gets a bootstrap interval over
the texts it was measured on (`bertlab.claims.uncertainty`):

* ``reviews``: the reviews' test split, single sentences: C1, C4, C6, C7, C8;
* ``pairs``: every sentence pair (true next sentence or not): C2, C5, C6, C9;
* ``probe``: linear probes of each layer (fitted on the train split), right or wrong on each
  test review: C8.

Two rules make the checks fair to a model without learned attention (a placebo):

* **Shares are counted beyond uniform attention.** Every share of attention in a condition is an
  *excess*: the share minus what evenly spread attention would give the same keys on the same
  text (``uniform_*`` columns of `bertlab.roles`): evenly spread attention gives [CLS] 1/n of
  every row, and a token's band of neighbours 3/n. The bars are the role rules' own
  (`STRONG_SHARE`, `MAJORITY`), now counted beyond that baseline. The one exception is [CLS]
  "attending to all tokens" (C4, C7): spreading evenly is exactly what that claim describes, so
  it is read as a raw share, and the premise below keeps uniform attention out.
* **A premise: attention is structured.** Every check first requires that some layer's mean
  normalised entropy lies clearly below `bertlab.diagnosis.NEAR_UNIFORM_ENTROPY`, the level
  `diagnose` calls "near-uniform (weights not loaded)". Claims about what layers and heads attend
  to are *not testable* on a model whose attention is uniform everywhere.

Depth is relative (`bertlab.roles.relative_depth`), never a layer number, so the checks run on a
model of any depth: the lower, middle and upper thirds of the stack, and the seed's 12-layer
table of C7 mapped proportionally (its layers 1–3 are the bottom quarter, and so on).

>>> [layers_in_band(6, *band) for band in SEED_C7_BANDS.values()]   # C7's table on 6 layers
[[0], [1, 2, 3], [4, 5]]
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..datasets import load_pairs, load_reviews
from ..diagnosis import NEAR_UNIFORM_ENTROPY
from ..errors import InputError
from ..extraction import extract
from ..i18n import Text, layer_text, layers_text
from ..caching import on_disk
from ..loading import LoadedModel, load  # noqa: F401  (load is used by the doctest above)
from ..probing import probe_correctness
from ..roles import (BROAD_ENTROPY, LEAD_MARGIN, MAJORITY, STRONG_SHARE, head_measures,
                     label_layers, layer_profile, layers_in_band, relative_depth, text_measures)
from . import ClaimCheck, Condition, condition
from .uncertainty import bootstrap, weighted_mean

__all__ = ["SEP_HEAD_SHARE", "ALMOST_EVERY", "MEDIUM_EFFECT", "THIRDS", "SEED_C7_BANDS",
           "DOG_SENTENCE", "DOG_WORDS", "REVIEWS", "PAIRS", "Sample", "AttentionEvidence", "evidence",
           "token_cls_shares", "border_effect", "structured", "SPEARMAN_OVER_LAYERS", "checks", "check_c1", "check_c2",
           "check_c4", "check_c5", "check_c6", "check_c7", "check_c8", "check_c9"]

# --- Thresholds: where each number comes from --------------------------------------------------
# "Strong" (STRONG_SHARE = 0.3), "most" (MAJORITY = 0.5) and "clearly ahead" (LEAD_MARGIN = 0.1)
# are the role rules' own constants (bertlab.roles), so a claim and a layer label never disagree.
#: A head "attends to [SEP]" when more than half of its attention goes there: Clark et al.
#: (2019) describe BERT-base's [SEP] layers as giving "over half" of their attention to [SEP].
SEP_HEAD_SHARE = 0.5
#: "Almost every head": at least 80 % of a layer's heads, i.e. 10 of BERT's 12 heads (9 of 12,
#: three quarters, is "most" but not "almost every").
ALMOST_EVERY = 0.8
#: Cohen's d from which a difference between two groups of texts counts: 0.5, a "medium" effect
#: in Cohen's convention (half a standard deviation).
MEDIUM_EFFECT = 0.5
#: The lower, middle and upper thirds of the stack, in relative depth.
THIRDS = {"lower": (0, 1 / 3), "middle": (1 / 3, 2 / 3), "upper": (2 / 3, 1)}
#: The seed's C7 table for a 12-layer BERT, as relative-depth bands: layers 1–3, 4–8, 9–12.
SEED_C7_BANDS = {"diagonal (layers 1–3 of 12)": (0, 3 / 12),
                 "[CLS] focus (layers 4–8 of 12)": (3 / 12, 8 / 12),
                 "[CLS] attends out (layers 9–12 of 12)": (8 / 12, 1)}
#: The sentence and the ordinary words claim C1 names (an illustration: one sentence decides
#: nothing).
DOG_SENTENCE = "The dog chased the cat."
DOG_WORDS = ("dog", "chased", "cat")
#: The two corpora, as the conditions name them.
REVIEWS = Text(en="reviews", ja="レビュー")
PAIRS = Text(en="sentence pairs", ja="文ペア")
#: The thirds of the stack, as the conditions name them.
_THIRD_NAMES = {"lower": Text(en="lower third", ja="下の 3 分の 1"),
                "middle": Text(en="middle third", ja="中の 3 分の 1"),
                "upper": Text(en="upper third", ja="上の 3 分の 1"),
                "middle and upper": Text(en="middle and upper thirds", ja="中と上の 3 分の 1")}


class Sample:
    """One corpus's per-text measures as arrays ``[text, layer, head]``, by column.

    Built from a `bertlab.roles.text_measures` table; `excess` is a share minus its value under
    uniform attention on the same text. `name` (a `bertlab.i18n.Text`, or English) names the
    corpus in the conditions' texts: ``name`` is the English, ``name_text`` both languages.
    """

    def __init__(self, table: pd.DataFrame, name: str | Text):
        self.table = table
        self.name_text = name if isinstance(name, Text) else Text(en=name, ja=name)
        self.name = self.name_text.render("en")
        self.n_texts = int(table["text"].max()) + 1
        self.n_layers = int(table["layer"].max()) + 1
        self.n_heads = int(table["head"].max()) + 1

    def __getitem__(self, column: str) -> np.ndarray:
        return self._array(column)

    @functools.cache
    def _array(self, column: str) -> np.ndarray:
        values = self.table[column].to_numpy(dtype=float)
        return values.reshape(self.n_texts, self.n_layers, self.n_heads)   # [N, L, H]

    def excess(self, share: str) -> np.ndarray:
        """``[N, L, H]``: `share` beyond what uniform attention gives the same keys."""
        return self[share] - self[f"uniform_{share}"]

    def heads(self) -> pd.DataFrame:
        """One row per (layer, head): the mean over texts."""
        return self.table.drop(columns="text").groupby(["layer", "head"], as_index=False).mean()

    def bootstrap(self, statistic: Callable[[np.ndarray], np.ndarray], strata=None):
        """`bertlab.claims.uncertainty.bootstrap` over this corpus's texts."""
        return bootstrap(statistic, self.n_texts, strata=strata, what=f"{self.name}")


@dataclass(frozen=True)
class AttentionEvidence:
    """Every table the attention claims are decided on, computed once per model (`evidence`).

    Per text (`Sample`): ``review_texts`` (the reviews' test split), ``pair_texts`` (every
    sentence pair); ``probe_texts``, one row per (test review, layer): is each probe right?
    Means for the chapters' tables: ``reviews``, ``pairs`` and ``singles`` (the pairs' first
    sentences alone) one row per (layer, head); ``profile`` one row per layer with its ``role``;
    ``probe`` one row per layer with the probes' accuracies.
    """

    model_name: str
    n_layers: int
    n_heads: int
    review_texts: Sample
    pair_texts: Sample
    pair_labels: np.ndarray      # [pairs] 1 = true next sentence, 0 = random
    probe_texts: pd.DataFrame
    probe: pd.DataFrame
    singles: pd.DataFrame
    tokens: pd.DataFrame         # [CLS] share of DOG_WORDS' rows in DOG_SENTENCE, per layer

    def layers(self, band: tuple[float, float]) -> list[int]:
        """The layers of a relative-depth band of this model (`bertlab.roles.layers_in_band`)."""
        return layers_in_band(self.n_layers, *band)

    @property
    def reviews(self) -> pd.DataFrame:
        return self.review_texts.heads()

    @property
    def pairs(self) -> pd.DataFrame:
        return self.pair_texts.heads()

    @property
    def profile(self) -> pd.DataFrame:
        """The reviews' layer profile with its roles (`bertlab.roles.label_layers`)."""
        return label_layers(layer_profile(self.reviews))


@on_disk
def evidence(lm: LoadedModel) -> AttentionEvidence:
    """Compute (once per loaded model and process) the tables every attention claim needs."""
    pairs, reviews = load_pairs(), load_reviews("test")
    probe_texts = probe_correctness(lm)
    return AttentionEvidence(
        model_name=lm.name, n_layers=lm.n_layers, n_heads=lm.n_heads,
        review_texts=Sample(text_measures(lm, reviews["text"].tolist()), REVIEWS),
        pair_texts=Sample(text_measures(lm, pairs["text"].tolist(), pairs["text_pair"].tolist()),
                          PAIRS),
        pair_labels=pairs["label"].to_numpy(), probe_texts=probe_texts,
        probe=_probe_table(probe_texts, reviews),
        singles=head_measures(lm, pairs["text"].tolist()), tokens=token_cls_shares(lm))


def _probe_table(probe_texts: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Per layer: the probes' held-out accuracies (as `bertlab.probing.probe_layers` gives)."""
    train = load_reviews("train")
    accuracy = (probe_texts.groupby("layer", as_index=False)[["cls_correct", "mean_correct"]]
                .mean().rename(columns={"cls_correct": "cls_accuracy",
                                        "mean_correct": "mean_accuracy"}))
    majority = train["label"].mode().iloc[0]
    return accuracy.assign(majority_rate=float((test["label"] == majority).mean()),
                           n_train=len(train), n_test=len(test))


def token_cls_shares(lm: LoadedModel, text: str = DOG_SENTENCE,
                     words: tuple[str, ...] = DOG_WORDS) -> pd.DataFrame:
    """One row per layer: for each word, the [CLS] share of that word's query row (mean over heads).

    >>> shares = token_cls_shares(load())
    >>> shares.columns.tolist()
    ['layer', 'dog', 'chased', 'cat']
    """
    att = extract(lm, text)
    names = [token.removeprefix("##").lstrip("Ġ▁").lower() for token in att.tokens]
    missing = [word for word in words if word not in names]
    if missing:
        raise InputError(f"{missing} are not single tokens of {text!r} for {lm.name} (its tokens: "
                         f"{att.tokens}). Pick words the tokenizer keeps whole.")
    to_cls = att.weights[:, :, :, att.cls_mask].sum(dim=-1).mean(dim=1)  # [L, Q]
    table = pd.DataFrame({word: to_cls[:, names.index(word)].numpy() for word in words})
    return table.rename_axis("layer").reset_index()


def border_effect(ev: AttentionEvidence, measure: str = "cross_segment_lift") -> pd.DataFrame:
    """One row per layer: the mean `measure` of true next-sentence pairs and of random pairs, and
    Cohen's d of the difference (pooled standard deviation), every pair a point.

    The default, ``cross_segment_lift``, divides out the two sentences' lengths: the raw
    ``cross_segment_share`` also differs between the groups when their lengths differ.
    """
    per_pair = ev.pair_texts[measure].mean(axis=-1)                  # [N, L]
    is_next = ev.pair_labels == 1
    rows = []
    for layer in range(ev.n_layers):
        d = float(_cohens_d(np.ones(len(is_next)), per_pair[:, layer], is_next))
        rows.append({"layer": layer, "next_pairs": per_pair[is_next, layer].mean(),
                     "random_pairs": per_pair[~is_next, layer].mean(), "cohens_d": d})
    return pd.DataFrame(rows)


def _cohens_d(weights: np.ndarray, values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Cohen's d (pooled sd) of `values` ``[N]`` between `group` and the rest, per weight row."""
    means, variances = [], []
    for members in (group, ~group):
        mean = weighted_mean(weights, values, where=members)
        second = weighted_mean(weights, values ** 2, where=members)
        means.append(mean)
        variances.append(second - mean ** 2)
    return (means[0] - means[1]) / np.sqrt((variances[0] + variances[1]) / 2)


def structured(sample: Sample) -> Condition:
    """The premise of every attention check: some layer's attention is clearly not uniform."""
    spread = sample["normalised_entropy"]                            # [N, L, H]
    return condition(Text(en="attention is structured: lowest layer-mean normalised entropy "
                             "({corpus}; near-uniform from {bar})",
                          ja="アテンションに構造がある：層平均の正規化エントロピーの最小値"
                             "（{corpus}、{bar} 以上でほぼ一様）").format(
                         corpus=sample.name_text, bar=NEAR_UNIFORM_ENTROPY),
                     sample.bootstrap(lambda w: weighted_mean(w, spread).mean(-1).min(-1)),
                     "<", NEAR_UNIFORM_ENTROPY)


def checks(lm: LoadedModel) -> list[ClaimCheck]:
    """Every attention claim check on `lm`, in claim order (the scorecard calls this)."""
    ev = evidence(lm)
    return [check(ev) for check in (check_c1, check_c2, check_c4, check_c5, check_c6, check_c7,
                                    check_c8, check_c9)]


def _layer_means(w: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``[R, L]`` (or ``[L]``): the mean over heads of the weighted mean over texts."""
    return weighted_mean(w, values).mean(-1)


def _band_mean(w: np.ndarray, values: np.ndarray, layers: list[int]) -> np.ndarray:
    return _layer_means(w, values)[..., layers].mean(-1)


def check_c1(ev: AttentionEvidence) -> ClaimCheck:
    """C1: many ordinary tokens (dog, cat, chased) put strong attention on [CLS]."""
    to_cls = ev.review_texts.excess("content_cls_share")                   # [N, L, H]
    peak = int(_layer_means(np.ones(ev.review_texts.n_texts), to_cls).argmax())
    words = ev.tokens.loc[ev.tokens["layer"] == peak, list(DOG_WORDS)].to_numpy().mean()
    return ClaimCheck("C1", Text(
        en="Many ordinary tokens (dog, cat, chased) put strong attention on [CLS].",
        ja="多くの通常のトークン（dog、cat、chased）が [CLS] に強いアテンションを向ける。"), "cls", (
        condition(Text(en="highest layer-mean [CLS] share of the ordinary tokens' rows, beyond "
                          "uniform (reviews)",
                       ja="通常のトークンの行が [CLS] に向ける割合（一様を超える分）の層平均の最大値"
                          "（レビュー）"),
                  ev.review_texts.bootstrap(lambda w: _layer_means(w, to_cls).max(-1)),
                  ">=", STRONG_SHARE),
        condition(Text(en="share of all heads whose ordinary-token rows give [CLS] ≥ {strong:g} "
                          "beyond uniform (many)",
                       ja="通常のトークンの行が一様を超える分で {strong:g} 以上を [CLS] に向ける"
                          "ヘッドの、全ヘッドに占める割合（「多く」）").format(strong=STRONG_SHARE),
                  ev.review_texts.bootstrap(lambda w: (weighted_mean(w, to_cls) >= STRONG_SHARE)
                                       .mean((-2, -1))), ">=", MAJORITY),
    ), premises=(structured(ev.review_texts),), illustrations=(Text(
        en="in {sentence}, the rows of {words} give [CLS] {share:.2f} of their attention in "
           "{layer} (one sentence: shown, not deciding)",
        ja="例文「{sentence}」では、{words} の行がアテンションの {share:.2f} を{layer}で [CLS] "
           "に向けます（1 文だけの例です）").format(
        sentence=Text(en=repr(DOG_SENTENCE), ja=DOG_SENTENCE),
        words=Text.join(Text(word, word) for word in DOG_WORDS), share=words,
        layer=layer_text(peak)),))


def check_c2(ev: AttentionEvidence) -> ClaimCheck:
    """C2: in some layers almost every head attends to [SEP] (measured on sentence pairs)."""
    to_sep = ev.pair_texts.excess("sep_share")
    return ClaimCheck("C2", Text(en="In some layers almost every head attends to [SEP].",
                                 ja="ある層では、ほぼすべてのヘッドが [SEP] に注目する。"), "sep", (
        condition(Text(en="largest share of a layer's heads giving > {bar:g} of their "
                          "attention to [SEP] beyond uniform (sentence pairs)",
                       ja="一様を超える分でアテンションの {bar:g} より多くを [SEP] に向けるヘッドが"
                          "層内に占める割合の最大値（文ペア）").format(bar=SEP_HEAD_SHARE),
                  ev.pair_texts.bootstrap(lambda w: (weighted_mean(w, to_sep) > SEP_HEAD_SHARE)
                                     .mean(-1).max(-1)), ">=", ALMOST_EVERY),
    ), premises=(structured(ev.pair_texts),))


def check_c4(ev: AttentionEvidence) -> ClaimCheck:
    """C4, attention-weight aspect: lower-layer tokens refer to [CLS]; [CLS] attends to all tokens.

    "[CLS] attends to all tokens to summarise them" names no layer; summarising follows
    gathering, and the seed's own table (C7) puts it in layers 9–12 of 12: the upper third.
    """
    upper = ev.layers(THIRDS["upper"])
    out, spread = ev.review_texts["cls_out_share"], ev.review_texts["cls_row_entropy"]
    return ClaimCheck("C4", Text(
        en="An aggregation network: lower-layer tokens refer to [CLS], and [CLS] attends to all "
           "tokens to summarise them.",
        ja="集約のネットワーク：下層のトークンは [CLS] を参照し、[CLS] はすべてのトークンに注目して"
           "それらを要約する。"), "cls", (
        _lower_third_cls(ev),
        _band_condition(ev.review_texts, out, upper, Text(
            en="share of [CLS]'s own attention on the ordinary tokens (not itself, not [SEP]), "
               "{third}",
            ja="[CLS] 自身のアテンションのうち通常のトークン（自分自身と [SEP] 以外）に向かう割合、"
               "{third}").format(third=_THIRD_NAMES["upper"]), MAJORITY),
        _band_condition(ev.review_texts, spread, upper, Text(
            en="normalised entropy of [CLS]'s attention (spread over the text), {third}",
            ja="[CLS] のアテンションの正規化エントロピー（テキスト全体への広がり）、{third}").format(
            third=_THIRD_NAMES["upper"]), BROAD_ENTROPY),
    ), premises=(structured(ev.review_texts),))


def _lower_third_cls(ev: AttentionEvidence) -> Condition:
    """The ordinary tokens of the lower third refer to [CLS] (C4's first half, C6's first row)."""
    return _band_condition(ev.review_texts, ev.review_texts.excess("content_cls_share"),
                           ev.layers(THIRDS["lower"]), Text(
                               en="mean [CLS] share of the ordinary tokens' rows beyond uniform, "
                                  "{third}",
                               ja="通常のトークンの行が [CLS] に向ける割合（一様を超える分）の平均、"
                                  "{third}").format(third=_THIRD_NAMES["lower"]), STRONG_SHARE)


def _band_condition(sample: Sample, values: np.ndarray, layers: list[int], text: Text,
                    threshold: float) -> Condition:
    """``mean over the band's layers and heads of `values` >= threshold``, bootstrapped over
    `sample`'s texts; the band's layers (counted from 1) are added to `text`."""
    return condition(Text(en="{text} ({layers}; {corpus})", ja="{text}（{layers}、{corpus}）").format(
                         text=text, layers=layers_text(layers, sample.n_layers),
                         corpus=sample.name_text),
                     sample.bootstrap(lambda w: _band_mean(w, values, layers)), ">=", threshold)


def check_c5(ev: AttentionEvidence) -> ClaimCheck:
    """C5: boundary-aware middle-to-upper layers attend to [SEP]."""
    to_sep = ev.pair_texts.excess("sep_share")
    middle_up = ev.layers((THIRDS["middle"][0], 1))
    depth = lambda w: relative_depth(_layer_means(w, to_sep).argmax(-1), ev.n_layers)  # noqa: E731
    return ClaimCheck("C5", Text(
        en="[SEP] marks sentence boundaries, so boundary-aware middle-to-upper layers attend to "
           "[SEP].",
        ja="[SEP] は文の境界を示すので、境界を意識する中層から上層が [SEP] に注目する。"), "sep", (
        _band_condition(ev.pair_texts, to_sep, middle_up, _sep_excess(_THIRD_NAMES["middle and upper"]),
                        STRONG_SHARE),
        condition(Text(en="relative depth of the layer with the highest [SEP] share beyond "
                          "uniform (pairs; 0 = bottom, 1 = top)",
                       ja="[SEP] の割合（一様を超える分）が最も高い層の相対的な深さ"
                          "（文ペア。0 = 最下層、1 = 最上層）"),
                  ev.pair_texts.bootstrap(depth), ">=", THIRDS["middle"][0]),
    ), premises=(structured(ev.pair_texts),))


def _sep_excess(third: Text) -> Text:
    """"mean [SEP] share beyond uniform, <third>" (C5, C6)."""
    return Text(en="mean [SEP] share beyond uniform, {third}",
                ja="[SEP] の割合（一様を超える分）の平均、{third}").format(third=third)


def check_c6(ev: AttentionEvidence) -> ClaimCheck:
    """C6, first two rows, on the pretrained model: [CLS] in lower layers, [SEP] in middle ones."""
    middle = ev.layers(THIRDS["middle"])
    to_sep = ev.pair_texts.excess("sep_share")
    return ClaimCheck("C6", Text(
        en="Normal profile: [CLS] concentration in lower layers, [SEP] concentration in middle "
           "layers.",
        ja="正常なプロファイル：下層では [CLS] に、中層では [SEP] にアテンションが集中する。"), "roles", (
        _lower_third_cls(ev),
        _band_condition(ev.pair_texts, to_sep, middle, _sep_excess(_THIRD_NAMES["middle"]),
                        STRONG_SHARE),
    ), aspect="pretrained profile", premises=(structured(ev.review_texts), structured(ev.pair_texts)))


def _seed_band(layers: list[int], n_layers: int, seed: Text, what: Text) -> Text:
    """C7's condition text: this model's band, the seed's layers it stands for, what is read."""
    return Text(en="{layers} (seed: {seed}): {what}",
                ja="{layers}、解説文の表では全 12 層中の{seed}：{what}").format(
        layers=layers_text(layers, n_layers), seed=seed, what=what)


def check_c7(ev: AttentionEvidence) -> ClaimCheck:
    """C7: the seed's 12-layer table, mapped by relative depth onto this model.

    Each band is judged on the signal its row names, as a continuous number with an interval
    (not a count of role labels, which on six layers is a count of one or two layers): local
    attention, or attention to [CLS], *leading* the other two signals by `LEAD_MARGIN`, each
    counted beyond uniform; and in the top band, the share of [CLS]'s own attention that goes
    out to the ordinary tokens.
    """
    (diagonal, cls_focus, out) = (ev.layers(band) for band in SEED_C7_BANDS.values())
    signals = {"local": ev.review_texts.excess("local_share"),
               "cls": ev.review_texts.excess("content_cls_share"), "sep": ev.review_texts.excess("sep_share")}

    def lead(name: str, layers: list[int]):
        def statistic(w):
            means = {key: _band_mean(w, values, layers) for key, values in signals.items()}
            others = np.maximum(*[v for key, v in means.items() if key != name])
            return means[name] - others
        return ev.review_texts.bootstrap(statistic)

    from_cls = ev.review_texts["cls_out_share"]
    return ClaimCheck("C7", Text(
        en="Lowest quarter diagonal (local); middle [CLS] focus; top third: [CLS] attends out to "
           "the other tokens.",
        ja="下の 4 分の 1 の層は対角（局所的）、中間の層は [CLS] に集中し、上の 3 分の 1 では "
           "[CLS] が他のトークンへ注目する。"), "roles", (
        condition(_seed_band(diagonal, ev.n_layers, Text(en="layers 1–3 of 12", ja="第 1〜3 層"), Text(
            en="local attention beyond uniform minus the larger of [CLS] and [SEP]",
            ja="局所的なアテンション（一様を超える分）から、[CLS] と [SEP] の大きいほうを引いた値")),
                  lead("local", diagonal), ">=", LEAD_MARGIN),
        condition(_seed_band(cls_focus, ev.n_layers, Text(en="layers 4–8 of 12", ja="第 4〜8 層"), Text(
            en="attention to [CLS] beyond uniform minus the larger of local and [SEP]",
            ja="[CLS] へのアテンション（一様を超える分）から、局所的なものと [SEP] の大きいほうを"
               "引いた値")),
                  lead("cls", cls_focus), ">=", LEAD_MARGIN),
        condition(_seed_band(out, ev.n_layers, Text(en="layers 9–12 of 12", ja="第 9〜12 層"), Text(
            en="share of [CLS]'s own attention on the ordinary tokens",
            ja="[CLS] 自身のアテンションのうち通常のトークンに向かう割合")),
                  ev.review_texts.bootstrap(lambda w: _band_mean(w, from_cls, out)), ">=", MAJORITY),
    ), premises=(structured(ev.review_texts),))


def check_c8(ev: AttentionEvidence) -> ClaimCheck:
    """C8: layers where attention gathers at [CLS] give a good sentence vector.

    The probes are fitted once on the train split; their right and wrong answers on the test
    reviews are resampled together with those reviews' attention, so every interval below
    carries both uncertainties. A correlation over layers needs at least three layers.
    """
    to_cls = ev.review_texts.excess("content_cls_share")                   # [N, L, H]
    right = ev.probe_texts.sort_values(["text", "layer"])
    n_texts = ev.review_texts.n_texts
    cls_right = right["cls_correct"].to_numpy().reshape(n_texts, ev.n_layers)   # [N, L]
    mean_right = right["mean_correct"].to_numpy().reshape(n_texts, ev.n_layers)

    def spearman(w):                                                 # w: [R, N]
        return _spearman_rows(_layer_means(w, to_cls), weighted_mean(w, cls_right))   # [R]

    def at_peak(w, minus):
        accuracy = weighted_mean(w, cls_right)                       # [R, L]
        peak, rows = _layer_means(w, to_cls).argmax(-1), np.arange(len(w))           # [R]
        return accuracy[rows, peak] - minus(w, accuracy, peak, rows)

    conditions = [
        condition(Text(en="[CLS]-probe accuracy at the layer of highest [CLS] share minus the "
                          "best layer's (0 = that layer is the best)",
                       ja="[CLS] の割合が最も高い層での [CLS] プローブの正解率から、最も良い層の"
                          "正解率を引いた値（0 = その層が最良）"),
                  ev.review_texts.bootstrap(lambda w: at_peak(w, lambda w, a, p, r: a.max(-1))),
                  ">=", 0.0),
        condition(Text(en="[CLS]-probe minus mean-pooled-probe accuracy at that layer",
                       ja="その層での [CLS] プローブと平均プーリングのプローブの正解率の差"),
                  ev.review_texts.bootstrap(lambda w: at_peak(
                      w, lambda w, a, p, r: weighted_mean(w, mean_right)[r, p])),
                  ">=", 0.0)]
    if ev.n_layers >= 3:
        conditions.insert(0, condition(SPEARMAN_OVER_LAYERS, ev.review_texts.bootstrap(spearman),
                                       ">=", MAJORITY))
    return ClaimCheck("C8", Text(
        en="Layers where attention gathers at [CLS] give a good sentence vector.",
        ja="アテンションが [CLS] に集まる層からは、良い文ベクトルが得られる。"),
        "cls", tuple(conditions), premises=(structured(ev.review_texts),))


#: C8's first condition (here and, on the zoo's classifiers, in `bertlab.claims.finetuning`).
SPEARMAN_OVER_LAYERS = Text(
    en="Spearman rank correlation over layers of the [CLS] share beyond uniform and the "
       "[CLS]-probe accuracy",
    ja="層をまたいだ、[CLS] の割合（一様を超える分）と [CLS] プローブの正解率のスピアマン順位相関")


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair of ``[R, L]`` arrays (0 where a row is constant)."""
    rx = stats.rankdata(x, axis=-1)
    ry = stats.rankdata(y, axis=-1)
    rx, ry = rx - rx.mean(-1, keepdims=True), ry - ry.mean(-1, keepdims=True)
    denominator = np.sqrt((rx ** 2).sum(-1) * (ry ** 2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx * ry).sum(-1) / denominator
    return np.where(denominator > 0, rho, 0.0)


def check_c9(ev: AttentionEvidence) -> ClaimCheck:
    """C9: layers that attend to [SEP] show where sentences break and how they relate.

    Premise: some layer attends to [SEP] (strongly, beyond uniform); without one, the claim is
    not testable on this model. The border measure is the cross-segment *lift*, chosen because
    the raw cross-segment share also moves with the two sentences' lengths, which differ between
    the groups compared; the raw share's d is shown beside it, deciding nothing.
    """
    to_sep = ev.pair_texts.excess("sep_share")
    peak = int(_layer_means(np.ones(ev.pair_texts.n_texts), to_sep).argmax())
    lift = ev.pair_texts["cross_segment_lift"].mean(axis=-1)[:, peak]      # [N] at the peak layer
    is_next = ev.pair_labels == 1
    raw = border_effect(ev, "cross_segment_share").set_index("layer").loc[peak, "cohens_d"]
    return ClaimCheck("C9", Text(
        en="Layers that attend to [SEP] show where sentences break and how they relate.",
        ja="[SEP] に注目する層を見ると、文の切れ目と文どうしの関係がわかる。"), "sep", (
        condition(Text(en="cross-segment lift in {layer}, the layer of highest [SEP] share "
                          "(1 = attention blind to the border)",
                       ja="[SEP] の割合が最も高い層である{layer}での、文の境界を越えるアテンションの"
                          "リフト（1 = 境界を区別しないアテンション）").format(layer=layer_text(peak)),
                  ev.pair_texts.bootstrap(lambda w: weighted_mean(w, lift)), "<=", 1 - LEAD_MARGIN),
        condition(Text(en="|Cohen's d| of that lift between true next and random pairs, {layer}",
                       ja="そのリフトの、本当の次の文の対と無関係な文の対の間の |Cohen の d|"
                          "（{layer}）").format(layer=layer_text(peak)),
                  ev.pair_texts.bootstrap(lambda w: np.abs(_cohens_d(w, lift, is_next)),
                                     strata=ev.pair_labels), ">=", MEDIUM_EFFECT),
    ), premises=(
        structured(ev.pair_texts),
        condition(Text(en="highest layer-mean [SEP] share beyond uniform (sentence pairs): some "
                          "layer attends to [SEP]",
                       ja="[SEP] に注目する層がある：[SEP] の割合（一様を超える分）の層平均の"
                          "最大値（文ペア）"),
                  ev.pair_texts.bootstrap(lambda w: _layer_means(w, to_sep).max(-1)), ">=", STRONG_SHARE),
    ), illustrations=(Text(
        en="|Cohen's d| of the raw cross-segment share in that layer: {d:.2f} (moves with the "
           "sentences' lengths too)",
        ja="同じ層での、境界を越えるアテンションの割合そのものの |Cohen の d|：{d:.2f}"
           "（文の長さによっても動きます）").format(d=abs(raw)),))

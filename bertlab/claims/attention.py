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
from ..caching import on_disk
from ..loading import LoadedModel, load  # noqa: F401  (load is used by the doctest above)
from ..probing import probe_correctness
from ..roles import (BROAD_ENTROPY, LEAD_MARGIN, MAJORITY, STRONG_SHARE, head_measures,
                     label_layers, layer_profile, layers_in_band, relative_depth, text_measures)
from . import ClaimCheck, Condition, condition
from .uncertainty import bootstrap, weighted_mean

__all__ = ["SEP_HEAD_SHARE", "ALMOST_EVERY", "MEDIUM_EFFECT", "THIRDS", "SEED_C7_BANDS",
           "DOG_SENTENCE", "DOG_WORDS", "Sample", "AttentionEvidence", "evidence",
           "token_cls_shares", "border_effect", "structured", "checks", "check_c1", "check_c2",
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


class Sample:
    """One corpus's per-text measures as arrays ``[text, layer, head]``, by column.

    Built from a `bertlab.roles.text_measures` table; `excess` is a share minus its value under
    uniform attention on the same text.
    """

    def __init__(self, table: pd.DataFrame, name: str):
        self.table, self.name = table, name
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
        review_texts=Sample(text_measures(lm, reviews["text"].tolist()), "reviews"),
        pair_texts=Sample(text_measures(lm, pairs["text"].tolist(), pairs["text_pair"].tolist()),
                          "sentence pairs"),
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
    return condition(f"attention is structured: lowest layer-mean normalised entropy "
                     f"({sample.name}; near-uniform from {NEAR_UNIFORM_ENTROPY})",
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


def _layer_names(layers: list[int], n_layers: int) -> str:
    """"layer 1" or "layers 2–4" (counting from 1), "of 6"."""
    shown = [layer + 1 for layer in layers]
    span = f"layer {shown[0]}" if len(shown) == 1 else f"layers {shown[0]}–{shown[-1]}"
    return f"{span} of {n_layers}"


def check_c1(ev: AttentionEvidence) -> ClaimCheck:
    """C1: many ordinary tokens (dog, cat, chased) put strong attention on [CLS]."""
    to_cls = ev.review_texts.excess("content_cls_share")                   # [N, L, H]
    peak = int(_layer_means(np.ones(ev.review_texts.n_texts), to_cls).argmax())
    words = ev.tokens.loc[ev.tokens["layer"] == peak, list(DOG_WORDS)].to_numpy().mean()
    return ClaimCheck("C1", "Many ordinary tokens (dog, cat, chased) put strong attention on [CLS].",
                      "cls", (
        condition("highest layer-mean [CLS] share of the ordinary tokens' rows, beyond uniform "
                  "(reviews)", ev.review_texts.bootstrap(lambda w: _layer_means(w, to_cls).max(-1)),
                  ">=", STRONG_SHARE),
        condition(f"share of all heads whose ordinary-token rows give [CLS] ≥ {STRONG_SHARE:g} "
                  "beyond uniform (many)",
                  ev.review_texts.bootstrap(lambda w: (weighted_mean(w, to_cls) >= STRONG_SHARE)
                                       .mean((-2, -1))), ">=", MAJORITY),
    ), premises=(structured(ev.review_texts),), illustrations=(
        f"in {DOG_SENTENCE!r}, the rows of {', '.join(DOG_WORDS)} give [CLS] {words:.2f} of their "
        f"attention in layer {peak + 1} (one sentence: shown, not deciding)",))


def check_c2(ev: AttentionEvidence) -> ClaimCheck:
    """C2: in some layers almost every head attends to [SEP] (measured on sentence pairs)."""
    to_sep = ev.pair_texts.excess("sep_share")
    return ClaimCheck("C2", "In some layers almost every head attends to [SEP].", "sep", (
        condition(f"largest share of a layer's heads giving > {SEP_HEAD_SHARE:g} of their "
                  "attention to [SEP] beyond uniform (sentence pairs)",
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
    return ClaimCheck("C4", "An aggregation network: lower-layer tokens refer to [CLS], and [CLS] "
                      "attends to all tokens to summarise them.", "cls", (
        _lower_third_cls(ev),
        _band_condition(ev.review_texts, out, upper, "share of [CLS]'s own attention on the "
                        "ordinary tokens (not itself, not [SEP]), upper third", MAJORITY),
        _band_condition(ev.review_texts, spread, upper, "normalised entropy of [CLS]'s attention "
                        "(spread over the text), upper third", BROAD_ENTROPY),
    ), premises=(structured(ev.review_texts),))


def _lower_third_cls(ev: AttentionEvidence) -> Condition:
    """The ordinary tokens of the lower third refer to [CLS] (C4's first half, C6's first row)."""
    return _band_condition(ev.review_texts, ev.review_texts.excess("content_cls_share"),
                           ev.layers(THIRDS["lower"]), "mean [CLS] share of the ordinary tokens' "
                           "rows beyond uniform, lower third", STRONG_SHARE)


def _band_condition(sample: Sample, values: np.ndarray, layers: list[int], text: str,
                    threshold: float) -> Condition:
    """``mean over the band's layers and heads of `values` >= threshold``, bootstrapped over
    `sample`'s texts; the band's layers (counted from 1) are added to `text`."""
    return condition(f"{text} ({_layer_names(layers, sample.n_layers)}; {sample.name})",
                     sample.bootstrap(lambda w: _band_mean(w, values, layers)), ">=", threshold)


def check_c5(ev: AttentionEvidence) -> ClaimCheck:
    """C5: boundary-aware middle-to-upper layers attend to [SEP]."""
    to_sep = ev.pair_texts.excess("sep_share")
    middle_up = ev.layers((THIRDS["middle"][0], 1))
    depth = lambda w: relative_depth(_layer_means(w, to_sep).argmax(-1), ev.n_layers)  # noqa: E731
    return ClaimCheck("C5", "[SEP] marks sentence boundaries, so boundary-aware middle-to-upper "
                      "layers attend to [SEP].", "sep", (
        _band_condition(ev.pair_texts, to_sep, middle_up, "mean [SEP] share beyond uniform, "
                        "middle and upper thirds", STRONG_SHARE),
        condition("relative depth of the layer with the highest [SEP] share beyond uniform "
                  "(pairs; 0 = bottom, 1 = top)", ev.pair_texts.bootstrap(depth), ">=",
                  THIRDS["middle"][0]),
    ), premises=(structured(ev.pair_texts),))


def check_c6(ev: AttentionEvidence) -> ClaimCheck:
    """C6, first two rows, on the pretrained model: [CLS] in lower layers, [SEP] in middle ones."""
    middle = ev.layers(THIRDS["middle"])
    to_sep = ev.pair_texts.excess("sep_share")
    return ClaimCheck("C6", "Normal profile: [CLS] concentration in lower layers, [SEP] "
                      "concentration in middle layers.", "roles", (
        _lower_third_cls(ev),
        _band_condition(ev.pair_texts, to_sep, middle, "mean [SEP] share beyond uniform, middle "
                        "third", STRONG_SHARE),
    ), aspect="pretrained profile", premises=(structured(ev.review_texts), structured(ev.pair_texts)))


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
    return ClaimCheck("C7", "Lowest quarter diagonal (local); middle [CLS] focus; top third: "
                      "[CLS] attends out to the other tokens.", "roles", (
        condition(f"{_layer_names(diagonal, ev.n_layers)} (seed: layers 1–3 of 12): local "
                  "attention beyond uniform minus the larger of [CLS] and [SEP]", lead("local", diagonal),
                  ">=", LEAD_MARGIN),
        condition(f"{_layer_names(cls_focus, ev.n_layers)} (seed: 4–8 of 12): attention to [CLS] "
                  "beyond uniform minus the larger of local and [SEP]", lead("cls", cls_focus),
                  ">=", LEAD_MARGIN),
        condition(f"{_layer_names(out, ev.n_layers)} (seed: 9–12 of 12): share of [CLS]'s own "
                  "attention on the ordinary tokens",
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
        condition("[CLS]-probe accuracy at the layer of highest [CLS] share minus the best "
                  "layer's (0 = that layer is the best)",
                  ev.review_texts.bootstrap(lambda w: at_peak(w, lambda w, a, p, r: a.max(-1))),
                  ">=", 0.0),
        condition("[CLS]-probe minus mean-pooled-probe accuracy at that layer",
                  ev.review_texts.bootstrap(lambda w: at_peak(
                      w, lambda w, a, p, r: weighted_mean(w, mean_right)[r, p])),
                  ">=", 0.0)]
    if ev.n_layers >= 3:
        conditions.insert(0, condition(
            "Spearman rank correlation over layers of the [CLS] share beyond uniform and the "
            "[CLS]-probe accuracy", ev.review_texts.bootstrap(spearman), ">=", MAJORITY))
    return ClaimCheck("C8", "Layers where attention gathers at [CLS] give a good sentence vector.",
                      "cls", tuple(conditions), premises=(structured(ev.review_texts),))


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
    return ClaimCheck("C9", "Layers that attend to [SEP] show where sentences break and how they "
                      "relate.", "sep", (
        condition(f"cross-segment lift in layer {peak + 1}, the layer of highest [SEP] share "
                  "(1 = attention blind to the border)",
                  ev.pair_texts.bootstrap(lambda w: weighted_mean(w, lift)), "<=", 1 - LEAD_MARGIN),
        condition(f"|Cohen's d| of that lift between true next and random pairs, layer {peak + 1}",
                  ev.pair_texts.bootstrap(lambda w: np.abs(_cohens_d(w, lift, is_next)),
                                     strata=ev.pair_labels), ">=", MEDIUM_EFFECT),
    ), premises=(
        structured(ev.pair_texts),
        condition("highest layer-mean [SEP] share beyond uniform (sentence pairs): some layer "
                  "attends to [SEP]",
                  ev.pair_texts.bootstrap(lambda w: _layer_means(w, to_sep).max(-1)), ">=", STRONG_SHARE),
    ), illustrations=(f"|Cohen's d| of the raw cross-segment share in that layer: {abs(raw):.2f} "
                      "(moves with the sentences' lengths too)",))

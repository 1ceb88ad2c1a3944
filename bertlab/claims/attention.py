"""Claim checks on attention weights: C1, C2, C4, C5, C6 (pretrained profile), C7, C8, C9.

Book chapters: "[CLS] as aggregator" (C1, C4, C8), "[SEP] and boundaries" (C2, C5, C9),
"Layer roles" (C6, C7). Each chapter calls `evidence(lm)` for its tables and figures and the
``check_*`` function of each claim for the verdict, so the book, the scorecard and the tests
decide every claim with the same code.

The evidence comes from the shipped data (`bertlab.datasets`):

* ``reviews``: the reviews' test split, single sentences: the corpus of C1, C4, C6, C7;
* ``pairs``: every sentence pair (true next sentence or not), and ``singles``: their first
  sentences alone: C2, C5, C6, C9;
* ``probe``: linear probes of each layer on the reviews (train split fits, test split scores): C8.

Depth is relative (`bertlab.roles.relative_depth`), never a layer number, so the checks run on a
model of any depth: the lower, middle and upper thirds of the stack, and the seed's 12-layer
table of C7 mapped proportionally (its layers 1–3 are the bottom quarter, and so on).

>>> [layers_in_band(6, *band) for band in SEED_C7_BANDS.values()]   # C7's table on 6 layers
[[0], [1, 2, 3], [4, 5]]
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..datasets import load_pairs, load_reviews
from ..errors import InputError
from ..extraction import extract
from ..loading import LoadedModel, load  # noqa: F401  (load is used by the doctest above)
from ..probing import probe_layers, rank_correlation
from ..roles import (BROAD_ENTROPY, MAJORITY, STRONG_SHARE, head_measures, label_layers,
                     layer_profile, layers_in_band, relative_depth, text_measures)
from . import ClaimCheck, Condition

__all__ = ["SEP_HEAD_SHARE", "ALMOST_EVERY", "MEDIUM_EFFECT", "THIRDS", "SEED_C7_BANDS",
           "DOG_SENTENCE", "DOG_WORDS", "AttentionEvidence", "evidence", "token_cls_shares",
           "border_effect", "checks", "check_c1", "check_c2", "check_c4", "check_c5",
           "check_c6", "check_c7", "check_c8", "check_c9"]

# --- Thresholds: where each number comes from --------------------------------------------------
# "Strong" (STRONG_SHARE = 0.3) and "most" (MAJORITY = 0.5) are the role rules' own constants
# (bertlab.roles), so a claim and a layer label never disagree about what strong means.
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
SEED_C7_BANDS = {"diagonal (layers 1–3)": (0, 3 / 12), "[CLS] focus (layers 4–8)": (3 / 12, 8 / 12),
                 "[CLS] attends out (layers 9–12)": (8 / 12, 1)}
#: The sentence and the ordinary words claim C1 names.
DOG_SENTENCE = "The dog chased the cat."
DOG_WORDS = ("dog", "chased", "cat")


@dataclass(frozen=True)
class AttentionEvidence:
    """Every table the attention claims are decided on, computed once per model (`evidence`).

    Head tables have one row per (layer, head) (`bertlab.roles.head_measures`); ``profile`` one
    row per layer with its ``role``; ``pair_texts`` one row per (pair, layer, head).
    """

    model_name: str
    n_layers: int
    n_heads: int
    reviews: pd.DataFrame        # head table, reviews test split
    profile: pd.DataFrame        # layer profile of `reviews`, with roles
    pairs: pd.DataFrame          # head table, all sentence pairs
    singles: pd.DataFrame        # head table, the pairs' first sentences alone
    pair_texts: pd.DataFrame     # per-pair table of `pairs` (text, layer, head)
    pair_labels: np.ndarray      # [pairs] 1 = true next sentence, 0 = random
    tokens: pd.DataFrame         # [CLS] share of DOG_WORDS' rows in DOG_SENTENCE, per layer
    probe: pd.DataFrame          # per layer: [CLS] and mean-pooled probe accuracy

    def layers(self, band: tuple[float, float]) -> list[int]:
        """The layers of a relative-depth band of this model (`bertlab.roles.layers_in_band`)."""
        return layers_in_band(self.n_layers, *band)


@functools.lru_cache(maxsize=4)
def evidence(lm: LoadedModel) -> AttentionEvidence:
    """Compute (once per loaded model and process) the tables every attention claim needs."""
    reviews = head_measures(lm, load_reviews("test")["text"].tolist())
    pairs = load_pairs()
    pair_texts = text_measures(lm, pairs["text"].tolist(), pairs["text_pair"].tolist())
    return AttentionEvidence(
        model_name=lm.name, n_layers=lm.n_layers, n_heads=lm.n_heads,
        reviews=reviews, profile=label_layers(layer_profile(reviews)),
        pairs=pair_texts.drop(columns="text").groupby(["layer", "head"], as_index=False).mean(),
        singles=head_measures(lm, pairs["text"].tolist()),
        pair_texts=pair_texts, pair_labels=pairs["label"].to_numpy(),
        tokens=token_cls_shares(lm), probe=probe_layers(lm))


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
    per_pair = ev.pair_texts.groupby(["text", "layer"])[measure].mean().unstack()
    is_next = ev.pair_labels == 1                                   # [pairs]
    rows = []
    for layer in per_pair.columns:
        following, random = per_pair[layer][is_next], per_pair[layer][~is_next]
        pooled = np.sqrt((following.var() + random.var()) / 2)
        rows.append({"layer": layer, "next_pairs": following.mean(), "random_pairs": random.mean(),
                     "cohens_d": (following.mean() - random.mean()) / pooled})
    return pd.DataFrame(rows)


def checks(lm: LoadedModel) -> list[ClaimCheck]:
    """Every attention claim check on `lm`, in claim order (the scorecard calls this)."""
    ev = evidence(lm)
    return [check(ev) for check in (check_c1, check_c2, check_c4, check_c5, check_c6, check_c7,
                                    check_c8, check_c9)]


def check_c1(ev: AttentionEvidence) -> ClaimCheck:
    """C1: many ordinary tokens (dog, cat, chased) put strong attention on [CLS]."""
    layers = ev.reviews.groupby("layer")["cls_share"].mean()
    peak = int(layers.idxmax())
    words = ev.tokens.loc[ev.tokens["layer"] == peak, list(DOG_WORDS)].to_numpy().mean()
    return ClaimCheck("C1", "Many ordinary tokens (dog, cat, chased) put strong attention on [CLS].",
                      "cls", (
        _condition("highest layer-mean [CLS] share over the reviews", layers.max(), ">=", STRONG_SHARE),
        _condition(f"share of all heads with a [CLS] share ≥ {STRONG_SHARE:g} (many)",
                  (ev.reviews["cls_share"] >= STRONG_SHARE).mean(), ">=", MAJORITY),
        _condition(f"[CLS] share of the rows of {', '.join(DOG_WORDS)} in {DOG_SENTENCE!r}, "
                  f"in the layer of highest [CLS] share", words, ">=", STRONG_SHARE),
    ))


def check_c2(ev: AttentionEvidence) -> ClaimCheck:
    """C2: in some layers almost every head attends to [SEP] (measured on sentence pairs)."""
    above = (ev.pairs["sep_share"] > SEP_HEAD_SHARE).groupby(ev.pairs["layer"]).mean()
    return ClaimCheck("C2", "In some layers almost every head attends to [SEP].", "sep", (
        _condition(f"largest share of a layer's heads giving > {SEP_HEAD_SHARE:g} of their attention "
                  "to [SEP] (sentence pairs)", above.max(), ">=", ALMOST_EVERY),
    ))


def check_c4(ev: AttentionEvidence) -> ClaimCheck:
    """C4, attention-weight aspect: lower-layer tokens refer to [CLS]; [CLS] attends to all tokens."""
    lower = _band_mean(ev.profile, "cls_share", ev.layers(THIRDS["lower"]))
    out = ev.profile.set_index("layer")["cls_out_share"]
    widest = int(out.idxmax())
    spread = ev.reviews.groupby("layer")["cls_row_entropy"].mean()[widest]
    return ClaimCheck("C4", "An aggregation network: lower-layer tokens refer to [CLS], and [CLS] "
                      "attends to all tokens to summarise them.", "cls", (
        _condition("mean [CLS] share in the lower third of the layers", lower, ">=", STRONG_SHARE),
        _condition("highest share of [CLS]'s own attention on ordinary tokens (any layer)",
                  out.max(), ">=", MAJORITY),
        _condition("normalised entropy of [CLS]'s attention in that layer (spread over all tokens)",
                  spread, ">=", BROAD_ENTROPY),
    ))


def check_c5(ev: AttentionEvidence) -> ClaimCheck:
    """C5: boundary-aware middle-to-upper layers attend to [SEP]."""
    sep = ev.pairs.groupby("layer")["sep_share"].mean()
    middle_up = ev.layers((THIRDS["middle"][0], 1))
    peak_depth = relative_depth(int(sep.idxmax()), ev.n_layers)
    return ClaimCheck("C5", "[SEP] marks sentence boundaries, so boundary-aware middle-to-upper "
                      "layers attend to [SEP].", "sep", (
        _condition("mean [SEP] share of the middle and upper thirds (sentence pairs)",
                  sep[middle_up].mean(), ">=", STRONG_SHARE),
        _condition("relative depth of the layer with the highest [SEP] share (pairs)",
                  peak_depth, ">=", THIRDS["middle"][0]),
    ))


def check_c6(ev: AttentionEvidence) -> ClaimCheck:
    """C6, first two rows, on the pretrained model: [CLS] in lower layers, [SEP] in middle ones."""
    return ClaimCheck("C6", "Normal profile: [CLS] concentration in lower layers, [SEP] "
                      "concentration in middle layers.", "roles", (
        _condition("mean [CLS] share in the lower third of the layers (reviews)",
                  _band_mean(ev.profile, "cls_share", ev.layers(THIRDS["lower"])), ">=", STRONG_SHARE),
        _condition("mean [SEP] share in the middle third of the layers (sentence pairs)",
                  _band_mean(ev.pairs, "sep_share", ev.layers(THIRDS["middle"])), ">=", STRONG_SHARE),
    ), aspect="pretrained profile")


def check_c7(ev: AttentionEvidence) -> ClaimCheck:
    """C7: the seed's 12-layer table, mapped by relative depth onto this model."""
    profile = ev.profile.set_index("layer")
    (diagonal, cls_focus, out) = (ev.layers(band) for band in SEED_C7_BANDS.values())
    return ClaimCheck("C7", "Lowest quarter diagonal (local); middle [CLS] focus; top third: "
                      "[CLS] attends out to the other tokens.", "roles", (
        _condition("share of the lowest-quarter layers labelled 'local'",
                  (profile.loc[diagonal, "role"] == "local").mean(), ">=", MAJORITY),
        _condition("share of the next layers (to two thirds) labelled 'cls-aggregating'",
                  (profile.loc[cls_focus, "role"] == "cls-aggregating").mean(), ">=", MAJORITY),
        _condition("share of the top-third layers where [CLS] gives most attention to ordinary tokens",
                  (profile.loc[out, "cls_out_share"] >= MAJORITY).mean(), ">=", MAJORITY),
    ))


def check_c8(ev: AttentionEvidence) -> ClaimCheck:
    """C8: layers where attention gathers at [CLS] give a good sentence vector."""
    probe = ev.probe.set_index("layer")
    cls_share = ev.profile.set_index("layer")["cls_share"]
    peak = int(cls_share.idxmax())
    accuracy = probe.loc[peak, "cls_accuracy"]
    # One standard error of a held-out accuracy: differences smaller than this are ties.
    tie = np.sqrt(accuracy * (1 - accuracy) / probe.loc[peak, "n_test"])
    # A rank correlation needs at least three layers; a shallower model is judged without it.
    correlation = () if ev.n_layers < 3 else (_condition(
        "Spearman rank correlation of [CLS] share and [CLS]-probe accuracy over layers",
        rank_correlation(cls_share, probe["cls_accuracy"])[0], ">=", MAJORITY),)
    return ClaimCheck("C8", "Layers where attention gathers at [CLS] give a good sentence vector.",
                      "cls", (
        *correlation,
        _condition("[CLS]-probe accuracy at the highest-[CLS]-share layer minus the best layer's "
                  "(tie within one standard error)", accuracy - probe["cls_accuracy"].max(), ">=", -tie),
        _condition("[CLS]-probe minus mean-pooled-probe accuracy at that layer "
                  "(tie within one standard error)", accuracy - probe.loc[peak, "mean_accuracy"],
                  ">=", -tie),
    ))


def check_c9(ev: AttentionEvidence) -> ClaimCheck:
    """C9: layers that attend to [SEP] show where sentences break and how they relate."""
    sep = ev.pairs.groupby("layer")["sep_share"].mean()
    peak = int(sep.idxmax())
    effect = border_effect(ev).set_index("layer").loc[peak, "cohens_d"]
    return ClaimCheck("C9", "Layers that attend to [SEP] show where sentences break and how they "
                      "relate.", "sep", (
        _condition("highest layer-mean [SEP] share (sentence pairs)", sep.max(), ">=", STRONG_SHARE),
        _condition("|Cohen's d| of cross-segment lift (length-corrected), true next vs random "
                  "pairs, in that layer",
                  abs(effect), ">=", MEDIUM_EFFECT),
    ))


def _condition(text: str, value, op: str, threshold) -> Condition:
    """A `Condition` with plain Python floats (numpy and torch scalars do not serialise to JSON)."""
    return Condition(text, float(value), op, float(threshold))


def _band_mean(table: pd.DataFrame, column: str, layers: list[int]) -> float:
    """Mean of `column` over the rows of `layers` (a layer or a (layer, head) table)."""
    return float(table.loc[table["layer"].isin(layers), column].mean())

"""Measured roles: what each layer does, and which of Kovaleva's patterns each head draws.

Book chapter: "Layer roles" (also used by "[CLS] as aggregator" and "[SEP] and boundaries").

Everything starts from one pass over a corpus, `text_measures`: per text, layer and head, the
`bertlab.METRICS` plus a few measures the role rules need. Every query row ``a`` (it sums to 1)
is split into three disjoint buckets of keys:

* **band**: the token itself and its two neighbours (``|i - j| <= 1``), so ``local_share`` =
  ``self_share + prev_share + next_share``;
* **columns**: [CLS], [SEP] and punctuation keys outside the band (``column_share``): the
  "vertical stripes" of an attention map, the same keys for every query;
* **far**: every other key (``far_share = 1 - local_share - column_share``); on sentence pairs
  ``far_within_share`` is the part of it that stays inside the query's own sentence.

``normalised_entropy`` is a text's mean row entropy divided by ln n (n = its tokens): 1 means
attention spread evenly over the text, 0 means every row on one key; ``n ** h`` is the number of
keys an even split with the same entropy would cover.

Every share is judged against what evenly spread (uniform) attention would give on the same
text: the ``uniform_<share>`` columns (`UNIFORM_BASELINES`). On a six-token text the band of a
token and its two neighbours already holds about 0.4 of uniform attention, so a local share of
0.4 there says nothing; ``<share> - uniform_<share>``, the *excess*, is what the rules read. ``cls_out_share`` and ``cls_row_entropy``
describe the [CLS] row alone (attention *from* [CLS]): its share on ordinary (non-special)
tokens, and its normalised entropy; ``content_cls_share`` is the [CLS] share of the ordinary
tokens' rows alone (attention *to* [CLS] from the words, without [CLS]'s and [SEP]'s own rows).
On sentence pairs, ``cross_segment_lift`` is the
``cross_segment_share`` divided by the share that evenly spread attention would send across the
border (which depends on the two sentences' lengths): 1 means attention is blind to the border,
below 1 means it stays in its own sentence (NaN for single sentences).

Two rule sets turn these into labels, each rule one sentence, checked in order:

`label_layers` (one row per layer, mean over heads), `LAYER_ROLES`:

1. the local, [CLS] or [SEP] share with the largest excess over uniform attention names the role
   ("local", "cls-aggregating", "sep/boundary") when the share is at least `STRONG_SHARE`, its
   excess at least `LEAD_MARGIN`, and its excess leads the next one's by `LEAD_MARGIN`;
2. otherwise a layer with ``normalised_entropy >= BROAD_ENTROPY`` is "broad";
3. otherwise "mixed".

`label_heads` (one row per head), `HEAD_PATTERNS` (Kovaleva et al. 2019):

1. "block": on sentence pairs, at least `MAJORITY` of the attention is far and at least
   `BLOCK_WITHIN` of that stays inside the query's own sentence;
2. "heterogeneous": attention spread evenly (``normalised_entropy >= BROAD_ENTROPY``);
3. "vertical": at least `MAJORITY` on the columns;
4. "diagonal": at least `MAJORITY` on the band;
5. "vertical+diagonal": columns and band together hold at least `MAJORITY`;
6. "heterogeneous" otherwise;

where rules 3–5 also need the pattern's keys to hold at least `LEAD_MARGIN` more than uniform
attention would give them. A hand-built table without the ``uniform_*`` columns is compared with
0 instead (no text, no baseline).

Shape letters: B batch, L layer, H head, Q query, K key, M metric, C measure.

>>> lm = load()
>>> roles = layer_roles(lm, ["The dog chased the cat.", "It was a sunny day."])
>>> len(roles) == lm.n_layers and set(roles["role"]) <= set(LAYER_ROLES)
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from .errors import InputError
from .extraction import Attention, PositionMasks, extract  # noqa: F401  (extract: doctest)
from .loading import LoadedModel, load  # noqa: F401  (load is used by the doctest above)
from .metrics import METRICS, normalised_entropy, text_scores
from .reduction import Measurement, run_pass, tidy

__all__ = ["LAYER_ROLES", "HEAD_PATTERNS", "PROFILE_COLUMNS", "STRONG_SHARE", "LEAD_MARGIN",
           "BROAD_ENTROPY", "MAJORITY", "BLOCK_WITHIN", "MEASURES", "UNIFORM_BASELINES",
           "ROLE_MEASURES", "measure", "text_measures", "head_measures",
           "layer_profile", "label_layers", "layer_roles", "label_heads", "head_patterns",
           "relative_depth", "layers_in_band"]

LAYER_ROLES = ("local", "cls-aggregating", "sep/boundary", "broad", "mixed")
HEAD_PATTERNS = ("vertical", "diagonal", "vertical+diagonal", "block", "heterogeneous")

# --- Thresholds: where each number comes from --------------------------------------------------
#: A share of attention counts as strong from 0.3 on: five times the 1/n ≈ 0.06 that one key gets
#: from evenly spread attention in a text of n ≈ 16.5 tokens (the shipped reviews' mean WordPiece
#: length, [CLS] and [SEP] included; bertlab/data/DATACARD.md).
#: The same number decides "strong" in the claim checks (`bertlab.claims.attention`).
STRONG_SHARE = 0.3
#: A signal leads clearly when it is at least 10 points (0.1) above the runner-up; closer than
#: that, a different corpus can swap the two, so the layer is not given either role.
LEAD_MARGIN = 0.1
#: Attention is spread ("broad") when its normalised entropy is at least 0.7: as even as a split
#: over n ** 0.7 keys, about 7 of a 16-token review, so no small set of keys holds it.
BROAD_ENTROPY = 0.7
#: A head draws a pattern when that pattern's keys hold at least half of its attention.
MAJORITY = 0.5
#: A "block" keeps at least 80 % of its far attention inside the query's own sentence; attention
#: blind to the border would keep about half (two sentences of similar length).
BLOCK_WITHIN = 0.8

#: The shares whose value under uniform attention on the same text `text_measures` reports, as
#: ``uniform_<share>``: the baseline every rule and claim compares a share with.
UNIFORM_BASELINES = ("local_share", "column_share", "cls_share", "sep_share", "special_share",
                     "cls_out_share", "content_cls_share")
#: The extra per-head measures `text_measures` adds to `bertlab.METRICS`.
MEASURES = ("local_share", "column_share", "far_share", "far_within_share", "normalised_entropy",
            "cls_out_share", "cls_row_entropy", "cross_segment_lift", "content_cls_share",
            *(f"uniform_{share}" for share in UNIFORM_BASELINES))
#: The columns of `layer_profile`, one signal each, with the baselines the layer rules need.
PROFILE_COLUMNS = ("local_share", "cls_share", "sep_share", "punct_share", "normalised_entropy",
                   "cls_out_share", "uniform_local_share", "uniform_cls_share",
                   "uniform_sep_share", "uniform_cls_out_share")
_ROLE_OF_SHARE = {"local_share": "local", "cls_share": "cls-aggregating", "sep_share": "sep/boundary"}


def measure(att: Attention) -> pd.DataFrame:
    """One row per (layer, head) of one text: `bertlab.METRICS` and `MEASURES`.

    Works on any `Attention`, hand-built ones included (book: "Layer roles", exercises).

    >>> table = measure(extract(load(), "The dog chased the cat."))
    >>> bool(((table["local_share"] + table["column_share"] + table["far_share"]) - 1).abs().max() < 1e-6)
    True
    """
    if not isinstance(att, Attention):
        raise InputError(f"measure takes the Attention of one text (from bertlab.extract), got "
                         f"{type(att).__name__}. For many texts use bertlab.head_measures.")
    values = _batch_measures(att.weights[None].unbind(1), att.masks())  # [1, L, H, M + C]
    return tidy(values[0], ROLE_COLUMNS)


def text_measures(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                  batch_size: int = 32, progress: bool = False) -> pd.DataFrame:
    """One row per (text, layer, head): `bertlab.METRICS` and `MEASURES`, in one model pass.

    ``text`` is the 0-based index of the text in `texts`. Averaging over ``text`` gives
    `head_measures`; keeping it gives spreads, tests and intervals across texts (book: "[SEP] and
    boundaries", "Claims scorecard").
    """
    result = run_pass(lm, texts, [ROLE_MEASURES], pairs=pairs, keep_texts=True, batch_size=batch_size,
                      progress=progress, desc="roles")
    return result.table(ROLE_MEASURES.name)


def head_measures(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                  batch_size: int = 32, progress: bool = False) -> pd.DataFrame:
    """One row per (layer, head): `text_measures` averaged over texts, each text weighted equally.

    The `bertlab.METRICS` columns equal `bertlab.corpus_scores` on the same texts.
    """
    result = run_pass(lm, texts, [ROLE_MEASURES], pairs=pairs, batch_size=batch_size,
                      progress=progress, desc="roles")
    return result.table(ROLE_MEASURES.name)


def layer_profile(table: pd.DataFrame) -> pd.DataFrame:
    """One row per layer: the `PROFILE_COLUMNS` averaged over heads, plus ``relative_depth``.

    `table` is a (layer, head) table from `head_measures` (a `corpus_scores` table lacks the
    measures the profile needs).
    """
    _check_columns(table, ("layer", "head", *PROFILE_COLUMNS), "head_measures")
    profile = table.groupby("layer", as_index=False)[list(PROFILE_COLUMNS)].mean()
    profile["relative_depth"] = relative_depth(profile["layer"], len(profile))
    return profile


def label_layers(profile: pd.DataFrame) -> pd.DataFrame:
    """`profile` with a ``role`` column (one of `LAYER_ROLES`), by the rules in the module doc.

    >>> profile = pd.DataFrame({"local_share": [0.9, 0.1, 0.2], "cls_share": [0.05, 0.8, 0.1],
    ...                         "sep_share": [0.0, 0.05, 0.1], "normalised_entropy": [0.1, 0.2, 0.9]})
    >>> label_layers(profile)["role"].tolist()
    ['local', 'cls-aggregating', 'broad']
    """
    _check_columns(profile, (*_ROLE_OF_SHARE, "normalised_entropy"), "layer_profile")
    labelled = profile.copy()
    labelled["role"] = [_layer_role(row) for _, row in profile.iterrows()]
    return labelled


def layer_roles(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                batch_size: int = 32, progress: bool = False) -> pd.DataFrame:
    """One row per layer: its profile and its ``role`` (`label_layers` of `layer_profile`)."""
    table = head_measures(lm, texts, pairs, batch_size=batch_size, progress=progress)
    return label_layers(layer_profile(table))


def label_heads(table: pd.DataFrame) -> pd.DataFrame:
    """`table` (from `head_measures`) with a ``pattern`` column, one of `HEAD_PATTERNS`.

    >>> heads = pd.DataFrame({"column_share": [0.9, 0.0, 0.3], "local_share": [0.05, 1.0, 0.3],
    ...                       "far_share": [0.05, 0.0, 0.4], "far_within_share": [np.nan] * 3,
    ...                       "normalised_entropy": [0.1, 0.0, 0.5]})
    >>> label_heads(heads)["pattern"].tolist()
    ['vertical', 'diagonal', 'vertical+diagonal']
    """
    _check_columns(table, ("column_share", "local_share", "far_share", "far_within_share",
                           "normalised_entropy"), "head_measures")
    labelled = table.copy()
    labelled["pattern"] = [_head_pattern(row) for _, row in table.iterrows()]
    return labelled


def head_patterns(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                  batch_size: int = 32, progress: bool = False) -> pd.DataFrame:
    """One row per (layer, head): its measures and its Kovaleva ``pattern`` (`label_heads`)."""
    return label_heads(head_measures(lm, texts, pairs, batch_size=batch_size, progress=progress))


def relative_depth(layer, n_layers: int):
    """Where a 0-based layer sits in the stack, from 0 (bottom) to 1 (top): its centre,
    ``(layer + 0.5) / n_layers``. Compares layers of models of different depth.

    >>> relative_depth(0, 6), relative_depth(11, 12)
    (0.08333333333333333, 0.9583333333333334)
    """
    if n_layers < 1:
        raise InputError(f"n_layers must be at least 1, got {n_layers}.")
    return (layer + 0.5) / n_layers


def layers_in_band(n_layers: int, start: float, stop: float) -> list[int]:
    """The 0-based layers whose `relative_depth` lies in ``[start, stop)`` (``stop = 1`` includes
    the top). A band too narrow to hold a layer centre gets the layer nearest to its middle, so
    every band of a shallow model still names one layer.

    >>> layers_in_band(6, 0, 1 / 3), layers_in_band(12, 2 / 3, 1), layers_in_band(2, 1 / 3, 2 / 3)
    ([0, 1], [8, 9, 10, 11], [0])
    """
    if not 0 <= start < stop <= 1:
        raise InputError(f"A depth band needs 0 <= start < stop <= 1, got [{start}, {stop}).")
    depths = [relative_depth(layer, n_layers) for layer in range(n_layers)]
    inside = [layer for layer, depth in enumerate(depths) if start <= depth < stop or
              (stop == 1 and depth == 1)]
    if inside:
        return inside
    middle = (start + stop) / 2
    return [min(range(n_layers), key=lambda layer: abs(depths[layer] - middle))]


def _excess(row: pd.Series, share: str) -> float:
    """How far `share` lies above what uniform attention gives on the same texts (0 without a
    ``uniform_`` column: a hand-built table has no texts to spread attention over)."""
    return float(row[share]) - float(row.get(f"uniform_{share}", 0.0))


def _layer_role(row: pd.Series) -> str:
    excess = {share: _excess(row, share) for share in _ROLE_OF_SHARE}
    leader, runner_up = sorted(excess, key=excess.get, reverse=True)[:2]
    if (row[leader] >= STRONG_SHARE and excess[leader] >= LEAD_MARGIN
            and excess[leader] - excess[runner_up] >= LEAD_MARGIN):
        return _ROLE_OF_SHARE[leader]
    return "broad" if row["normalised_entropy"] >= BROAD_ENTROPY else "mixed"


def _head_pattern(row: pd.Series) -> str:
    # far_within_share is NaN on single sentences, and NaN >= x is False: no block there.
    if row["far_share"] >= MAJORITY and row["far_within_share"] >= BLOCK_WITHIN:
        return "block"
    if row["normalised_entropy"] >= BROAD_ENTROPY:
        return "heterogeneous"
    columns, band = row["column_share"], row["local_share"]
    above = {"columns": _excess(row, "column_share"), "band": _excess(row, "local_share")}
    if columns >= MAJORITY and above["columns"] >= LEAD_MARGIN:
        return "vertical"
    if band >= MAJORITY and above["band"] >= LEAD_MARGIN:
        return "diagonal"
    if columns + band >= MAJORITY and above["columns"] + above["band"] >= LEAD_MARGIN:
        return "vertical+diagonal"
    return "heterogeneous"


def _batch_measures(attentions: Sequence[torch.Tensor], masks: PositionMasks) -> torch.Tensor:
    """``[B, L, H, M + C]``: per text, the METRICS then the MEASURES, from L tensors ``[B, H, Q, K]``."""
    measured = _shares_and_spread(attentions, masks)                  # [B, L, H, M + 9]
    valid = masks.valid.float()                                       # [B, T]
    uniform = (valid[:, None, :] * valid[:, :, None]) / valid.sum(dim=1)[:, None, None]  # [B, Q, K]
    baseline = _shares_and_spread([uniform[:, None]], masks)[:, 0, 0]  # [B, M + 9], one "head"
    columns = [*METRICS, *MEASURES[:9]]
    picked = baseline[:, [columns.index(share) for share in UNIFORM_BASELINES]]  # [B, U]
    n_layers, n_heads = measured.shape[1:3]
    return torch.cat([measured, picked[:, None, None].expand(-1, n_layers, n_heads, -1)], dim=-1)


def _shares_and_spread(attentions: Sequence[torch.Tensor], masks: PositionMasks) -> torch.Tensor:
    """``[B, L, H, M + 9]``: the METRICS and the first nine MEASURES (all but the baselines)."""
    metrics = text_scores(attentions, masks, "all")                  # [B, L, H, M]
    from_cls = text_scores(attentions, masks, "cls")                  # [B, L, H, M]
    from_content = text_scores(attentions, masks, "content")          # [B, L, H, M]
    column = METRICS.index
    lengths = masks.valid.sum(dim=1)                                  # [B], n
    local = metrics[..., column("self_share")] + metrics[..., column("prev_share")] \
        + metrics[..., column("next_share")]                          # [B, L, H]
    columns, far_within = _bucket_shares(attentions, masks)           # [B, L, H] each
    extra = torch.stack([
        local, columns, 1 - local - columns, far_within,
        normalised_entropy(metrics[..., column("entropy")], lengths),
        1 - from_cls[..., column("special_share")],
        normalised_entropy(from_cls[..., column("entropy")], lengths),
        metrics[..., column("cross_segment_share")] / _even_cross_share(masks)[:, None, None],
        from_content[..., column("cls_share")],
    ], dim=-1)                                                        # [B, L, H, 9]
    return torch.cat([metrics.double(), extra.double()], dim=-1)      # [B, L, H, M + 9]


def _even_cross_share(masks: PositionMasks) -> torch.Tensor:
    """``[B]``: the cross-segment share of evenly spread attention, mean over real queries."""
    other = masks.segment[:, :, None] != masks.segment[:, None, :]           # [B, Q, K]
    valid = masks.valid.double()                                             # [B, T]
    per_query = (other.double() * valid[:, None, :]).sum(-1) / valid.sum(-1, keepdim=True)  # [B, Q]
    return (per_query * valid).sum(-1) / valid.sum(-1)                       # [B]


def _bucket_shares(attentions: Sequence[torch.Tensor], masks: PositionMasks
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per text, layer and head (``[B, L, H]`` each): the column share, and the part of the far
    share that stays in the query's sentence (NaN for single sentences). Rows averaged over the
    text's real queries."""
    n_positions = masks.valid.shape[1]
    offsets = torch.arange(n_positions)
    band = (offsets[:, None] - offsets[None, :]).abs() <= 1                   # [Q, K]
    fixed = (masks.special | masks.punct)[:, None, :] & ~band                 # [B, Q, K]
    same_sentence = masks.segment[:, :, None] == masks.segment[:, None, :]    # [B, Q, K]
    far_within_keys = ~band & ~fixed & same_sentence                          # [B, Q, K]
    query_weight = masks.valid.double() / masks.valid.sum(dim=1, keepdim=True)  # [B, Q]
    columns, far_within = [], []
    for a in attentions:                                                      # a: [B, H, Q, K]
        a = a.double()
        fixed_rows = torch.einsum("bhqk,bqk->bhq", a, fixed.double())         # [B, H, Q]
        within_rows = torch.einsum("bhqk,bqk->bhq", a, far_within_keys.double())
        far_rows = 1 - a.masked_fill(~band, 0).sum(-1) - fixed_rows           # [B, H, Q]
        columns.append(torch.einsum("bhq,bq->bh", fixed_rows, query_weight))  # [B, H]
        far_within.append(torch.einsum("bhq,bq->bh", within_rows, query_weight)
                          / torch.einsum("bhq,bq->bh", far_rows, query_weight))
    far_within = torch.stack(far_within, dim=1)                               # [B, L, H]
    far_within = torch.where(masks.is_pair[:, None, None], far_within, torch.nan)
    return torch.stack(columns, dim=1), far_within                            # [B, L, H] each


def _check_columns(table, needed: Sequence[str], source: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"Expected a pandas DataFrame from bertlab.{source}, got "
                         f"{type(table).__name__}.")
    missing = [name for name in needed if name not in table.columns]
    if missing:
        raise InputError(f"The table lacks the columns {missing}. Build it with "
                         f"bertlab.{source}(...) (a bertlab.corpus_scores table lacks the role "
                         "measures: use bertlab.head_measures instead).")


#: The columns of `text_measures` and `head_measures` after ``layer`` and ``head``.
ROLE_COLUMNS = (*METRICS, *MEASURES)
#: `text_measures`' computation as a `bertlab.reduction.Measurement`, to share a pass with others.
ROLE_MEASURES = Measurement("roles", ROLE_COLUMNS,
                            lambda batch: _batch_measures(batch.attentions, batch.masks))

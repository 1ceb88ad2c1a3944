"""Score attention: one number per (layer, head) for each metric below.

Book chapters: "Extracting and reading attention", "[CLS] as aggregator", "[SEP] and boundaries".

For one query row ``a = weights[l, h, i]`` (it sums to 1 over the keys):

* ``cls_share`` / ``sep_share`` / ``special_share`` / ``punct_share``: sum of ``a`` over those keys
* ``self_share`` = ``a[i]``, ``prev_share`` = ``a[i-1]``, ``next_share`` = ``a[i+1]`` (0 off the edge)
* ``entropy`` = ``-sum_j a[j] ln a[j]`` in nats (0 ln 0 = 0)
* ``cross_segment_share``: sum over keys in the other sentence of a pair (NaN for one sentence)

A text's value is the mean over its query rows (specials included, or only the [CLS] row with
``queries="cls"``: attention *from* [CLS]); a corpus value is the mean over texts.

Shape letters: B batch, L layer, H head, Q query, K key, M metric.

>>> lm = load()
>>> table = score(extract(lm, "The dog chased the cat."))
>>> len(table) == lm.n_layers * lm.n_heads
True
"""

from __future__ import annotations

import math  # noqa: F401  (the normalised_entropy doctest)
from collections.abc import Sequence
from typing import NamedTuple

import pandas as pd
import torch

from .errors import InputError
from .extraction import Attention, PositionMasks, extract  # noqa: F401  (extract: doctest)
from .loading import LoadedModel, load  # noqa: F401  (load is used by the doctest above)
from .reduction import Measurement, run_pass, tidy

__all__ = ["METRICS", "QUERY_SETS", "SCORES", "SCORES_FROM_CLS", "SCORES_FROM_CONTENT", "score", "corpus_scores",
           "layer_means", "text_scores", "scores_table", "normalised_entropy", "score_measurement"]

METRICS = ("cls_share", "sep_share", "special_share", "punct_share", "self_share", "prev_share",
           "next_share", "entropy", "cross_segment_share")

#: Which query rows a text's value averages: every real position, the [CLS] row alone, or the
#: rows of the ordinary (content) tokens, the tokens the tokenizer did not add.
QUERY_SETS = ("all", "cls", "content")


def score(att: Attention, *, queries: str = "all") -> pd.DataFrame:
    """One row per (layer, head) of one text, columns `METRICS`; `layer`/`head` are 0-based."""
    if not isinstance(att, Attention):
        raise InputError(f"score takes the Attention of one text (from bertlab.extract), got "
                         f"{type(att).__name__}. For many texts use bertlab.corpus_scores.")
    per_text = text_scores(att.weights[None].unbind(1), att.masks(), queries)  # [1, L, H, M]
    return scores_table(per_text[0].double())


def corpus_scores(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None,
                  batch_size: int = 32, progress: bool = True, *, queries: str = "all",
                  truncation: bool = True) -> pd.DataFrame:
    """`score` averaged over a corpus, every text weighted equally; the same for any batch size.

    One pass (`bertlab.reduction.run_pass`): texts of similar length are batched together, and
    only one running sum per (layer, head, metric) is kept, never the attention maps.
    """
    result = run_pass(lm, texts, [score_measurement(queries)], pairs=pairs, batch_size=batch_size,
                      truncation=truncation, progress=progress, desc="attention")
    return scores_table(result.values[score_measurement(queries).name])


def layer_means(table: pd.DataFrame) -> pd.DataFrame:
    """Average a (layer, head) table over heads: one row per layer, same metric columns."""
    if "layer" not in table or "head" not in table:
        raise InputError("layer_means needs a table with 'layer' and 'head' columns, such as the "
                         "output of bertlab.score or bertlab.corpus_scores.")
    return table.drop(columns="head").groupby("layer", as_index=False).mean()


def text_scores(attentions: Sequence[torch.Tensor], masks: PositionMasks, queries: str
                ) -> torch.Tensor:
    """Per-text mean over the chosen query rows: ``[B, L, H, M]`` from L tensors ``[B, H, Q, K]``.

    The building block of `score` and `corpus_scores`, public so that other row distributions
    shaped like attention (e.g. norm-based contributions, `bertlab.flow`) are scored the same way.
    """
    if queries not in QUERY_SETS:
        raise InputError(f"queries must be one of {QUERY_SETS}, got {queries!r}.")
    query_mask = {"all": masks.valid, "cls": masks.cls,
                  "content": masks.valid & ~masks.special}[queries]  # [B, Q]
    dtype = attentions[0].dtype
    weight = query_mask.to(dtype) / query_mask.sum(dim=1, keepdim=True)  # [B, Q], rows sum to 1
    keys = _KeySets(torch.stack([masks.cls, masks.sep, masks.special, masks.punct], dim=-1).to(dtype),
                    (masks.segment[:, :, None] != masks.segment[:, None, :]).to(dtype)
                    if masks.is_pair.any() else None, masks.is_pair)
    per_query = weight[:, None, :]                                                      # [B, 1, Q]
    return torch.stack([_layer_scores(a, per_query, keys) for a in attentions], dim=1)  # [B, L, H, M]


class _KeySets(NamedTuple):
    """What one batch's metrics sum over, the same in every layer."""

    shares: torch.Tensor                 # [B, K, 4]: [CLS], [SEP], special and punctuation keys
    other_segment: torch.Tensor | None   # [B, Q, K]: 1 where key and query are in different
                                         # sentences of a pair; None when no text is a pair
    is_pair: torch.Tensor                # [B]


def _layer_scores(a: torch.Tensor, per_query: torch.Tensor, keys: _KeySets) -> torch.Tensor:
    """Every metric of one layer, averaged over the query rows: ``[B, H, M]`` from ``a``
    ``[B, H, Q, K]`` and the rows' weights ``per_query`` ``[B, 1, Q]`` (each text's sum to 1).

    The shares are linear in the rows, so they are read off the rows' weighted mean; only the
    entropy and the cross-segment share need each row. Padded keys carry exactly zero weight, so
    sums over keys need no validity mask, and ``0 ln 0`` is 0 (a zero weight times a finite log).
    """
    mean_row = (per_query[:, :, None, :] @ a).squeeze(2)                               # [B, H, K]
    shares = mean_row @ keys.shares                                                    # [B, H, 4]
    # a[q, q], a[q, q-1] (from the second row) and a[q, q+1] (up to the last but one row)
    self_share = (torch.diagonal(a, dim1=-2, dim2=-1) * per_query).sum(-1)             # [B, H]
    prev_share = (torch.diagonal(a, offset=-1, dim1=-2, dim2=-1) * per_query[..., 1:]).sum(-1)
    next_share = (torch.diagonal(a, offset=1, dim1=-2, dim2=-1) * per_query[..., :-1]).sum(-1)
    row_entropy = -(a * a.clamp_min(torch.finfo(a.dtype).tiny).log()).sum(-1)          # [B, H, Q]
    entropy = (row_entropy * per_query).sum(-1)                                        # [B, H]
    cross = torch.full_like(entropy, torch.nan)                     # [B, H]: NaN for one sentence
    if keys.other_segment is not None:
        cross_rows = (a * keys.other_segment[:, None]).sum(-1)                         # [B, H, Q]
        cross = torch.where(keys.is_pair[:, None], (cross_rows * per_query).sum(-1), cross)
    singles = torch.stack([self_share, prev_share, next_share, entropy, cross], dim=-1)  # [B, H, 5]
    return torch.cat([shares, singles], dim=-1)                                       # [B, H, M]


def scores_table(values: torch.Tensor) -> pd.DataFrame:
    """Tidy table from ``[L, H, M]``: columns layer, head, then `METRICS` (`bertlab.reduction.tidy`)."""
    return tidy(values, METRICS)


def normalised_entropy(entropy: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Entropy divided by ln n, for texts of ``n = lengths`` tokens: 1 for attention spread evenly
    over the text, 0 for every row on one key. `entropy` is ``[B, ...]`` (nats), `lengths` ``[B]``.

    A one-token text has ln 1 = 0 (its only row cannot be anything but concentrated): it gives 0.

    >>> normalised_entropy(torch.tensor([math.log(4), 0.0], dtype=torch.float64), torch.tensor([4, 1])).tolist()
    [1.0, 0.0]
    """
    lengths = lengths.double()
    scale = torch.where(lengths > 1, lengths.log(), torch.inf)       # [B]
    return entropy.double() / scale.view(-1, *[1] * (entropy.dim() - 1))


def score_measurement(queries: str = "all") -> Measurement:
    """`METRICS` of the chosen query rows as a `bertlab.reduction.Measurement`."""
    if queries not in QUERY_SETS:
        raise InputError(f"queries must be one of {QUERY_SETS}, got {queries!r}.")
    return {"all": SCORES, "cls": SCORES_FROM_CLS, "content": SCORES_FROM_CONTENT}[queries]


#: `METRICS` of every query row, per text (what `corpus_scores` averages).
SCORES = Measurement("scores", METRICS, lambda batch: text_scores(batch.attentions, batch.masks, "all"))
#: `METRICS` of the [CLS] query row alone (attention *from* [CLS]), per text.
SCORES_FROM_CLS = Measurement("scores_from_cls", METRICS,
                              lambda batch: text_scores(batch.attentions, batch.masks, "cls"))
#: `METRICS` of the ordinary tokens' rows (attention *from* the content tokens), per text.
SCORES_FROM_CONTENT = Measurement("scores_from_content", METRICS,
                                  lambda batch: text_scores(batch.attentions, batch.masks, "content"))

"""Norm-based contributions: how much each key actually adds to a query, not just its weight.

Book chapter: "Does information really flow into [CLS] and [SEP]?" (Kobayashi et al. 2020).

A head's output at query ``i`` is ``sum_j α[i, j] f_h(x_j)``, where ``x_j`` is the layer's input at
key ``j`` and ``f_h(x) = (x W_V^h + b_V^h) W_O^h`` is the value vector projected by the head's slice
of the output matrix. A large weight ``α`` on a key whose ``f_h(x_j)`` is tiny moves nothing, so the
contribution of key ``j`` is the norm of the vector it adds::

    c[l, h, i, j] = ‖α[l, h, i, j] · f_h(x_j)‖ = α[l, h, i, j] · ‖f_h(x_j)‖

Divided by its row sum, ``c`` is a distribution over keys like ``α``, and `norm_scores` scores it
with exactly the metrics and averaging rules of `bertlab.score`, so the weight table and the norm
table can be compared cell by cell.

Shape letters: B batch, L layer, H head, Q query, K key, D hidden size, E head size.

>>> lm = load()
>>> att = norm_attention(lm, "The dog chased the cat.")
>>> torch.allclose(att.weights.sum(-1), torch.ones(6, 12, 8))   # rows are distributions
True
>>> weights, norms = score(extract(lm, "The dog chased the cat.")), score(att)
>>> bool(norms["cls_share"].mean() < weights["cls_share"].mean())   # [CLS] adds less than it gets
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import pandas as pd
import torch

from ..extraction import Attention, PositionMasks, extract, iter_encoded, run_forward
from ..internals import AttentionParts, attention_parts, capture_attention_inputs
from ..loading import LoadedModel, load  # noqa: F401  (load is used by the doctest above)
from ..metrics import METRICS, score, score_measurement, scores_table, text_scores
from ..reduction import Measurement, run_pass

__all__ = ["value_vectors", "contributions", "norm_attention", "norm_scores",
           "iter_norm_batches", "norm_measurement", "corpus_norm_scores"]

# A row of contributions sums to at least this before it is divided by its sum; it only guards
# padded query rows (which are never scored) against 0/0.
_SMALLEST_ROW_SUM = 1e-12


def value_vectors(parts: AttentionParts, hidden: torch.Tensor) -> torch.Tensor:
    """``f_h(x_j)`` for every head and key: ``[B, H, K, D]`` from layer inputs ``hidden [B, K, D]``.

    The output bias ``b_O`` is left out: it is added once per query, not per key.
    """
    batch, n_keys, _ = hidden.shape
    values = parts.value(hidden).view(batch, n_keys, parts.n_heads, parts.head_size)  # [B, K, H, E]
    # torch keeps W_O as [out, in] = [D, H*E]; the head's slice is its E input columns.
    w_out = parts.output_dense.weight.view(-1, parts.n_heads, parts.head_size)        # [D, H, E]
    return torch.einsum("bkhe,dhe->bhkd", values, w_out)                               # [B, H, K, D]


def _contribution_norms(parts: AttentionParts, hidden: torch.Tensor, weights: torch.Tensor
                        ) -> torch.Tensor:
    """``c = α · ‖f_h(x_j)‖``: ``[B, H, Q, K]`` from ``hidden [B, K, D]`` and ``α [B, H, Q, K]``."""
    with torch.no_grad():
        norms = value_vectors(parts, hidden).norm(dim=-1)          # [B, H, K]
    return weights * norms.float().cpu()[:, :, None, :]            # [B, H, Q, K]


def _as_distribution(contributions: torch.Tensor) -> torch.Tensor:
    """Each query row divided by its sum: ``[..., Q, K]`` in, same shape out."""
    return contributions / contributions.sum(dim=-1, keepdim=True).clamp_min(_SMALLEST_ROW_SUM)


def contributions(lm: LoadedModel, text: str, text_pair: str | None = None) -> torch.Tensor:
    """The norms ``‖α f_h(x_j)‖`` of one text: ``[layer, head, query, key]``, float32, CPU.

    >>> lm = load()
    >>> c = contributions(lm, "The dog chased the cat.")
    >>> tuple(c.shape), bool((c >= 0).all())
    ((6, 12, 8, 8), True)
    """
    return _attention_and_norms(lm, text, text_pair)[1]


def norm_attention(lm: LoadedModel, text: str, text_pair: str | None = None) -> Attention:
    """The `Attention` of one text with ``weights`` replaced by normalised contributions.

    Everything that reads an `Attention` (``score``, ``rollout``, ``plot_heatmap`` via ``score``,
    ``head_view``) then works on norms instead of weights.
    """
    att, norms = _attention_and_norms(lm, text, text_pair)
    return dataclasses.replace(att, weights=_as_distribution(norms))


def _attention_and_norms(lm: LoadedModel, text: str, text_pair: str | None
                         ) -> tuple[Attention, torch.Tensor]:
    """One text's `Attention` (weights) and its contribution norms ``[L, H, Q, K]``."""
    parts = attention_parts(lm)
    with capture_attention_inputs(lm) as inputs:   # one text: no padding, inputs are [1, T, D]
        att = extract(lm, text, text_pair)
    norms = [_contribution_norms(p, x, att.weights[l][None])[0]    # [H, Q, K]
             for l, (p, x) in enumerate(zip(parts, inputs))]
    return att, torch.stack(norms)                                  # [L, H, Q, K]


def norm_scores(lm: LoadedModel, text: str, text_pair: str | None = None, *,
                queries: str = "all") -> pd.DataFrame:
    """`bertlab.score` computed on normalised contributions: same columns, same rules."""
    return score(norm_attention(lm, text, text_pair), queries=queries)


def iter_norm_batches(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None,
                      *, batch_size: int = 32, progress: bool = False,
                      ) -> Iterator[tuple[tuple[torch.Tensor, ...], PositionMasks]]:
    """Like `bertlab.extraction.iter_batches`, with normalised contributions instead of weights.

    Yields ``(distributions, masks)``: one ``[B, H, Q, K]`` tensor per layer (rows of real queries
    sum to 1; padded keys get 0) and the batch's `PositionMasks`, in corpus order.
    """
    parts = attention_parts(lm)
    for batch in iter_encoded(lm, texts, pairs, batch_size=batch_size, progress=progress,
                              desc="norms"):
        outputs = run_forward(lm, batch, attention_inputs=True)
        yield _distributions(parts, outputs), batch.masks


def norm_measurement(lm: LoadedModel, queries: str = "all") -> Measurement:
    """`norm_scores` per text as a `bertlab.reduction.Measurement` (to share a pass)."""
    parts, base = attention_parts(lm), score_measurement(queries)
    return Measurement(f"norm_{base.name}", METRICS, needs_attention_inputs=True,
                       compute=lambda batch: text_scores(_distributions(parts, batch.outputs),
                                                         batch.masks, queries))


def corpus_norm_scores(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None,
                       batch_size: int = 32, progress: bool = True, *, queries: str = "all"
                       ) -> pd.DataFrame:
    """`norm_scores` averaged over a corpus, every text weighted equally (as `corpus_scores`)."""
    measurement = norm_measurement(lm, queries)
    result = run_pass(lm, texts, [measurement], pairs=pairs, batch_size=batch_size,
                      progress=progress, desc="norms")
    return scores_table(result.values[measurement.name])


def _distributions(parts: list[AttentionParts], outputs) -> tuple[torch.Tensor, ...]:
    """Normalised contributions, one ``[B, H, Q, K]`` tensor per layer, from a forward pass that
    recorded its attention inputs."""
    return tuple(_as_distribution(_contribution_norms(p, x, a))
                 for p, x, a in zip(parts, outputs.attention_inputs, outputs.attentions))

"""How big are the vectors of [CLS], [SEP] and the words, and where are the largest activations?

Book chapter: "Does information really flow into [CLS] and [SEP]?", section "Why a token can
take attention and give nothing back".

A head adds ``sum_j α[i, j] f_h(x_j)`` to query ``i`` (see `norms`), so a key that receives a lot
of weight but whose value vector ``f_h(x_j) = (x_j W_V^h + b_V^h) W_O^h`` is short delivers
little. This module measures the two vectors involved, per layer and per kind of token, in one
model pass over a corpus:

* ``hidden_norm``: ``‖x_j‖``, where ``x_j`` is the **input of layer l** at position ``j``: the
  vectors layer ``l``'s attention mixes (the embeddings for layer 0, the output of layer ``l-1``
  above it);
* ``value_norm``: ``‖f_h(x_j)‖`` per head (Kobayashi et al. 2020);
* ``top_dim_share``: the share of ``‖x_j‖²`` held by its single largest coordinate (1 when the
  vector lies along one hidden dimension);
* the largest ``|x_j[d]|`` of each text and layer, with the token and dimension that carry it,
  against the median ``|x|`` of that text and layer: the statistic Sun et al. (2024) use for
  "massive activations" (their code takes the top 3 and the median of a layer's hidden state).

Token kinds (`TOKEN_KINDS`): ``cls`` and ``sep`` are the tokenizer's [CLS] and [SEP] positions;
``content`` is every other real position (words, punctuation, [UNK]). A text's value for a kind
is the mean over its positions of that kind; corpus summaries weight every text equally, and the
per-text tables are kept so that intervals can be bootstrapped over texts.

Shape letters: B batch, T position, H head, D hidden size, N kind.

>>> lm = load()
>>> stats = token_activations(lm, ["The dog chased the cat.", "Hi."], progress=False)
>>> len(stats.norms) == 2 * lm.n_layers * len(TOKEN_KINDS)     # (text, layer, kind)
True
>>> summary = stats.summary().set_index(["layer", "kind"])
>>> bool(summary.at[(2, "cls"), "value_norm"] < summary.at[(2, "content"), "value_norm"])
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from ..errors import InputError
from ..extraction import PositionMasks, iter_encoded, run_forward
from ..internals import attention_parts
from ..loading import LoadedModel, load  # noqa: F401  (load is used by the doctest above)
from .norms import value_vectors

__all__ = ["TOKEN_KINDS", "TokenActivations", "token_activations"]

#: The kinds of position every table is split by, in this order.
TOKEN_KINDS = ("cls", "sep", "content")


@dataclass(frozen=True)
class TokenActivations:
    """The per-text tables of `token_activations`; `layer`, `head`, `text`, `dim` are 0-based.

    * `norms`: one row per (text, layer, kind): ``n_positions``, ``hidden_norm``, ``value_norm``
      (mean over heads), ``top_dim_share``;
    * `head_norms`: one row per (text, layer, head, kind): ``value_norm`` of that head;
    * `largest`: one row per (text, layer, rank), rank 1 = the largest: ``value`` (``|x[d]|``),
      ``dim``, ``position``, ``token``, ``kind``, ``median`` (median ``|x|`` over the text's real
      positions and every dimension) and ``ratio`` = value / median.
    """

    norms: pd.DataFrame
    head_norms: pd.DataFrame
    largest: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Corpus means per (layer, kind) of `norms`, every text weighted equally."""
        columns = ["hidden_norm", "value_norm", "top_dim_share"]
        return self.norms.groupby(["layer", "kind"], sort=False, as_index=False)[columns].mean()

    def head_summary(self) -> pd.DataFrame:
        """Corpus means per (layer, head, kind) of `head_norms`, every text weighted equally."""
        return self.head_norms.groupby(["layer", "head", "kind"], sort=False,
                                       as_index=False)["value_norm"].mean()

    def largest_summary(self) -> pd.DataFrame:
        """Per layer: the mean largest activation, median and ratio over texts, and how often the
        most common dimension and token kind carry the largest activation (share of texts)."""
        top = self.largest[self.largest["rank"] == 1]
        rows = []
        for layer, group in top.groupby("layer"):
            dims, kinds = group["dim"].value_counts(), group["kind"].value_counts()
            rows.append({"layer": layer, "value": group["value"].mean(),
                         "median": group["median"].mean(), "ratio": group["ratio"].mean(),
                         "dim": int(dims.index[0]), "dim_share": dims.iloc[0] / len(group),
                         "kind": kinds.index[0], "kind_share": kinds.iloc[0] / len(group)})
        return pd.DataFrame(rows)


def token_activations(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None,
                      *, batch_size: int = 32, top_k: int = 3, progress: bool = True
                      ) -> TokenActivations:
    """Hidden-state and value-vector norms per token kind, and the `top_k` largest activations.

    One forward pass per batch; texts (and pairs) are encoded exactly as `bertlab.extract` does.
    See the module docstring for every quantity.
    """
    hidden_size = lm.model.config.hidden_size
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= hidden_size:
        raise InputError(f"top_k is how many of the largest activations to keep per text and "
                         f"layer: an integer from 1 to the hidden size ({hidden_size}), "
                         f"got {top_k!r}.")
    parts = attention_parts(lm)
    norms, head_norms, largest = [], [], []
    for batch in iter_encoded(lm, texts, pairs, batch_size=batch_size, progress=progress,
                              desc="activations", sort_by_length=True):
        inputs = run_forward(lm, batch, attention_inputs=True).attention_inputs
        batch_texts, masks, ids = batch.indices, batch.masks, batch.token_ids        # ids: [B, T]
        kinds = _kind_masks(masks)                                                  # [B, T, N]
        for layer, (part, x) in enumerate(zip(parts, inputs)):                     # x: [B, T, D]
            with torch.no_grad():
                values = value_vectors(part, x).norm(dim=-1).float().cpu()         # [B, H, T]
            x = x.float().cpu()
            norms.append(_norm_rows(batch_texts, layer, x, values, kinds))
            head_norms.append(_head_rows(batch_texts, layer, values, kinds))
            largest.append(_largest_rows(lm, batch_texts, layer, x, masks, ids, top_k))
    return TokenActivations(norms=_by_text(norms), head_norms=_by_text(head_norms),
                            largest=_by_text(largest))


def _by_text(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The batches' tables as one, ordered by text then layer whatever the batch size."""
    table = pd.concat(tables, ignore_index=True)
    return table.sort_values(["text", "layer"], kind="stable", ignore_index=True)


def _kind_masks(masks: PositionMasks) -> torch.Tensor:
    """``[B, T, N]`` float: which real positions are of each kind of `TOKEN_KINDS`."""
    content = masks.valid & ~masks.cls & ~masks.sep
    return torch.stack([masks.cls, masks.sep, content], dim=-1).float()


def _kind_means(per_position: torch.Tensor, kinds: torch.Tensor) -> torch.Tensor:
    """Mean over each kind's positions: ``[B, ..., T]`` and ``[B, T, N]`` -> ``[B, ..., N]``
    (NaN for a kind a text does not have)."""
    totals = torch.einsum("b...t,btn->b...n", per_position, kinds)
    counts = kinds.sum(dim=1)                                          # [B, N]
    return totals / counts.view(counts.shape[0], *([1] * (totals.dim() - 2)), -1)


def _norm_rows(texts: list[int], layer: int, x: torch.Tensor, values: torch.Tensor,
               kinds: torch.Tensor) -> pd.DataFrame:
    squares = x.pow(2)                                                 # [B, T, D]
    top_share = squares.amax(dim=-1) / squares.sum(dim=-1)             # [B, T]
    columns = {"n_positions": kinds.sum(dim=1),                        # [B, N]
               "hidden_norm": _kind_means(x.norm(dim=-1), kinds),
               "value_norm": _kind_means(values, kinds).mean(dim=1),   # mean of [B, H, N] over H
               "top_dim_share": _kind_means(top_share, kinds)}
    table = pd.DataFrame({name: column.flatten().double().numpy()
                          for name, column in columns.items()})
    table.insert(0, "kind", list(TOKEN_KINDS) * len(texts))
    table.insert(0, "layer", layer)
    table.insert(0, "text", [text for text in texts for _ in TOKEN_KINDS])
    return table.astype({"n_positions": int})


def _head_rows(texts: list[int], layer: int, values: torch.Tensor, kinds: torch.Tensor
               ) -> pd.DataFrame:
    means = _kind_means(values, kinds)                                 # [B, H, N]
    index = pd.MultiIndex.from_product(
        [texts, [layer], range(means.shape[1]), TOKEN_KINDS],
        names=["text", "layer", "head", "kind"])
    return pd.DataFrame({"value_norm": means.flatten().double().numpy()}, index=index).reset_index()


def _largest_rows(lm: LoadedModel, texts: list[int], layer: int, x: torch.Tensor,
                  masks: PositionMasks, ids: torch.Tensor, top_k: int) -> pd.DataFrame:
    size = x.shape[-1]
    magnitude = x.abs()                                                # [B, T, D]
    real = masks.valid[:, :, None].expand_as(magnitude)                # [B, T, D]
    median = torch.nanmedian(magnitude.masked_fill(~real, torch.nan).flatten(1), dim=1).values
    top = magnitude.masked_fill(~real, -1.0).flatten(1).topk(top_k, dim=1)   # padding never wins
    position, dim = top.indices // size, top.indices % size            # [B, top_k] each
    rows = []
    for b, text in enumerate(texts):
        for rank in range(top_k):
            p = int(position[b, rank])
            value = float(top.values[b, rank])
            rows.append({"text": text, "layer": layer, "rank": rank + 1, "value": value,
                         "dim": int(dim[b, rank]), "position": p,
                         "token": lm.tokenizer.convert_ids_to_tokens(int(ids[b, p])),
                         "kind": _kind_of(masks, b, p), "median": float(median[b]),
                         "ratio": value / float(median[b])})
    return pd.DataFrame(rows)


def _kind_of(masks: PositionMasks, b: int, position: int) -> str:
    if masks.cls[b, position]:
        return "cls"
    return "sep" if masks.sep[b, position] else "content"

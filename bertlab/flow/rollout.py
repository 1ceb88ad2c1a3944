"""Attention rollout: which input tokens a position's vector is made of, after every layer.

Book chapter: "Does information really flow into [CLS] and [SEP]?" (Abnar & Zuidema 2020).

One layer's attention says what each position reads from the layer below, but the layer's
output is also its input plus a residual connection. Rollout models that as half attention, half
identity, averages the heads, renormalises the rows, and multiplies the layers from the bottom::

    Â_l = rownorm(0.5 · mean_h A_l + 0.5 · I)          # [Q, K] for layer l
    R_0 = Â_0,   R_l = Â_l @ R_{l-1}                    # R_l[i, j]: share of input token j in
                                                        # position i after layer l

It is a model of mixing, not a measurement: it ignores the value vectors (see `norms`) and the
feed-forward sub-layers. Feed it `norm_attention(...)` to roll out contributions instead of weights.

Shape letters: L layer, H head, Q query, K key (input token).

>>> lm = load()
>>> att = extract(lm, "The dog chased the cat.")
>>> torch.allclose(rollout(att).sum(-1), torch.ones(6, 8))   # every row is a distribution
True
>>> round(float(cls_rollout(att).sum()), 4)
1.0
"""

from __future__ import annotations

import torch

from ..errors import InputError
from ..extraction import Attention, extract  # noqa: F401  (extract is used by the doctest above)
from ..loading import load  # noqa: F401  (load is used by the doctest above)

__all__ = ["RESIDUAL_SHARE", "rollout", "cls_rollout"]

#: How much of a layer's output rollout credits to the residual stream, as in Abnar & Zuidema
#: (2020): the residual connection and the attention output are added with equal weight.
RESIDUAL_SHARE = 0.5


def rollout(att: Attention) -> torch.Tensor:
    """Rolled-out attention after every layer: ``[layer, query, key]``, float32, rows sum to 1.

    Computed in float64 (a product of layers), returned in float32 like `Attention.weights`.

    ``rollout(att)[l, i, j]`` is the share of input token ``j`` in position ``i``'s vector after
    layer ``l`` (0-based), under the rollout model of the module docstring.
    """
    if not isinstance(att, Attention):
        raise InputError(f"rollout takes the Attention of one text (from bertlab.extract or "
                         f"bertlab.norm_attention), got {type(att).__name__}.")
    weights = att.weights.double().mean(dim=1)                          # [L, Q, K], heads averaged
    identity = torch.eye(att.n_tokens, dtype=weights.dtype)             # [Q, K]
    mixed = (1 - RESIDUAL_SHARE) * weights + RESIDUAL_SHARE * identity  # [L, Q, K]
    mixed = mixed / mixed.sum(dim=-1, keepdim=True)                     # [L, Q, K], rows sum to 1
    rolled = [mixed[0]]
    for layer_mix in mixed[1:]:
        rolled.append(layer_mix @ rolled[-1])                           # [Q, K]
    return torch.stack(rolled).float()                                  # [L, Q, K]


def cls_rollout(att: Attention) -> torch.Tensor:
    """What the final [CLS] vector draws from each input token: ``[key]``, sums to 1.

    The [CLS] row of the last layer of `rollout` (the first [CLS] if a text has several).
    """
    if not isinstance(att, Attention):
        raise InputError(f"cls_rollout takes the Attention of one text, got {type(att).__name__}.")
    if not att.cls_positions:
        raise InputError(f"The text has no [CLS] token (tokens: {att.tokens[:6]}...): "
                         "cls_rollout needs a model whose tokenizer adds one.")
    return rollout(att)[-1, att.cls_positions[0]]                       # [K]

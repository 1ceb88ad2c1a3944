"""How far a fine-tuned model's attention moved from its base model, layer by layer and head by head.

Book chapter: "Fine-tuned and overfit models". Two measures, both on the same texts run through
both models (they must share a tokenizer and have the same number of layers and heads):

* **Jensen–Shannon divergence** between the fine-tuned and the base attention row of each real
  query (in nats: 0 for identical rows, at most ln 2 ≈ 0.693 for rows with no key in common);
  a text's value is the mean over its query rows, a corpus value the mean over texts.
* **Cosine similarity** of the flattened ``[query, key]`` map of each head, fine-tuned vs base
  (Kovaleva et al. 2019 compare fine-tuned and pretrained BERT this way): 1 for the same map.

Shape letters: B batch, L layer, H head, Q query, K key.

>>> p = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
>>> js_divergence(p, p).tolist()
[0.0, 0.0]
>>> round(js_divergence(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])).item(), 4)  # ln 2
0.6931
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
import torch.nn.functional as F

from .errors import InputError
from .loading import LoadedModel
from .reduction import Measurement, PassBatch, run_pass

__all__ = ["js_divergence", "map_cosine", "attention_drift", "drift_per_text", "check_comparable",
           "DRIFT", "DRIFT_METRICS"]

#: The columns `attention_drift` adds to ``layer`` and ``head``.
DRIFT_METRICS = ("js_divergence", "map_cosine")


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Jensen–Shannon divergence (nats) between distributions along the last dimension.

    ``p`` and ``q`` are ``[..., K]`` with rows summing to 1; the result is ``[...]``.
    """
    middle = (p + q) / 2
    kl_p = torch.special.xlogy(p, p).sum(-1) - torch.special.xlogy(p, middle).sum(-1)
    kl_q = torch.special.xlogy(q, q).sum(-1) - torch.special.xlogy(q, middle).sum(-1)
    return ((kl_p + kl_q) / 2).clamp_min(0.0)  # [...]; clamp removes -1e-9 rounding


def map_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of attention maps flattened over their last two dimensions.

    ``a`` and ``b`` are ``[..., Q, K]``; the result is ``[...]``.

    >>> a = torch.eye(2)
    >>> round(map_cosine(a, a).item(), 6), round(map_cosine(a, 1 - a).item(), 6)
    (1.0, 0.0)
    """
    return F.cosine_similarity(a.flatten(-2), b.flatten(-2), dim=-1)  # [...]


def attention_drift(lm: LoadedModel, base: LoadedModel, texts: Sequence[str],
                    pairs: Sequence[str] | None = None, *, batch_size: int = 32,
                    progress: bool = True) -> pd.DataFrame:
    """Drift of `lm` from `base` on a corpus: one row per (layer, head), columns `DRIFT_METRICS`.

    Each text counts equally. Both models read the same batches in one pass. Padding is left
    out: padded keys carry zero weight in both models, and padded query rows are masked before
    averaging or flattening.
    """
    check_comparable(lm, base)
    result = run_pass(lm, texts, [DRIFT], pairs=pairs, base=base, batch_size=batch_size,
                      progress=progress, desc="drift")
    return result.table(DRIFT.name)


def drift_per_text(batch: PassBatch) -> torch.Tensor:
    """``[B, L, H, 2]``: per text, the mean JS divergence of its query rows and the map cosine,
    between the model's attention and the base's on the same batch."""
    valid = batch.masks.valid.float()                                   # [B, Q]
    rows_per_text = valid.sum(dim=1)                                    # [B]
    keep_rows = valid[:, None, :, None]                                 # [B, 1, Q, 1]
    per_layer = []
    for a, b in zip(batch.attentions, batch.base.attentions):           # each [B, H, Q, K]
        js = js_divergence(a, b)                                        # [B, H, Q]
        js_per_text = (js * valid[:, None]).sum(-1) / rows_per_text[:, None]   # [B, H]
        cosine = map_cosine(a * keep_rows, b * keep_rows)               # [B, H]
        per_layer.append(torch.stack([js_per_text, cosine], dim=-1))    # [B, H, 2]
    return torch.stack(per_layer, dim=1)                                # [B, L, H, 2]


#: `drift_per_text` as a `bertlab.reduction.Measurement` (needs the base model in the pass).
DRIFT = Measurement("drift", DRIFT_METRICS, drift_per_text, needs_base=True)


def check_comparable(lm: LoadedModel, base: LoadedModel) -> None:
    if not isinstance(base, LoadedModel) or not isinstance(lm, LoadedModel):
        raise InputError("attention_drift compares two LoadedModel objects (from bertlab.load or "
                         f"bertlab.wrap); got {type(lm).__name__} and {type(base).__name__}.")
    if (lm.n_layers, lm.n_heads) != (base.n_layers, base.n_heads):
        raise InputError(
            f"Drift compares layer by layer and head by head, but {lm.name!r} has {lm.n_layers}×"
            f"{lm.n_heads} and the base {base.name!r} has {base.n_layers}×{base.n_heads} "
            "(layers × heads). Pass the model it was fine-tuned from as base.")
    if lm.tokenizer.get_vocab() != base.tokenizer.get_vocab():
        raise InputError(
            f"{lm.name!r} and the base {base.name!r} use different vocabularies, so the same text "
            "gives different tokens. Pass the model it was fine-tuned from as base.")

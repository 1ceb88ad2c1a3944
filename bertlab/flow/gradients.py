"""Gradient-based importance: how much a classifier's loss reacts to each attention weight.

Book chapter: "Does information really flow into [CLS] and [SEP]?". Clark et al. (2019) took the
gradient of BERT's masked-LM loss with respect to every attention weight and found that, from the
middle layers on, the gradient for attention to [SEP] is small: changing that attention barely
changes the output, which fits reading it as a "no-op". The embedded model has no masked-LM head,
so bertlab uses the loss that the project has: a classifier's cross-entropy on labelled texts
(a `bertlab.zoo` model).

For every layer ``l``, head ``h``, text and key set S (``cls``, ``sep``, ``other`` = the real
tokens that are not special), the value is the mean of ``|∂ loss / ∂ α[l, h, i, j]|`` over the
text's real queries ``i`` and the keys ``j`` in S; texts are weighted equally. With one [SEP] per
text this is the magnitude of the gradient summed over the [SEP] keys.

Shape letters: B batch, L layer, H head, Q query, K key, S key set.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from transformers import AutoModelForSequenceClassification

from ..errors import UnsupportedModelError
from ..loading import LoadedModel, wrap
from ..extraction import check_corpus, iter_encoded
from ..reduction import Accumulator, tidy
from .labels import classifier_labels

__all__ = ["GRADIENT_KEY_SETS", "attention_gradients", "untrained_classifier"]

#: Columns of the `attention_gradients` table, one per key set.
GRADIENT_KEY_SETS = ("cls_gradient", "sep_gradient", "other_gradient")


def attention_gradients(lm: LoadedModel, texts: Sequence[str], labels: Sequence[int],
                        pairs: Sequence[str] | None = None, *, batch_size: int = 16,
                        progress: bool = True, per_text: bool = False) -> pd.DataFrame:
    """Mean ``|∂ loss / ∂ α|`` per (layer, head) for attention to [CLS], [SEP] and other tokens.

    The loss is the classifier's cross-entropy of each text's label. Columns: ``layer``, ``head``
    (0-based), then `GRADIENT_KEY_SETS`; with ``per_text=True`` one row per (text, layer, head)
    instead of the mean over texts. Average over heads with `bertlab.layer_means`.
    """
    if not lm.has_classifier:
        raise UnsupportedModelError(
            f"{lm.name} has no classification head, so there is no loss to take gradients of "
            "(the embedded model has no masked-LM head either). Use a classifier, e.g. "
            "bertlab.zoo.load('healthy', seed=0).")
    texts, pairs = check_corpus(texts, pairs)
    labels = classifier_labels(lm, texts, labels)
    values = Accumulator(len(texts), keep_texts=per_text)
    for batch in iter_encoded(lm, texts, pairs, batch_size=batch_size, progress=progress,
                              desc="gradients", sort_by_length=True):
        masks = batch.masks
        gradients = _loss_gradients(lm, batch.inputs, labels[batch.indices])
        ordinary = masks.valid & ~masks.special                                   # [B, K]
        key_sets = torch.stack([masks.cls, masks.sep, ordinary], dim=-1).double()  # [B, K, S]
        pair_counts = masks.valid.double().sum(1)[:, None] * key_sets.sum(1)       # [B, S]
        per_layer = []
        for gradient in gradients:                                                 # [B, H, Q, K]
            magnitude = gradient.abs().double() * masks.valid[:, None, :, None]    # real queries
            per_set = torch.einsum("bhqk,bks->bhs", magnitude, key_sets)           # [B, H, S]
            per_layer.append(per_set / pair_counts[:, None, :].clamp_min(1))       # [B, H, S]
        values.add(batch.indices, torch.stack(per_layer, dim=1))                   # [B, L, H, S]
    return tidy(values.result(), GRADIENT_KEY_SETS)


def _loss_gradients(lm: LoadedModel, inputs: dict[str, torch.Tensor], labels: torch.Tensor
                    ) -> tuple[torch.Tensor, ...]:
    """``∂ loss / ∂ α`` for one batch: one ``[B, H, Q, K]`` CPU tensor per layer.

    The loss is summed over the batch, so each text's gradients are its own. bertlab loads models
    with frozen parameters; the embeddings' output is made to require a gradient so that the
    attention weights join the autograd graph (the model itself is not changed).
    """
    def track(module, args, output):
        return output.detach().requires_grad_(True)

    handle = lm.model.base_model.embeddings.register_forward_hook(track)
    try:
        with torch.enable_grad():
            outputs = lm.model(**inputs, output_attentions=True)
            loss = F.cross_entropy(outputs.logits, labels.to(lm.device), reduction="sum")
            gradients = torch.autograd.grad(loss, outputs.attentions)
    finally:
        handle.remove()
    return tuple(g.float().cpu() for g in gradients)


def untrained_classifier(lm: LoadedModel, n_labels: int = 2, seed: int = 0) -> LoadedModel:
    """`lm`'s encoder (copied) under a seeded, untrained classification head.

    Its predictions mean nothing, but its loss runs through the real encoder: enough to test the
    gradient machinery, or to time it, without building a `bertlab.zoo` model.
    """
    config = copy.deepcopy(lm.model.config)
    config.num_labels = n_labels
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(config).eval()
    model.base_model.load_state_dict(lm.model.base_model.state_dict())
    return wrap(model, lm.tokenizer, name=f"{lm.name} + untrained head (seed {seed})")

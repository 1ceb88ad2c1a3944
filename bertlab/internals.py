"""Where the attention sub-layer lives inside a BERT-style model, and how to watch its input.

Book chapter: "Does information really flow into [CLS] and [SEP]?". Used by `bertlab.flow` and by
`bertlab.reduction` (a measurement that needs the vectors each layer's attention reads).

The analyses of `bertlab.flow` need more than the attention weights: the vectors each head mixes
(its value vectors, projected by the head's slice of the output matrix). For encoder layer ``l``
those come from three modules::

    encoder.layer[l].attention.self           # query/key/value projections and the softmax
    encoder.layer[l].attention.self.value     # W_V (all heads side by side) and b_V
    encoder.layer[l].attention.output.dense   # W_O, applied to the heads' concatenated outputs

BERT, RoBERTa, MiniLM, ELECTRA and their ``...ForSequenceClassification`` versions share this
layout; DistilBERT does not, and gets an `UnsupportedModelError`.

Shape letters: B batch, T position, D hidden size.

>>> lm = load()
>>> parts = attention_parts(lm)
>>> len(parts), parts[0].n_heads, parts[0].head_size
(6, 12, 32)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from .errors import UnsupportedModelError
from .loading import LoadedModel, load  # noqa: F401  (load is used by the doctest above)

__all__ = ["AttentionParts", "attention_parts", "capture_attention_inputs"]


@dataclass(frozen=True)
class AttentionParts:
    """The modules of one layer's attention sub-layer (see the module docstring)."""

    self_attention: torch.nn.Module   # computes the weights and the heads' outputs
    value: torch.nn.Linear            # x -> x W_V + b_V, weight [H*d, D] (torch: out × in)
    output_dense: torch.nn.Linear     # heads' outputs -> D, weight [D, H*d] (torch: out × in)
    n_heads: int
    head_size: int                    # d = D / H for BERT


def attention_parts(lm: LoadedModel) -> list[AttentionParts]:
    """One `AttentionParts` per encoder layer, bottom to top."""
    encoder = getattr(lm.model.base_model, "encoder", None)
    layers = getattr(encoder, "layer", None)
    try:
        return [AttentionParts(self_attention=layer.attention.self,
                               value=layer.attention.self.value,
                               output_dense=layer.attention.output.dense,
                               n_heads=lm.n_heads,
                               head_size=layer.attention.self.value.out_features // lm.n_heads)
                for layer in layers]
    except (AttributeError, TypeError):
        raise UnsupportedModelError(
            f"{lm.name!r} ({type(lm.model).__name__}) does not have BERT's layout "
            "(encoder.layer[l].attention.self / .attention.output.dense), which the information-"
            "flow analyses read. They work with BERT, RoBERTa, MiniLM and ELECTRA models; the "
            "weight-based tools (bertlab.extract, bertlab.score) work with any encoder.") from None


@contextlib.contextmanager
def capture_attention_inputs(lm: LoadedModel) -> Iterator[list[torch.Tensor | None]]:
    """Record the input of every layer's attention while the model runs inside the ``with``.

    Yields a list with one slot per layer; after each forward pass slot ``l`` holds the hidden
    states ``[B, T, D]`` that layer ``l``'s attention received (the vectors ``x_j`` that its value
    projection turns into what each key contributes). Hooks are removed on leaving the block.
    """
    parts = attention_parts(lm)
    inputs: list[torch.Tensor | None] = [None] * len(parts)

    def recorder(layer: int):
        def hook(module, args, kwargs):
            inputs[layer] = args[0] if args else kwargs["hidden_states"]  # [B, T, D]
        return hook

    handles = [p.self_attention.register_forward_pre_hook(recorder(l), with_kwargs=True)
               for l, p in enumerate(parts)]
    try:
        yield inputs
    finally:
        for handle in handles:
            handle.remove()

"""Tokenized, padded batches with their position masks (and checked labels), for forward passes
bertlab runs itself.

Book chapter: "Does information really flow into [CLS] and [SEP]?".

`bertlab.extraction.iter_batches` runs the model for you and hands back attention weights; head
ablation and gradients need to run the model their own way (with hooks, with gradients), so they
take the batch before the forward pass. The encoding, truncation rules and masks are extraction's
own, so a position means the same thing in every bertlab table.

Shape letters: B batch, T padded length.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from tqdm.auto import tqdm

from ..errors import InputError
from ..extraction import PositionMasks, _check_corpus, _encode, _position_masks
from ..loading import LoadedModel

__all__ = ["iter_encoded", "checked_labels"]


def iter_encoded(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                 batch_size: int = 32, progress: bool = False, desc: str = "batches",
                 ) -> Iterator[tuple[int, dict[str, torch.Tensor], PositionMasks]]:
    """Yield ``(start, inputs, masks)`` per batch: the index of its first text, the model's
    keyword inputs on the model's device (each ``[B, T]``), and extraction's `PositionMasks`."""
    texts, pairs = _check_corpus(texts, pairs)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}.")
    for start in tqdm(range(0, len(texts), batch_size), desc=f"{desc} ({lm.name})", unit="batch",
                      disable=not progress):
        batch_pairs = None if pairs is None else pairs[start:start + batch_size]
        encoding = _encode(lm, texts[start:start + batch_size], batch_pairs, truncation=True)
        inputs = {k: v.to(lm.device) for k, v in encoding.items()
                  if k in lm.tokenizer.model_input_names}
        yield start, inputs, _position_masks(lm, encoding, batch_pairs is not None)


def checked_labels(lm: LoadedModel, texts: Sequence[str], labels) -> torch.Tensor | None:
    """Labels as a ``[N]`` long tensor, checked against the texts and the classifier's classes."""
    if labels is None:
        return None
    if not lm.has_classifier:
        raise InputError(f"labels were given, but {lm.name} has no classification head to "
                         "predict them. Use a classifier, e.g. bertlab.zoo.load('healthy').")
    labels = torch.as_tensor(list(labels))
    n_classes = lm.model.config.num_labels
    if labels.dim() != 1 or len(labels) != len(texts) or not len(labels):
        raise InputError(f"Give one label per text: got {len(labels)} labels for "
                         f"{len(texts)} texts.")
    if labels.dtype.is_floating_point or labels.min() < 0 or labels.max() >= n_classes:
        raise InputError(f"Labels must be class ids 0..{n_classes - 1} of {lm.name}, "
                         f"got values {sorted(set(labels.tolist()))[:5]}.")
    return labels.long()

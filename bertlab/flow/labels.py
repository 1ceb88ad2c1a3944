"""Checked labels for the forward passes bertlab runs itself (ablation, gradients).

Book chapter: "Does information really flow into [CLS] and [SEP]?".

`bertlab.extraction.iter_batches` runs the model for you and hands back attention weights; head
ablation and gradients need to run the model their own way (with hooks, with gradients), so they
take the batch before the forward pass (`bertlab.extraction.iter_encoded`). The encoding,
truncation rules and masks are extraction's own, so a position means the same thing in every
bertlab table.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import InputError
from ..loading import LoadedModel

__all__ = ["checked_labels"]


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

"""Labels for the forward passes of `bertlab.flow` that measure a classifier (ablation, gradients).

Book chapter: "Does information really flow into [CLS] and [SEP]?". The rules for a label are
`bertlab.classification`'s (one class id per text, below the classifier's number of classes); here only
what is particular to these analyses: labels need a classification head to predict them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import InputError
from ..classification import checked_labels
from ..loading import LoadedModel

__all__ = ["classifier_labels"]


def classifier_labels(lm: LoadedModel, texts: Sequence[str], labels) -> torch.Tensor | None:
    """`labels` as a ``[N]`` long tensor for `lm`'s classes (None stays None)."""
    if labels is None:
        return None
    if not lm.has_classifier:
        raise InputError(f"labels were given, but {lm.name} has no classification head to "
                         "predict them. Use a classifier, e.g. bertlab.zoo.load('healthy').")
    return checked_labels(labels, len(texts), n_classes=lm.model.config.num_labels)

"""Classification: what a sequence classifier predicts, and the class labels handed to bertlab.

Book chapters: "Fine-tuned and overfit models" (held-out evidence), the fine-tuning experiment,
"[CLS] as aggregator" (probes) and "Does information really flow into [CLS] and [SEP]?"
(ablation, gradients).

* `class_probabilities`: a classifier's class probabilities over a corpus. The zoo's trainer
  (`bertlab.zoo.training`) measures its training curves with it and `bertlab.diagnosis` its
  held-out evidence, so both read one definition and neither imports the other. Texts are
  tokenised, padded and truncated by `bertlab.extraction.iter_encoded`, like every other
  measurement, so an over-long text is truncated with the same warning.
* `checked_labels` / `checked_labelled`: one set of rules for labels everywhere. A label is a
  class id: an integer ``0 .. n_classes - 1`` (for a classifier, its own classes), one per text.
  Floats that are whole numbers (``1.0``, as pandas stores a column with gaps) are accepted;
  ``0.5``, ``"pos"`` or ``-1`` are not. A labelled table is a DataFrame with ``text`` and
  ``label`` columns (and ``text_pair`` for sentence pairs).

Shape letters: N texts, B texts in a batch, C classes.

>>> checked_labels([0, 1, 1.0], n_texts=3, n_classes=2).tolist()
[0, 1, 1]
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .errors import InputError
from .extraction import check_corpus, iter_encoded
from .loading import LoadedModel

__all__ = ["class_probabilities", "checked_labels", "checked_labelled"]


def class_probabilities(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                        texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                        batch_size: int = 64, max_length: int | None = None) -> torch.Tensor:
    """Softmax of a sequence classifier's logits: ``[N, C]`` float32 for N texts and C classes,
    in the order of `texts`.

    Runs in eval mode and restores the model's mode afterwards. Texts longer than the model's
    limit are truncated to it, with a warning (`max_length`, kept for older calls, may only repeat
    that limit). Texts are batched by length (less padding, so less work).
    """
    name = getattr(model.config, "_name_or_path", "") or type(model).__name__
    lm = LoadedModel(model=model, tokenizer=tokenizer, name=name)
    if max_length is not None and max_length != lm.max_length:
        raise InputError(f"class_probabilities truncates at the model's own limit, "
                         f"{lm.max_length} tokens; max_length={max_length!r} cannot change it. "
                         "Leave max_length out, or shorten the texts before.")
    texts, pairs = check_corpus(texts, pairs)
    probabilities = None
    for batch in iter_encoded(lm, texts, pairs, batch_size=batch_size, sort_by_length=True):
        with torch.inference_mode():
            logits = model(**batch.inputs).logits                        # [B, C]
        if probabilities is None:
            probabilities = torch.empty(len(texts), logits.shape[-1])    # [N, C]
        probabilities[batch.indices] = logits.float().softmax(dim=-1).cpu()
    return probabilities


def checked_labels(labels, n_texts: int, *, n_classes: int | None = None,
                   what: str = "labels") -> torch.Tensor:
    """`labels` as a ``[N]`` long tensor: one class id per text, each below `n_classes`."""
    values = pd.Series(list(labels) if not isinstance(labels, (str, bytes)) else [labels])
    if len(values) != n_texts or not len(values):
        raise InputError(f"Give one label per text: got {len(values)} {what} for "
                         f"{n_texts} texts.")
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values[numbers.isna() | (numbers % 1 != 0) | (numbers < 0)
                 | ((numbers >= n_classes) if n_classes is not None else False)]
    if len(bad):
        classes = f"0 to {n_classes - 1}" if n_classes is not None else "0, 1, 2, ..."
        raise InputError(
            f"{what} must be class ids {classes}; got {sorted(set(bad.astype(str)))[:5]}. Map your "
            "labels to those integers first (e.g. {'negative': 0, 'positive': 1}).")
    return torch.tensor(numbers.astype("int64").to_numpy())


def checked_labelled(table, *, what: str = "labelled", n_classes: int | None = None,
                     min_classes: int = 1) -> pd.DataFrame:
    """A clean copy of a labelled table (``text``, ``label`` as int, ``text_pair`` if given), or
    an error that says what to fix. `min_classes`: distinct labels it must hold (2 to fit a probe).
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"{what} must be a pandas DataFrame with columns text and label, got "
                         f"{type(table).__name__}.")
    absent = [c for c in ("text", "label") if c not in table]
    if absent:
        raise InputError(f"{what} lacks the column(s) {absent}; it needs text and label (and "
                         f"text_pair for sentence pairs). Its columns: {list(table.columns)}.")
    if table.empty:
        raise InputError(f"{what} has no rows: pass at least one labelled text.")
    columns = ["text", "label"] + (["text_pair"] if "text_pair" in table else [])
    clean = table[columns].reset_index(drop=True)
    check_corpus(clean.text.tolist(), clean.text_pair.tolist() if "text_pair" in clean else None)
    labels = checked_labels(clean.label, len(clean), n_classes=n_classes, what=f"{what} labels")
    if labels.unique().numel() < min_classes:
        raise InputError(f"{what} has only {labels.unique().numel()} distinct label(s); it needs "
                         f"examples of at least {min_classes} classes.")
    return clean.assign(label=labels.numpy())

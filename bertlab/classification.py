"""What a sequence classifier predicts: its class probabilities over a corpus.

Book chapters: "Fine-tuned and overfit models" (held-out evidence) and the fine-tuning experiment.
The zoo's trainer (`bertlab.zoo.training`) measures its training curves with it and
`bertlab.diagnosis` its held-out evidence, so both read one definition, and neither imports the
other. Texts are tokenised, padded and truncated by `bertlab.extraction.iter_encoded`, like every
other measurement, so an over-long text is truncated with the same warning.

Shape letters: N texts, B texts in a batch, C classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .errors import InputError
from .extraction import check_corpus, iter_encoded
from .loading import LoadedModel

__all__ = ["class_probabilities"]


def class_probabilities(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                        texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                        batch_size: int = 64, max_length: int | None = None) -> torch.Tensor:
    """Softmax of a sequence classifier's logits: ``[N, C]`` float32 for N texts and C classes.

    Runs in eval mode and restores the model's mode afterwards. Texts longer than the model's
    limit are truncated to it, with a warning (`max_length`, kept for older calls, may only repeat
    that limit). Texts are batched shortest first (less padding, so less work); the rows come
    back in the order of `texts`.
    """
    name = getattr(model.config, "_name_or_path", "") or type(model).__name__
    lm = LoadedModel(model=model, tokenizer=tokenizer, name=name)
    if max_length is not None and max_length != lm.max_length:
        raise InputError(f"class_probabilities truncates at the model's own limit, "
                         f"{lm.max_length} tokens; max_length={max_length!r} cannot change it. "
                         "Leave max_length out, or shorten the texts before.")
    texts, pairs = check_corpus(texts, pairs)
    lengths = [len(text) + (len(pairs[i]) if pairs is not None else 0)
               for i, text in enumerate(texts)]
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    by_length = [texts[i] for i in order]
    pairs_by_length = None if pairs is None else [pairs[i] for i in order]
    was_training = model.training
    model.eval()
    chunks = []
    try:
        for _, inputs, _ in iter_encoded(lm, by_length, pairs_by_length, batch_size=batch_size):
            with torch.inference_mode():
                logits = model(**inputs).logits  # [B, C]
            chunks.append(logits.float().softmax(dim=-1).cpu())
    finally:
        model.train(was_training)
    probabilities = torch.cat(chunks)  # [N, C], row k is texts[order[k]]
    return probabilities[torch.argsort(torch.tensor(order))]  # [N, C], in the order of texts

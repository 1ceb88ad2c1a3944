"""Head ablation: run the model with chosen heads switched off, and measure what changes.

Book chapter: "Does information really flow into [CLS] and [SEP]?" (Michel et al. 2019 switch
heads off; Kovaleva et al. 2019 find that disabling some even helps a fine-tuned model).

Two interventions, both on the heads you name as ``(layer, head)`` pairs (0-based):

* **switch off**: the head's output is set to zero before the output projection (its share of the
  attention sub-layer disappears; the other heads and the residual stream are untouched);
* **cut keys** (``keys="sep"`` …): the head's attention to those keys is removed and each row is
  renormalised over the remaining keys, by masking the keys before the softmax, exactly as padding
  is masked. This asks: is the attention parked on [SEP] needed, or is it a "no-op"?

`ablate_heads` runs every batch twice, as is and ablated, and reports how far the final [CLS]
vector moves and, for a classifier, how its predictions change. Ablating no head changes nothing,
bit for bit.

Shape letters: B batch, T position, H head, Q query, K key, D hidden size, C class.

>>> lm = load()
>>> texts = ["The dog chased the cat.", "It ran up a tree."]
>>> ablate_heads(lm, texts, heads=[], progress=False).cls_cosine_distance
0.0
>>> every_head_of_layer_0 = [(0, h) for h in range(lm.n_heads)]
>>> ablate_heads(lm, texts, every_head_of_layer_0, progress=False).cls_cosine_distance > 0.01
True
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass

import pandas as pd
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..extraction import check_corpus, iter_encoded
from ..loading import LoadedModel, load  # noqa: F401  (load is used by the doctest above)
from .labels import classifier_labels
from ..internals import attention_parts

__all__ = ["KEY_SETS", "Head", "heads_ablated", "AblationEffect", "ablate_heads", "top_heads",
           "random_heads"]

#: The key sets whose attention `ablate_heads` can cut: names of `PositionMasks` fields.
KEY_SETS = ("cls", "sep", "special", "punct")

Head = tuple[int, int]  # (layer, head), 0-based


def _checked_heads(lm: LoadedModel, heads: Iterable[Head]) -> tuple[Head, ...]:
    """The heads as sorted, distinct ``(layer, head)`` pairs, each in range for `lm`."""
    if isinstance(heads, tuple) and len(heads) == 2 and all(isinstance(x, int) for x in heads):
        raise InputError(f"heads must be a list of (layer, head) pairs; for one head write "
                         f"[{heads!r}], not {heads!r}.")
    checked = set()
    for item in heads:
        if (not isinstance(item, (tuple, list)) or len(item) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in item)):
            raise InputError(f"Each head is a (layer, head) pair of integers, got {item!r}.")
        layer, head = item
        if not (0 <= layer < lm.n_layers and 0 <= head < lm.n_heads):
            raise InputError(f"Head {(layer, head)} is out of range: {lm.name} has layers "
                             f"0..{lm.n_layers - 1} and heads 0..{lm.n_heads - 1} (0-based).")
        checked.add((layer, head))
    return tuple(sorted(checked))


def _checked_key_mask(remove_keys: torch.Tensor) -> torch.Tensor:
    if not isinstance(remove_keys, torch.Tensor) or remove_keys.dtype != torch.bool \
            or remove_keys.dim() != 2:
        raise InputError("remove_keys must be a bool tensor [batch, key] marking the keys whose "
                         f"attention is cut, e.g. masks.sep; got {remove_keys!r:.80}.")
    if not remove_keys.any():
        raise InputError("remove_keys marks no position (an empty key set): nothing would be "
                         "ablated. Mark at least one key, or pass remove_keys=None to switch the "
                         "heads off entirely.")
    if remove_keys.all(dim=1).any():
        raise InputError("remove_keys marks every position of a text: a query would have no key "
                         "left to attend to. Leave at least one key of each text unmarked.")
    return remove_keys


@contextlib.contextmanager
def heads_ablated(lm: LoadedModel, heads: Iterable[Head],
                  remove_keys: torch.Tensor | None = None) -> Iterator[None]:
    """Inside the ``with`` block, `lm.model` runs with `heads` ablated; hooks go on leaving it.

    ``remove_keys=None``: the heads are switched off. ``remove_keys`` a bool ``[B, K]`` tensor for
    the batch you are about to run: those heads' attention to the marked keys is cut and their
    rows renormalised. Every layer gets a hook, even with no ablated head, so "ablate nothing"
    runs the same code path as "ablate something".
    """
    heads = _checked_heads(lm, heads)
    if remove_keys is not None:
        remove_keys = _checked_key_mask(remove_keys).to(lm.device)
    handles = []
    for layer, parts in enumerate(attention_parts(lm)):
        chosen = torch.zeros(parts.n_heads, dtype=torch.bool, device=lm.device)  # [H]
        chosen[[h for l, h in heads if l == layer]] = True
        if remove_keys is None:
            hook = _switch_off_hook(chosen, parts.head_size)
            handles.append(parts.self_attention.register_forward_hook(hook))
        else:
            hook = _cut_keys_hook(chosen, remove_keys)
            handles.append(parts.self_attention.register_forward_pre_hook(hook, with_kwargs=True))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _switch_off_hook(chosen: torch.Tensor, head_size: int):
    """Forward hook: zero the chosen heads' slices of the self-attention output ``[B, T, H*E]``."""
    keep = (~chosen).repeat_interleave(head_size)  # [H*E]

    def hook(module, args, output):
        head_outputs, weights = output[0], output[1:]
        return (head_outputs * keep.to(head_outputs.dtype), *weights)
    return hook


def _cut_keys_hook(chosen: torch.Tensor, remove_keys: torch.Tensor):
    """Forward pre-hook: mask the marked keys before the softmax, for the chosen heads only."""
    cut = chosen[None, :, None, None] & remove_keys[:, None, None, :]  # [B, H, 1, K]

    def hook(module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]          # [B, T, D]
        mask = kwargs.get("attention_mask")                            # [B, 1, Q, K] additive
        if mask is None:                                               # no padding in the batch
            mask = hidden.new_zeros(hidden.shape[0], 1, hidden.shape[1], hidden.shape[1])
        if mask.dtype == torch.bool:                                   # True = may attend
            new_mask = mask & ~cut                                     # [B, H, Q, K]
        else:
            new_mask = torch.where(cut, torch.finfo(mask.dtype).min, mask)  # [B, H, Q, K]
        return args, {**kwargs, "attention_mask": new_mask}
    return hook


@dataclass(frozen=True)
class AblationEffect:
    """How much ablating `heads` changed the model's output, averaged over `n_texts` texts.

    ``cls_cosine_distance``: mean of ``1 - cos(h, h')`` between the final [CLS] vectors before and
    after; ``cls_relative_change``: mean ``‖h' - h‖ / ‖h‖``. For a classifier, ``prediction_kl``
    is the mean ``KL(p ‖ p')`` of the predicted class distributions (nats) and ``flip_rate`` the
    share of texts whose predicted class changes; with labels, the accuracy before and after.
    Not applicable values are NaN.
    """

    heads: tuple[Head, ...]
    keys: str | None
    n_texts: int
    cls_cosine_distance: float
    cls_relative_change: float
    prediction_kl: float = math.nan
    flip_rate: float = math.nan
    accuracy_before: float = math.nan
    accuracy_after: float = math.nan
    text_cosine_distances: tuple[float, ...] = ()   # per text, in the order of the texts

    def as_row(self) -> dict:
        """The numbers as one row of a comparison table (``heads`` replaced by their count)."""
        return {"n_heads": len(self.heads)} | {k: v for k, v in asdict(self).items()
                                               if k not in ("heads", "text_cosine_distances")}


def ablate_heads(lm: LoadedModel, texts: Sequence[str], heads: Iterable[Head],
                 pairs: Sequence[str] | None = None, *, keys: str | None = None,
                 labels: Sequence[int] | None = None, batch_size: int = 32,
                 progress: bool = True) -> AblationEffect:
    """Run `texts` as they are and with `heads` ablated; return the `AblationEffect`.

    ``keys=None`` switches the heads off; ``keys`` one of `KEY_SETS` cuts their attention to
    those keys instead. `labels` (one class id per text) add accuracy for a classifier.
    """
    heads = _checked_heads(lm, heads)
    if keys is not None and keys not in KEY_SETS:
        raise InputError(f"keys must be None (switch the heads off) or one of {KEY_SETS}, "
                         f"got {keys!r}. An empty key set would ablate nothing.")
    texts, pairs = check_corpus(texts, pairs)
    labels = classifier_labels(lm, texts, labels)
    sums = dict.fromkeys(("cosine", "relative", "kl", "flips", "correct_before",
                          "correct_after"), 0.0)
    distances = [0.0] * len(texts)
    n_texts = 0
    for batch in iter_encoded(lm, texts, pairs, batch_size=batch_size, progress=progress,
                              desc="ablation", sort_by_length=True):
        inputs, masks = batch.inputs, batch.masks
        before = _run(lm, inputs, masks)
        with heads_ablated(lm, heads, None if keys is None else getattr(masks, keys)):
            after = _run(lm, inputs, masks)
        batch_distances = _cosine_distance(before.cls, after.cls)          # [B]
        for index, distance in zip(batch.indices, batch_distances.tolist()):
            distances[index] = distance
        sums["cosine"] += float(batch_distances.sum())
        sums["relative"] += float(((after.cls - before.cls).norm(dim=-1)
                                   / before.cls.norm(dim=-1)).sum())
        if before.log_probs is not None:
            sums["kl"] += float(F.kl_div(after.log_probs, before.log_probs, log_target=True,
                                         reduction="sum"))
            sums["flips"] += float((before.predicted != after.predicted).sum())
            if labels is not None:
                batch_labels = labels[batch.indices]
                sums["correct_before"] += float((before.predicted == batch_labels).sum())
                sums["correct_after"] += float((after.predicted == batch_labels).sum())
        n_texts += len(before.cls)
    mean = {k: v / n_texts for k, v in sums.items()}
    classifier, labelled = lm.has_classifier, lm.has_classifier and labels is not None
    return AblationEffect(
        heads=heads, keys=keys, n_texts=n_texts,
        cls_cosine_distance=mean["cosine"], cls_relative_change=mean["relative"],
        prediction_kl=mean["kl"] if classifier else math.nan,
        flip_rate=mean["flips"] if classifier else math.nan,
        accuracy_before=mean["correct_before"] if labelled else math.nan,
        accuracy_after=mean["correct_after"] if labelled else math.nan,
        text_cosine_distances=tuple(distances))


@dataclass(frozen=True)
class _Outputs:
    cls: torch.Tensor                 # [B, D] final hidden state at [CLS], float64, CPU
    log_probs: torch.Tensor | None    # [B, C] log-softmax of the logits, or None (no classifier)
    predicted: torch.Tensor | None    # [B] predicted class


def _cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``1 - cos(a, b)`` per row, ``[B]`` from ``[B, D]``, written as ``½‖a/‖a‖ - b/‖b‖‖²`` (the
    same number) so that identical vectors give exactly 0, not a rounding error."""
    return 0.5 * (F.normalize(a, dim=-1) - F.normalize(b, dim=-1)).pow(2).sum(dim=-1)


def _run(lm: LoadedModel, inputs: dict[str, torch.Tensor], masks) -> _Outputs:
    """One inference forward pass, reduced to what `AblationEffect` compares."""
    with torch.inference_mode():
        outputs = lm.model(**inputs, output_hidden_states=True)
    last = outputs.hidden_states[-1].double().cpu()                   # [B, T, D]
    cls_position = masks.cls.int().argmax(dim=1)                      # [B], the first [CLS]
    cls = last[torch.arange(last.shape[0]), cls_position]             # [B, D]
    logits = getattr(outputs, "logits", None)
    if logits is None:
        return _Outputs(cls, None, None)
    log_probs = F.log_softmax(logits.double().cpu(), dim=-1)          # [B, C]
    return _Outputs(cls, log_probs, log_probs.argmax(dim=-1))


def top_heads(table: pd.DataFrame, metric: str, n: int) -> list[Head]:
    """The `n` heads with the highest `metric` in a (layer, head) table, highest first.

    >>> table = pd.DataFrame({"layer": [0, 0, 1], "head": [0, 1, 0], "sep_share": [.1, .7, .4]})
    >>> top_heads(table, "sep_share", 2)
    [(0, 1), (1, 0)]
    """
    if not {"layer", "head", metric} <= set(table.columns):
        raise InputError(f"top_heads needs a table with 'layer', 'head' and {metric!r} columns, "
                         "such as bertlab.corpus_scores(...).")
    if not isinstance(n, int) or not 0 < n <= len(table):
        raise InputError(f"n must be an integer from 1 to {len(table)} (the table's heads), "
                         f"got {n!r}.")
    best = table.nlargest(n, metric)
    return [(int(l), int(h)) for l, h in zip(best["layer"], best["head"])]


def random_heads(lm: LoadedModel, n: int, seed: int = 0,
                 exclude: Iterable[Head] = ()) -> list[Head]:
    """`n` distinct heads drawn at random (a control for `top_heads`), none of them in `exclude`.

    >>> random_heads(load(), 3, seed=0) == random_heads(load(), 3, seed=0)
    True
    """
    excluded = set(_checked_heads(lm, exclude))
    pool = [(l, h) for l in range(lm.n_layers) for h in range(lm.n_heads) if (l, h) not in excluded]
    if not isinstance(n, int) or not 0 < n <= len(pool):
        raise InputError(f"n must be an integer from 1 to {len(pool)} (the heads left to draw "
                         f"from), got {n!r}.")
    return sorted(random.Random(seed).sample(pool, n))

"""Run a model once and keep its attention: the `Attention` object every later step reads.

Book chapter: "Extracting and reading attention".

This module is the only place in bertlab that tokenises, pads and truncates text
(`iter_encoded`): scores, roles, drift, norms, ablation, gradients, probes and classification
all encode their texts here, so the same text always becomes the same positions, an over-long
text always warns, and so does a text the tokenizer mostly cannot read ([UNK]). Two rules hold
whatever the caller's objects say, without changing them:

* padding goes on the **right** (a left-padding tokenizer would shift every position);
* the model runs in **eval mode** (dropout would make attention random); its mode is restored.

Padding is removed here and nowhere else: `Attention.weights` never contains padding, and the
batched path hands later code a `PositionMasks` that marks the real positions.

Shape letters used in this file: N texts, B batch, T padded length, L layer, H head, Q query,
K key, D hidden size, C class.

>>> lm = load()
>>> att = extract(lm, "The dog chased the cat.")
>>> att.tokens
['[CLS]', 'the', 'dog', 'chased', 'the', 'cat', '.', '[SEP]']
>>> tuple(att.weights.shape)
(6, 12, 8, 8)
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from .attention import Attention, PositionMasks, is_punctuation
from .errors import AttentionUnavailableError, InputError, TextTooLongError, UnsupportedModelError, warn
from .loading import LoadedModel, check_loaded, eval_mode, load  # noqa: F401  (load: doctest)

__all__ = ["Attention", "PositionMasks", "EncodedBatch", "ForwardOutputs", "extract",
           "extract_batch", "iter_batches", "iter_encoded", "run_forward", "check_corpus",
           "is_punctuation", "special_token_ids", "UNKNOWN_WARNING_SHARE"]

#: A text warns when more than this share of its word pieces (special tokens aside) are the
#: tokenizer's [UNK]: beyond one piece in ten, the numbers describe the gaps of the tokenizer's
#: vocabulary (a script or symbols it was not made for) more than the text itself.
UNKNOWN_WARNING_SHARE = 0.1

# Characters that take no space and carry no text (zero-width space, joiners, byte-order mark):
# a text made only of these and whitespace is empty.
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"}


def special_token_ids(tokenizer) -> list[int]:
    """The ids of the tokens a tokenizer adds itself ([CLS], [SEP], ``<s>``, ``</s>``, ...).

    Padding is no position at all, and [UNK] and [MASK] stand for words of the text (unknown or
    hidden ones), so they are content: none of the three counts as special.
    """
    not_special = {tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.mask_token_id}
    return sorted(set(tokenizer.all_special_ids) - not_special)


@dataclass(frozen=True)
class EncodedBatch:
    """One padded batch, before the forward pass (`iter_encoded`).

    `indices` are the batch's texts' positions in the corpus (in batch order), `inputs` the
    model's keyword inputs on its device (each ``[B, T]``), `masks` the `PositionMasks`.
    """

    indices: list[int]
    inputs: dict[str, torch.Tensor]
    masks: PositionMasks

    @property
    def token_ids(self) -> torch.Tensor:
        """``[B, T]`` long on the CPU."""
        return self.inputs["input_ids"].cpu()


@dataclass(frozen=True)
class ForwardOutputs:
    """What one eval-mode forward pass over an `EncodedBatch` gives (`run_forward`).

    `attentions`: one ``[B, H, Q, K]`` float32 CPU tensor per layer (padded keys get 0);
    `logits`: ``[B, C]`` float32 CPU for a classifier, else None; `attention_inputs`: the hidden
    states ``[B, T, D]`` each layer's attention read (on the model's device), when asked for.
    """

    attentions: tuple[torch.Tensor, ...]
    logits: torch.Tensor | None = None
    attention_inputs: tuple[torch.Tensor, ...] | None = None


def extract(lm: LoadedModel, text: str, text_pair: str | None = None, *,
            truncation: bool = True) -> Attention:
    """Attention of one text, or of a sentence pair (``[CLS] text [SEP] text_pair [SEP]``)."""
    check_loaded(lm, "extract")
    _check_text(text, "text")
    if text_pair is not None:
        _check_text(text_pair, "text_pair")
    pairs = None if text_pair is None else [text_pair]
    return extract_batch(lm, [text], pairs, truncation=truncation)[0]


def extract_batch(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                  batch_size: int = 32, truncation: bool = True,
                  progress: bool = False) -> list[Attention]:
    """`extract` for many texts, in their order: batched by length (less padding), handed back
    unpadded."""
    check_loaded(lm, "extract_batch")
    results: dict[int, Attention] = {}
    for batch in iter_encoded(lm, texts, pairs, batch_size=batch_size, truncation=truncation,
                              progress=progress, desc="attention", sort_by_length=True):
        stacked = torch.stack(run_forward(lm, batch).attentions, dim=1)  # [B, L, H, T, T]
        masks, token_ids = batch.masks, batch.token_ids
        for b, index in enumerate(batch.indices):
            keep = masks.valid[b].nonzero().flatten()                     # real positions
            ids = token_ids[b, keep]
            results[index] = Attention(
                weights=stacked[b][:, :, keep][:, :, :, keep].contiguous(),  # [L, H, Q, K]
                tokens=lm.tokenizer.convert_ids_to_tokens(ids.tolist()),
                token_ids=ids, segment_ids=masks.segment[b, keep],
                special_mask=masks.special[b, keep],
                cls_token_id=lm.tokenizer.cls_token_id, sep_token_id=lm.tokenizer.sep_token_id,
                model_name=lm.name)
    return [results[index] for index in range(len(results))]


def iter_batches(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                 batch_size: int = 32, truncation: bool = True, progress: bool = False,
                 ) -> Iterator[tuple[tuple[torch.Tensor, ...], PositionMasks, torch.Tensor]]:
    """Yield ``(attentions, masks, token_ids)`` per padded batch, in corpus order.

    `attentions` is one ``[B, H, T, T]`` float32 CPU tensor per layer; `masks` marks the real
    positions; `token_ids` is ``[B, T]``. For many measurements in one pass, use
    `bertlab.reduction.run_pass` instead.
    """
    check_loaded(lm, "iter_batches")
    for batch in iter_encoded(lm, texts, pairs, batch_size=batch_size, truncation=truncation,
                              progress=progress, desc="attention"):
        yield run_forward(lm, batch).attentions, batch.masks, batch.token_ids


def run_forward(lm: LoadedModel, batch: EncodedBatch, *, attention_inputs: bool = False
                ) -> ForwardOutputs:
    """One forward pass over `batch` without gradients (inside `iter_encoded`'s eval mode).

    Checks that attention weights came back and that they are not causal (a decoder's upper
    triangle is exactly zero). ``attention_inputs=True`` also records what each layer's
    attention read (BERT-layout models, `bertlab.internals`).
    """
    capture = contextlib.nullcontext([])
    if attention_inputs:
        from .internals import capture_attention_inputs
        capture = capture_attention_inputs(lm)
    with capture as inputs, torch.inference_mode():
        outputs = lm.model(**batch.inputs, output_attentions=True)
    attentions = _checked_attentions(outputs, lm)
    _check_not_causal(attentions, batch.masks, lm)
    logits = getattr(outputs, "logits", None)
    return ForwardOutputs(attentions=attentions,
                          logits=None if logits is None else logits.float().cpu(),
                          attention_inputs=tuple(inputs) if attention_inputs else None)


def iter_encoded(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                 batch_size: int = 32, truncation: bool = True, progress: bool = False,
                 desc: str = "batches", sort_by_length: bool = False,
                 for_training: bool = False) -> Iterator[EncodedBatch]:
    """Yield one `EncodedBatch` per padded batch, before any forward pass, for computations that
    run the model their own way (hooks, gradients, training). The model is in eval mode while
    the batches are handed out, and back in its own mode afterwards; ``for_training=True``
    leaves its mode alone (the caller is training it, dropout and all).

    ``sort_by_length=True`` batches texts of similar length together (less padding, less work);
    `EncodedBatch.indices` says where each text came from, so results can be put back in the
    corpus's order.
    """
    check_loaded(lm, "iter_encoded")
    texts, pairs = check_corpus(texts, pairs)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}.")
    encoded = _encode_corpus(lm, texts, pairs, truncation)
    order = list(range(len(texts)))
    if sort_by_length:
        order.sort(key=lambda i: len(encoded.ids[i]))
    starts = range(0, len(order), batch_size)
    accepted = _accepted_inputs(lm.model)
    with contextlib.nullcontext() if for_training else eval_mode(lm.model):
        for start in tqdm(starts, desc=f"{desc} ({lm.name})", unit="batch", disable=not progress):
            indices = order[start:start + batch_size]
            yield _padded_batch(lm, encoded, indices, pairs is not None, accepted)


def _accepted_inputs(model) -> set[str] | None:
    """The keyword inputs the model's forward takes (None: any, it has ``**kwargs``). A BERT
    tokenizer's token_type_ids are not for a DistilBERT or T5 encoder, for instance."""
    parameters = inspect.signature(model.forward).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters}


def check_corpus(texts, pairs) -> tuple[list[str], list[str] | None]:
    """`texts` (and `pairs`) as lists, checked: non-empty strings, one pair per text."""
    if isinstance(texts, str):
        raise InputError("Expected a list of texts, got a single string. Wrap it in a list: "
                         "[text], or use bertlab.extract(lm, text) for one text.")
    try:
        texts = list(texts)
    except TypeError:
        raise InputError(f"Expected a list of texts, got {type(texts).__name__}.") from None
    if not texts:
        raise InputError("The corpus is empty: pass at least one text.")
    for i, text in enumerate(texts):
        _check_text(text, f"texts[{i}]")
    if pairs is None:
        return texts, None
    if isinstance(pairs, str):
        raise InputError("pairs must be a list of second sentences, one per text, not a string.")
    pairs = list(pairs)
    if len(pairs) != len(texts):
        raise InputError(f"pairs has {len(pairs)} entries but texts has {len(texts)}: give one "
                         "second sentence per text, or pairs=None for single sentences.")
    for i, text in enumerate(pairs):
        _check_text(text, f"pairs[{i}]")
    return texts, pairs


def _check_text(text, what: str) -> None:
    if not isinstance(text, str):
        raise InputError(f"{what} must be a string, got {type(text).__name__}: {text!r:.80}")
    if not "".join(char for char in text if char not in _INVISIBLE).strip():
        raise InputError(f"{what} is empty or only whitespace (or zero-width characters): there "
                         "is nothing to attend to. Pass a sentence with at least one word.")


@dataclass(frozen=True)
class _EncodedCorpus:
    ids: list[list[int]]              # per text: its token ids, truncated where needed
    segments: list[list[int]]         # per text: 0 for sentence A, 1 for sentence B
    token_types: list[list[int]] | None


def _encode_corpus(lm: LoadedModel, texts: list[str], pairs: list[str] | None,
                   truncation: bool) -> _EncodedCorpus:
    """Tokenise the whole corpus once (no padding), truncating over-long texts only on purpose."""
    tokenizer, limit = lm.tokenizer, lm.max_length
    encoding = tokenizer(texts, pairs, verbose=False)
    too_long = [i for i, ids in enumerate(encoding["input_ids"]) if len(ids) > limit]
    if too_long:
        lengths = {i: len(encoding["input_ids"][i]) for i in too_long}
        first = too_long[0]
        if not truncation:
            raise TextTooLongError(
                f"texts[{first}] is {lengths[first]} tokens long, but {lm.name} takes at most "
                f"{limit}. Shorten it, split it into sentences, or pass truncation=True to keep "
                "the first tokens.")
        warn(f"texts[{first}] is {lengths[first]} tokens long; {lm.name} takes at most {limit}, "
             f"so it was truncated to {limit} tokens ({len(too_long)} text(s) truncated: "
             f"{', '.join(f'texts[{i}]' for i in too_long[:5])}{' ...' if len(too_long) > 5 else ''}).")
        encoding = tokenizer(texts, pairs, truncation=True, max_length=limit, verbose=False)
    _warn_if_mostly_unknown(lm, texts, pairs, encoding["input_ids"])
    types = encoding.get("token_type_ids")
    segments = _segments(lm, encoding, pairs is not None)
    return _EncodedCorpus(ids=encoding["input_ids"], segments=segments, token_types=types)


def _segments(lm: LoadedModel, encoding, is_pair: bool) -> list[list[int]]:
    """Per text, the segment of each position: token_type_ids, or (models without token types,
    such as RoBERTa) 1 from the first token of the second sentence on (fast tokenizers)."""
    ids = encoding["input_ids"]
    if not is_pair:
        return [[0] * len(row) for row in ids]
    types = encoding.get("token_type_ids")
    if types is not None and any(1 in row for row in types):
        return [list(row) for row in types]
    try:
        sequence_ids = [encoding.sequence_ids(i) for i in range(len(ids))]
    except ValueError:
        raise UnsupportedModelError(
            f"The tokenizer of {lm.name!r} gives no token types and is not a fast tokenizer, so "
            "bertlab cannot tell where the second sentence starts. Load it with "
            "AutoTokenizer.from_pretrained(..., use_fast=True).") from None
    segments = []
    for row in sequence_ids:
        start = row.index(1) if 1 in row else len(row)
        segments.append([0] * start + [1] * (len(row) - start))
    return segments


def _warn_if_mostly_unknown(lm: LoadedModel, texts: list[str], pairs: list[str] | None,
                            ids: list[list[int]]) -> None:
    """Warn when a text (with its pair's second sentence, which shares its tokens) is more than
    `UNKNOWN_WARNING_SHARE` [UNK]; the message names the worst one."""
    unknown_id = lm.tokenizer.unk_token_id
    if unknown_id is None:
        return
    special = set(special_token_ids(lm.tokenizer))
    shares = []
    for row in ids:
        pieces = [i for i in row if i not in special]
        shares.append(sum(i == unknown_id for i in pieces) / max(len(pieces), 1))
    flagged = [i for i, share in enumerate(shares) if share > UNKNOWN_WARNING_SHARE]
    if flagged:
        worst = max(flagged, key=shares.__getitem__)
        kind, which = "text(s)", f"texts[{worst}] ({texts[worst][:30]!r})"
        if pairs is not None:
            kind = "pair(s)"
            which = (f"the pair texts[{worst}] + pairs[{worst}] ({texts[worst][:30]!r} + "
                     f"{pairs[worst][:30]!r})")
        warn(f"{len(flagged)} of {len(texts)} {kind} are more than {UNKNOWN_WARNING_SHARE:.0%} "
             f"[UNK] for {lm.name}'s tokenizer: {which} is {shares[worst]:.0%} [UNK]. The "
             "tokenizer does not know these characters, so the numbers describe its gaps, not "
             "the text. Use a model with a tokenizer made for this language or script (e.g. a "
             "Japanese BERT for Japanese).")


def _padded_batch(lm: LoadedModel, encoded: _EncodedCorpus, indices: list[int], is_pair: bool,
                  accepted: set[str] | None) -> EncodedBatch:
    """Pad the texts `indices` on the right into ``[B, T]`` tensors, with their masks."""
    tokenizer = lm.tokenizer
    length = max(len(encoded.ids[i]) for i in indices)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def padded(rows, value) -> torch.Tensor:                     # [B, T] long
        return torch.tensor([row + [value] * (length - len(row)) for row in rows])

    ids = padded([encoded.ids[i] for i in indices], pad_id)
    valid = padded([[1] * len(encoded.ids[i]) for i in indices], 0).bool()
    inputs = {"input_ids": ids, "attention_mask": valid.long()}
    if encoded.token_types is not None:
        inputs["token_type_ids"] = padded([encoded.token_types[i] for i in indices], 0)
    inputs = {k: v.to(lm.device) for k, v in inputs.items()
              if k in tokenizer.model_input_names and (accepted is None or k in accepted)}
    special = torch.isin(ids, torch.tensor(special_token_ids(tokenizer))) & valid
    present = ids.unique().tolist()                                # [U] ids in this batch
    punct_ids = [i for i, token in zip(present, tokenizer.convert_ids_to_tokens(present))
                 if is_punctuation(token)]
    masks = PositionMasks(
        valid=valid, cls=(ids == tokenizer.cls_token_id) & valid,
        sep=(ids == tokenizer.sep_token_id) & valid, special=special,
        punct=torch.isin(ids, torch.tensor(punct_ids, dtype=torch.long)) & valid & ~special,
        segment=padded([encoded.segments[i] for i in indices], 0) * valid,
        is_pair=torch.full((len(indices),), is_pair))
    return EncodedBatch(indices=indices, inputs=inputs, masks=masks)


def _checked_attentions(outputs, lm: LoadedModel) -> tuple[torch.Tensor, ...]:
    attentions = getattr(outputs, "attentions", None)
    if not attentions or len(attentions) != lm.n_layers or attentions[0] is None:
        raise AttentionUnavailableError(
            f"{lm.name!r} returned no attention weights (got {attentions!r}). This happens with "
            "SDPA or flash attention: load the model with bertlab.load(), or wrap it with "
            "bertlab.wrap(model, tokenizer), which switches it to eager attention.")
    return tuple(a.float().cpu() for a in attentions)


def _check_not_causal(attentions: tuple[torch.Tensor, ...], masks: PositionMasks,
                      lm: LoadedModel) -> None:
    """A decoder's attention is causal: nothing above the diagonal, in every layer and head.
    The batch's first text is enough to tell (and cheap to look at)."""
    n = int(masks.valid[0].sum())
    if n < 3:
        return                                                     # too short to tell
    above = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)   # [Q, K]
    if all(float(a[0, :, :n, :n][:, above].abs().max()) == 0.0 for a in attentions):
        raise UnsupportedModelError(
            f"{lm.name!r} behaves as a decoder: in every layer and head each token attends only "
            "to itself and the tokens before it (causal attention), so there is no [CLS]/[SEP] "
            "role to study. bertlab studies encoders (BERT, RoBERTa, DistilBERT, MiniLM, ...).")

"""Run a model once and keep its attention: the `Attention` object every later step reads.

Book chapter: "Extracting and reading attention".

Shape letters used in this file: B batch, T padded length, L layer, H head, Q query, K key.
Padding is handled here and nowhere else: `Attention.weights` never contains padding, and the
batched path hands `metrics` a `PositionMasks` that marks the real positions.

>>> lm = load()
>>> att = extract(lm, "The dog chased the cat.")
>>> att.tokens
['[CLS]', 'the', 'dog', 'chased', 'the', 'cat', '.', '[SEP]']
>>> tuple(att.weights.shape)
(6, 12, 8, 8)
"""

from __future__ import annotations

import functools
import unicodedata
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from .errors import AttentionUnavailableError, BertlabWarning, InputError, TextTooLongError
from .loading import LoadedModel, load  # noqa: F401  (load is used by the doctest above)

__all__ = ["Attention", "PositionMasks", "extract", "extract_batch", "iter_batches", "iter_encoded",
           "check_corpus", "is_punctuation"]


def is_punctuation(token: str) -> bool:
    """True for a token made of punctuation only: ``.`` ``,`` ``!?`` ``##.`` (WordPiece) ``Ġ,``."""
    text = token.removeprefix("##").lstrip("Ġ▁")
    return bool(text) and all(unicodedata.category(char).startswith("P") for char in text)


@dataclass(frozen=True)
class PositionMasks:
    """Which positions of a padded batch hold what; every tensor is ``[B, T]``.

    `valid` marks real tokens (False on padding). The other masks are False on padding too.
    """

    valid: torch.Tensor        # [B, T] bool
    cls: torch.Tensor          # [B, T] bool, the tokenizer's cls_token
    sep: torch.Tensor          # [B, T] bool, the tokenizer's sep_token
    special: torch.Tensor      # [B, T] bool, any special id except padding
    punct: torch.Tensor        # [B, T] bool, punctuation-only tokens
    segment: torch.Tensor      # [B, T] long, 0 for sentence A, 1 for sentence B
    is_pair: torch.Tensor      # [B] bool


@dataclass(frozen=True)
class Attention:
    """The attention of one text (or sentence pair) through every layer and head.

    `weights` is ``[layer, head, query, key]``, float32 on the CPU, padding removed, so every
    row ``weights[l, h, i]`` sums to 1. Position masks are ``[position]`` tensors.
    """

    weights: torch.Tensor       # [L, H, Q, K] with Q == K == len(tokens)
    tokens: list[str]
    token_ids: torch.Tensor     # [position] long
    segment_ids: torch.Tensor   # [position] long: token_type_ids (0 = sentence A, 1 = B)
    special_mask: torch.Tensor  # [position] bool: the tokenizer's special tokens
    cls_token_id: int
    sep_token_id: int
    model_name: str

    @property
    def n_layers(self) -> int:
        return self.weights.shape[0]

    @property
    def n_heads(self) -> int:
        return self.weights.shape[1]

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def is_pair(self) -> bool:
        return bool((self.segment_ids == 1).any())

    @property
    def cls_mask(self) -> torch.Tensor:
        return self.token_ids == self.cls_token_id

    @property
    def sep_mask(self) -> torch.Tensor:
        return self.token_ids == self.sep_token_id

    @property
    def punct_mask(self) -> torch.Tensor:
        return torch.tensor([is_punctuation(t) for t in self.tokens]) & ~self.special_mask

    @property
    def cls_positions(self) -> list[int]:
        return self.cls_mask.nonzero().flatten().tolist()

    @property
    def sep_positions(self) -> list[int]:
        return self.sep_mask.nonzero().flatten().tolist()

    @property
    def sentence_b_start(self) -> int | None:
        """Index of the first token of sentence B, or None for a single sentence."""
        return int((self.segment_ids == 1).nonzero()[0]) if self.is_pair else None

    def masks(self) -> PositionMasks:
        """The same position masks as the batched path, for a batch of one (``[1, T]``)."""
        return PositionMasks(
            valid=torch.ones(1, self.n_tokens, dtype=torch.bool),
            cls=self.cls_mask[None], sep=self.sep_mask[None], special=self.special_mask[None],
            punct=self.punct_mask[None], segment=self.segment_ids[None],
            is_pair=torch.tensor([self.is_pair]))

    def __repr__(self) -> str:
        shape = "×".join(str(n) for n in self.weights.shape)
        text = " ".join(self.tokens)
        return f"Attention({self.model_name!r}, weights [layer, head, query, key] = {shape}: {text!r})"


def extract(lm: LoadedModel, text: str, text_pair: str | None = None, *,
            truncation: bool = True) -> Attention:
    """Attention of one text, or of a sentence pair (``[CLS] text [SEP] text_pair [SEP]``)."""
    _check_text(text, "text")
    if text_pair is not None:
        _check_text(text_pair, "text_pair")
    pairs = None if text_pair is None else [text_pair]
    return extract_batch(lm, [text], pairs, truncation=truncation)[0]


def extract_batch(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                  batch_size: int = 32, truncation: bool = True,
                  progress: bool = False) -> list[Attention]:
    """`extract` for many texts: pads each batch once, hands back unpadded `Attention` objects."""
    results = []
    for attentions, masks, token_ids in iter_batches(lm, texts, pairs, batch_size=batch_size,
                                                     truncation=truncation, progress=progress):
        stacked = torch.stack(attentions, dim=1)  # [B, L, H, T, T]
        for b in range(stacked.shape[0]):
            keep = masks.valid[b].nonzero().flatten()  # real positions, in order
            weights = stacked[b][:, :, keep][:, :, :, keep]  # [L, H, Q, K]
            ids = token_ids[b, keep]
            results.append(Attention(
                weights=weights.contiguous(),
                tokens=lm.tokenizer.convert_ids_to_tokens(ids.tolist()),
                token_ids=ids, segment_ids=masks.segment[b, keep],
                special_mask=masks.special[b, keep],
                cls_token_id=lm.tokenizer.cls_token_id, sep_token_id=lm.tokenizer.sep_token_id,
                model_name=lm.name))
    return results


def iter_encoded(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                 batch_size: int = 32, truncation: bool = True, progress: bool = False,
                 desc: str = "batches",
                 ) -> Iterator[tuple[int, dict[str, torch.Tensor], PositionMasks]]:
    """Yield ``(start, inputs, masks)`` per padded batch, before any forward pass: the index of
    its first text, the model's keyword inputs on the model's device (each ``[B, T]``), and the
    `PositionMasks`. For computations that run the model their own way (hooks, gradients)."""
    texts, pairs = check_corpus(texts, pairs)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}.")
    starts = range(0, len(texts), batch_size)
    for start in tqdm(starts, desc=f"{desc} ({lm.name})", unit="batch", disable=not progress):
        batch_pairs = None if pairs is None else pairs[start:start + batch_size]
        encoding = _encode(lm, texts[start:start + batch_size], batch_pairs, truncation)
        inputs = {k: v.to(lm.device) for k, v in encoding.items()
                  if k in lm.tokenizer.model_input_names}
        yield start, inputs, _position_masks(lm, encoding, batch_pairs is not None)


def iter_batches(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                 batch_size: int = 32, truncation: bool = True, progress: bool = False,
                 ) -> Iterator[tuple[tuple[torch.Tensor, ...], PositionMasks, torch.Tensor]]:
    """Yield ``(attentions, masks, token_ids)`` per padded batch, for streaming computations.

    `attentions` is the model's own tuple, one ``[B, H, T, T]`` float32 CPU tensor per layer;
    `masks` marks the real positions; `token_ids` is ``[B, T]``.
    """
    for _, inputs, masks in iter_encoded(lm, texts, pairs, batch_size=batch_size,
                                         truncation=truncation, progress=progress,
                                         desc="attention"):
        with torch.inference_mode():
            outputs = lm.model(**inputs, output_attentions=True)
        yield _checked_attentions(outputs, lm), masks, inputs["input_ids"].cpu()


def _checked_attentions(outputs, lm: LoadedModel) -> tuple[torch.Tensor, ...]:
    attentions = getattr(outputs, "attentions", None)
    if not attentions or len(attentions) != lm.n_layers or attentions[0] is None:
        raise AttentionUnavailableError(
            f"{lm.name!r} returned no attention weights (got {attentions!r}). This happens with "
            "SDPA or flash attention: load the model with bertlab.load(), or wrap it with "
            "bertlab.wrap(model, tokenizer), which switches it to eager attention.")
    return tuple(a.float().cpu() for a in attentions)


def _check_text(text, what: str) -> None:
    if not isinstance(text, str):
        raise InputError(f"{what} must be a string, got {type(text).__name__}: {text!r:.80}")
    if not text.strip():
        raise InputError(f"{what} is empty or only whitespace: there is nothing to attend to. "
                         "Pass a sentence with at least one word.")


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


def _encode(lm: LoadedModel, texts: list[str], pairs: list[str] | None, truncation: bool):
    """Tokenize a batch, padded to its longest member, truncating over-long texts only on purpose."""
    tokenizer, limit = lm.tokenizer, lm.max_length
    encoding = tokenizer(texts, pairs, padding=True, return_tensors="pt", verbose=False)
    lengths = encoding["attention_mask"].sum(dim=1).tolist()  # [B] real tokens per text
    too_long = [(i, n) for i, n in enumerate(lengths) if n > limit]
    if not too_long:
        return encoding
    i, n = too_long[0]
    where = f"text {i} of this batch" if len(texts) > 1 else "the text"
    if not truncation:
        raise TextTooLongError(
            f"{where} is {n} tokens long, but {lm.name} takes at most {limit}. Shorten it, "
            "split it into sentences, or pass truncation=True to keep the first tokens.")
    warnings.warn(f"{where} is {n} tokens long; {lm.name} takes at most {limit}, so it was "
                  f"truncated to {limit} tokens ({len(too_long)} text(s) in this batch).",
                  BertlabWarning, stacklevel=4)
    return tokenizer(texts, pairs, padding=True, truncation=True, max_length=limit,
                     return_tensors="pt")


@functools.lru_cache(maxsize=8)
def _punctuation_ids(tokenizer) -> torch.Tensor:
    """``[vocab]`` bool: which token ids are punctuation only (computed once per tokenizer)."""
    vocabulary = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return torch.tensor([is_punctuation(token) for token in vocabulary], dtype=torch.bool)


def _position_masks(lm: LoadedModel, encoding, is_pair: bool) -> PositionMasks:
    tokenizer = lm.tokenizer
    ids = encoding["input_ids"]                                          # [B, T]
    valid = encoding["attention_mask"].bool()                            # [B, T]
    special_ids = [i for i in tokenizer.all_special_ids if i != tokenizer.pad_token_id]
    punct = _punctuation_ids(tokenizer)[ids]                             # [B, T]
    special = torch.isin(ids, torch.tensor(special_ids)) & valid
    return PositionMasks(
        valid=valid, cls=(ids == tokenizer.cls_token_id) & valid,
        sep=(ids == tokenizer.sep_token_id) & valid, special=special,
        punct=punct & valid & ~special, segment=_segments(encoding, is_pair),
        is_pair=torch.full((ids.shape[0],), is_pair))


def _segments(encoding, is_pair: bool) -> torch.Tensor:
    """``[B, T]`` segment of each position: token_type_ids, or (models without token types, such
    as RoBERTa) 1 from the first token of the second sentence on, using the fast tokenizer."""
    ids = encoding["input_ids"]
    types = encoding.get("token_type_ids")
    if not is_pair:
        return torch.zeros_like(ids)
    if types is not None and bool((types == 1).any()):
        return types.clone()
    segments = torch.zeros_like(ids)
    for b in range(ids.shape[0]):
        sequence_ids = encoding.sequence_ids(b)
        start = sequence_ids.index(1)
        segments[b, start:] = 1
    return segments * encoding["attention_mask"]

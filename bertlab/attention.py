"""The data of one text's attention: `Attention`, and the `PositionMasks` of a padded batch.

Book chapter: "Extracting and reading attention". `bertlab.extraction` makes these; this module
holds only the data and what is read straight off it, and imports nothing but torch and the
standard library, so that the course's grader can rebuild an `Attention` in a Python where
bertlab itself cannot be imported (`bertlab.course.isolated`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import torch

__all__ = ["Attention", "PositionMasks", "is_punctuation"]


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
    special: torch.Tensor      # [B, T] bool, tokens the tokenizer adds itself (`special_token_ids`)
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
    special_mask: torch.Tensor  # [position] bool: tokens the tokenizer added ([CLS], [SEP], ...)
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

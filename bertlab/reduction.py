"""One pass over a corpus, many measurements, reduced into tidy tables.

Book chapter: "Extracting and reading attention" (how bertlab reads a corpus).

Every corpus-level number in bertlab comes out of the same loop, `run_pass`:

1. `bertlab.extraction.iter_encoded` tokenises and pads a batch (texts of similar length together);
2. the model runs once on it (`bertlab.extraction.run_forward`), and a base model too when a
   measurement compares the two (drift);
3. every `Measurement` turns the batch into one row of values per text, ``[B, L, H, C]``;
4. an `Accumulator` per measurement keeps either running sums (the corpus mean: memory does not
   grow with the corpus) or every text's row (for spreads and bootstrap intervals), in the
   corpus's order whatever order the batches came in;
5. `tidy` makes the one table shape every bertlab table has: ``layer``, ``head`` (0-based),
   then one column per measured value, with a ``text`` column first when texts are kept.

Several measurements share one forward pass: `bertlab.diagnose` measures scores, normalised
entropy, drift and the classifier's predictions in a single pass over its texts.

>>> from bertlab.metrics import SCORES
>>> lm = load()
>>> result = run_pass(lm, ["The dog chased the cat.", "Hi."], [SCORES])
>>> result.table("scores").shape            # 6 layers × 12 heads, layer, head and 9 metrics
(72, 11)

Shape letters: N texts, B batch, L layer, H head, C value (column), K class.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from .errors import InputError
from .extraction import EncodedBatch, ForwardOutputs, check_corpus, iter_encoded, run_forward
from .loading import LoadedModel, check_loaded, eval_mode, load  # noqa: F401  (load: doctest)

__all__ = ["Measurement", "PassBatch", "PassResult", "Accumulator", "run_pass", "tidy"]


@dataclass(frozen=True)
class PassBatch:
    """What the measurements of one batch may read: the batch, the model's forward outputs and,
    when a base model runs alongside, the base's outputs on the very same inputs."""

    encoded: EncodedBatch
    outputs: ForwardOutputs
    base: ForwardOutputs | None = None

    @property
    def masks(self):
        return self.encoded.masks

    @property
    def attentions(self) -> tuple[torch.Tensor, ...]:
        """One ``[B, H, Q, K]`` tensor per layer."""
        return self.outputs.attentions


@dataclass(frozen=True)
class Measurement:
    """A named per-text computation: ``compute(batch)`` returns ``[B, L, H, C]`` values, one row of
    `columns` per text, layer and head. `needs_attention_inputs`: it reads the vectors each
    layer's attention mixes (`bertlab.internals`); `needs_base`: it compares with a base model."""

    name: str
    columns: tuple[str, ...]
    compute: Callable[[PassBatch], torch.Tensor]
    needs_attention_inputs: bool = False
    needs_base: bool = False


class Accumulator:
    """Collects per-text values ``[B, ...]`` batch by batch, as running sums or text by text.

    Values are kept in float64; texts are put back in corpus order by their indices.
    """

    def __init__(self, n_texts: int, keep_texts: bool):
        self.n_texts, self.keep_texts = n_texts, keep_texts
        self._values: torch.Tensor | None = None     # [N, ...] or [...] (the running sum)
        self._count = 0

    def add(self, indices: Sequence[int], values: torch.Tensor) -> None:
        values = values.double()
        if self._values is None:
            shape = (self.n_texts, *values.shape[1:]) if self.keep_texts else values.shape[1:]
            self._values = torch.zeros(shape, dtype=torch.float64)
        if self.keep_texts:
            self._values[list(indices)] = values
        else:
            self._values += values.sum(dim=0)
        self._count += len(indices)

    def result(self) -> torch.Tensor:
        """``[N, ...]`` per text in corpus order, or ``[...]`` the mean over texts."""
        if self._values is None or self._count != self.n_texts:
            raise RuntimeError(f"accumulated {self._count} of {self.n_texts} texts")  # a bertlab bug
        return self._values if self.keep_texts else self._values / self.n_texts


@dataclass(frozen=True)
class PassResult:
    """The outcome of `run_pass`: per measurement, ``[L, H, C]`` corpus means or ``[N, L, H, C]``
    per-text values; `probabilities` ``[N, K]`` (a classifier's softmax, in corpus order) when
    asked for."""

    values: dict[str, torch.Tensor]
    columns: dict[str, tuple[str, ...]]
    probabilities: torch.Tensor | None = None

    def table(self, name: str) -> pd.DataFrame:
        """The tidy table of one measurement (`tidy`)."""
        return tidy(self.values[name], self.columns[name])


def run_pass(lm: LoadedModel, texts: Sequence[str], measurements: Sequence[Measurement], *,
             pairs: Sequence[str] | None = None, base: LoadedModel | None = None,
             keep_texts: bool = False, probabilities: bool = False, batch_size: int = 32,
             truncation: bool = True, progress: bool = False, desc: str = "measuring"
             ) -> PassResult:
    """Run `lm` (and `base`) once over the corpus and reduce every batch with `measurements`.

    Texts are batched by length; every result comes back in the corpus's order. `keep_texts`
    keeps each text's values (for spreads and intervals) instead of their mean.
    `probabilities` also returns the classifier's class probabilities of every text.
    """
    check_loaded(lm, "run_pass")
    if not measurements and not probabilities:
        raise InputError("run_pass needs at least one measurement (or probabilities=True).")
    if any(m.needs_base for m in measurements) and base is None:
        raise InputError("A measurement compares with a base model (drift): pass base=.")
    if base is not None:
        check_loaded(base, "run_pass (base)")
    if probabilities and not lm.has_classifier:
        raise InputError(f"{lm.name!r} has no classification head: it gives no probabilities.")
    texts, pairs = check_corpus(texts, pairs)
    capture_inputs = any(m.needs_attention_inputs for m in measurements)
    accumulators = {m.name: Accumulator(len(texts), keep_texts) for m in measurements}
    probs = Accumulator(len(texts), keep_texts=True) if probabilities else None
    with eval_mode(base.model) if base is not None else contextlib.nullcontext():
        for encoded in iter_encoded(lm, texts, pairs, batch_size=batch_size, truncation=truncation,
                                    progress=progress, desc=desc, sort_by_length=True):
            batch = PassBatch(encoded, run_forward(lm, encoded, attention_inputs=capture_inputs),
                              None if base is None else run_forward(base, encoded))
            for measurement in measurements:
                accumulators[measurement.name].add(encoded.indices, measurement.compute(batch))
            if probs is not None:
                probs.add(encoded.indices, batch.outputs.logits.softmax(dim=-1))  # [B, K]
    return PassResult(values={name: acc.result() for name, acc in accumulators.items()},
                      columns={m.name: m.columns for m in measurements},
                      probabilities=None if probs is None else probs.result().float())


def tidy(values: torch.Tensor, columns: Sequence[str]) -> pd.DataFrame:
    """Tidy rows from ``[L, H, C]`` (columns layer, head, ...) or ``[N, L, H, C]`` (text, layer,
    head, ...), all indices 0-based; ``C == len(columns)``."""
    *leading, n_columns = values.shape
    if n_columns != len(columns) or len(leading) not in (2, 3):
        raise InputError(f"tidy needs [layer, head, column] or [text, layer, head, column] values "
                         f"with {len(columns)} columns, got shape {tuple(values.shape)}.")
    names = ["text", "layer", "head"][-len(leading):]
    index = pd.MultiIndex.from_product([range(n) for n in leading], names=names)
    flat = values.double().reshape(-1, n_columns).numpy()        # [(N*)L*H, C]
    return pd.DataFrame(flat, index=index, columns=list(columns)).reset_index()

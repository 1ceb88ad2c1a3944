"""Linear probes: how well does each layer's [CLS] vector (or mean vector) predict a label?

Book chapter: "[CLS] as aggregator" (claim C8: layers where attention gathers at [CLS] give a
good sentence vector).

For every layer, a logistic regression is fitted on the train texts' vectors and scored on held-out
texts. Two vectors per text and layer:

* ``cls``: the hidden state at the [CLS] position, ``hidden_states[layer + 1][:, 0]``;
* ``mean``: the mean of the hidden states over the text's real tokens ([CLS] and [SEP] included,
  as sentence-transformers pools all-MiniLM-L6-v2), the baseline.

transformers returns ``n_layers + 1`` hidden states: the embeddings, then the output of each
layer. Layer ``l`` here (0-based, as in the attention tables) is the *output* of the layer whose
attention is ``attentions[l]``, i.e. ``hidden_states[l + 1]``; the embeddings are not probed.

Shape letters: N texts, B batch, T padded length, L layer, D hidden size.

>>> lm = load()
>>> reviews = load_reviews()
>>> probe = probe_layers(lm, reviews[reviews["split"] == "train"].head(60),
...                      reviews[reviews["split"] == "test"].head(40))
>>> probe.columns.tolist()
['layer', 'cls_accuracy', 'mean_accuracy', 'majority_rate', 'n_train', 'n_test']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .datasets import load_reviews
from .errors import InputError
from .extraction import check_corpus, iter_encoded
from .classification import checked_labelled
from .loading import LoadedModel, load  # noqa: F401  (load is used by the doctest above)
from .reduction import Accumulator

__all__ = ["PROBE_C", "PROBE_SEED", "layer_vectors", "probe_layers", "probe_correctness",
           "rank_correlation"]

#: Inverse regularisation strength of every probe, fixed so that no layer gets its own tuning:
#: scikit-learn's default, on standardised features.
PROBE_C = 1.0
#: Seed of the probes (lbfgs is deterministic; the seed makes that explicit).
PROBE_SEED = 0


def layer_vectors(lm: LoadedModel, texts: Sequence[str], *, batch_size: int = 32,
                  progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The [CLS] vectors and the mean vectors of every text at every layer's output.

    Returns ``(cls, mean)``, each ``[N, L, D]`` float32 on the CPU (layer l = hidden_states[l + 1]),
    in the order of `texts`.
    """
    texts, _ = check_corpus(texts, None)
    cls_vectors, mean_vectors = Accumulator(len(texts), True), Accumulator(len(texts), True)
    for batch in iter_encoded(lm, texts, batch_size=batch_size, progress=progress,
                              desc="hidden states", sort_by_length=True):
        with torch.inference_mode():
            outputs = lm.model(**batch.inputs, output_hidden_states=True)
        hidden = torch.stack(outputs.hidden_states[1:], dim=1).float().cpu()  # [B, L, T, D]
        valid = batch.masks.valid[:, None, :, None].float()                   # [B, 1, T, 1]
        cls_position = batch.masks.cls.int().argmax(dim=1)                    # [B], first [CLS]
        cls_vectors.add(batch.indices, hidden[torch.arange(len(hidden)), :, cls_position])  # [B, L, D]
        mean_vectors.add(batch.indices, (hidden * valid).sum(dim=2) / valid.sum(dim=2))     # [B, L, D]
    return cls_vectors.result().float(), mean_vectors.result().float()        # [N, L, D] each


def probe_layers(lm: LoadedModel, train: pd.DataFrame | None = None,
                 test: pd.DataFrame | None = None, *, C: float = PROBE_C, batch_size: int = 32,
                 progress: bool = False) -> pd.DataFrame:
    """Probe every layer: one row per layer with held-out accuracy of the [CLS] and mean probes.

    `train` and `test` are tables with ``text`` and ``label`` columns; by default the shipped
    reviews' ``train`` and ``test`` splits. ``majority_rate`` is the accuracy of always answering
    the most common train label: the chance level to beat.
    """
    correct = probe_correctness(lm, train, test, C=C, batch_size=batch_size, progress=progress)
    train = load_reviews("train") if train is None else train
    test = load_reviews("test") if test is None else test
    majority = train["label"].mode().iloc[0]
    accuracy = correct.groupby("layer", as_index=False)[["cls_correct", "mean_correct"]].mean()
    return accuracy.rename(columns={"cls_correct": "cls_accuracy",
                                    "mean_correct": "mean_accuracy"}).assign(
        majority_rate=float(np.mean(test["label"].to_numpy() == majority)),
        n_train=len(train), n_test=len(test))


def probe_correctness(lm: LoadedModel, train: pd.DataFrame | None = None,
                      test: pd.DataFrame | None = None, *, C: float = PROBE_C,
                      batch_size: int = 32, progress: bool = False) -> pd.DataFrame:
    """Whether each probe gets each held-out text right: one row per (text, layer), columns
    ``cls_correct`` and ``mean_correct`` (0 or 1); ``text`` indexes `test`. The accuracies of
    `probe_layers` are their means; kept per text, they give intervals by resampling the texts."""
    train = load_reviews("train") if train is None else checked_labelled(train, what="train",
                                                                            min_classes=2)
    test = load_reviews("test") if test is None else checked_labelled(test, what="test")
    if not (isinstance(C, (int, float)) and C > 0):
        raise InputError(f"C must be a positive number (the inverse regularisation), got {C!r}.")
    train_cls, train_mean = layer_vectors(lm, train["text"].tolist(), batch_size=batch_size,
                                          progress=progress)                   # [N, L, D]
    test_cls, test_mean = layer_vectors(lm, test["text"].tolist(), batch_size=batch_size,
                                        progress=progress)
    y_train, y_test = train["label"].to_numpy(), test["label"].to_numpy()
    rows = []
    for layer in range(lm.n_layers):
        cls_right = _probe_correct(train_cls[:, layer], y_train, test_cls[:, layer], y_test, C)
        mean_right = _probe_correct(train_mean[:, layer], y_train, test_mean[:, layer], y_test, C)
        rows.append(pd.DataFrame({"text": range(len(test)), "layer": layer,
                                  "cls_correct": cls_right, "mean_correct": mean_right}))
    return pd.concat(rows, ignore_index=True).sort_values(["text", "layer"], ignore_index=True)


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, int]:
    """Spearman's rank correlation of two per-layer series: ``(rho, p_value, n)``.

    With one point per layer, n is the number of layers (6 for the embedded model): a p-value
    from so few points is weak evidence, and the book says so. A constant series has no order,
    hence no monotone relation to anything: it gives ``rho = 0`` and ``p = 1``.

    >>> rho, p, n = rank_correlation([0.1, 0.2, 0.3, 0.4], [1, 3, 2, 4])
    >>> round(rho, 1), n
    (0.8, 4)
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 3:
        raise InputError(f"rank_correlation needs two equally long 1-D series of at least 3 "
                         f"values (one per layer), got shapes {x.shape} and {y.shape}.")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0, 1.0, len(x)
    result = stats.spearmanr(x, y)
    return float(result.statistic), float(result.pvalue), len(x)


def _probe_correct(x_train: torch.Tensor, y_train: np.ndarray, x_test: torch.Tensor,
                   y_test: np.ndarray, C: float) -> np.ndarray:
    """``[N_test]`` 1.0 where a standardised logistic regression fitted on the train vectors
    (``[N, D]``) predicts the held-out label, else 0.0."""
    probe = make_pipeline(StandardScaler(),
                          LogisticRegression(C=C, max_iter=2000, random_state=PROBE_SEED))
    probe.fit(x_train.numpy(), y_train)
    return (probe.predict(x_test.numpy()) == y_test).astype(float)

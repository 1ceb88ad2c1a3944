"""bertlab.probing: per-layer linear probes of the [CLS] and mean-pooled vectors."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

import bertlab
from bertlab import probing
from bertlab.claims import attention
from bertlab.errors import InputError


@pytest.fixture(scope="module")
def small_split():
    """A balanced slice of the shipped reviews: 120 train and 60 test texts (fast)."""
    reviews = bertlab.load_reviews()
    train = reviews[reviews["split"] == "train"].groupby("label").head(60)
    test = reviews[reviews["split"] == "test"].groupby("label").head(30)
    return train, test


def test_top_layer_beats_chance_on_the_real_model(lm):
    # probe_layers(lm) with its defaults (train split fits, test split scores), computed once per
    # session and shared with the claim checks' tests to keep the suite short
    probe = attention.evidence(lm).probe
    top = probe.iloc[-1]
    assert probe["layer"].tolist() == list(range(lm.n_layers))
    # two standard errors of a held-out accuracy above the majority rate
    margin = 2 * math.sqrt(0.25 / top["n_test"])
    assert top["cls_accuracy"] > top["majority_rate"] + margin
    assert top["mean_accuracy"] > top["majority_rate"] + margin


def test_probe_is_deterministic(lm, small_split):
    first = probing.probe_layers(lm, *small_split)
    second = probing.probe_layers(lm, *small_split, batch_size=7)
    pd.testing.assert_frame_equal(first, second)


def test_vectors_are_the_layer_outputs(lm):
    texts = ["The dog chased the cat.", "A much longer sentence about a cat that sat on a mat."]
    cls, mean = probing.layer_vectors(lm, texts, batch_size=1)       # [N, L, D]
    assert tuple(cls.shape) == (2, lm.n_layers, lm.model.config.hidden_size)
    encoding = lm.tokenizer(texts[1], return_tensors="pt")
    with torch.inference_mode():
        hidden = lm.model(**encoding, output_hidden_states=True).hidden_states
    assert len(hidden) == lm.n_layers + 1                              # embeddings + each layer
    for layer in range(lm.n_layers):
        torch.testing.assert_close(cls[1, layer], hidden[layer + 1][0, 0])
        torch.testing.assert_close(mean[1, layer], hidden[layer + 1][0].mean(dim=0))
    batched_cls, batched_mean = probing.layer_vectors(lm, texts, batch_size=2)  # padded batch
    torch.testing.assert_close(batched_cls, cls, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(batched_mean, mean, atol=1e-4, rtol=1e-4)


def test_rank_correlation_of_known_series():
    rho, p_value, n = probing.rank_correlation([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])
    assert (round(rho, 6), n) == (1.0, 5) and p_value < 0.05
    assert probing.rank_correlation([1, 2, 3], [3, 2, 1])[0] == pytest.approx(-1)


def test_bad_input_gets_a_clear_error(lm, small_split):
    train, test = small_split
    with pytest.raises(InputError, match="text and label"):
        probing.probe_layers(lm, train.drop(columns="label"), test)
    with pytest.raises(InputError, match="only 1 distinct label"):
        probing.probe_layers(lm, train[train["label"] == 1], test)
    with pytest.raises(InputError, match="class ids"):
        probing.probe_layers(lm, train.assign(label="positive"), test)
    with pytest.raises(InputError, match="no rows"):
        probing.probe_layers(lm, train, test.iloc[:0])
    with pytest.raises(InputError, match="C must be"):
        probing.probe_layers(lm, train, test, C=-1)
    with pytest.raises(InputError):
        probing.layer_vectors(lm, "one string, not a list")
    with pytest.raises(InputError, match="at least 3"):
        probing.rank_correlation([1, 2], [2, 1])
    assert not np.isnan(probing.rank_correlation([1, 2, 3], [1, 3, 2])[0])

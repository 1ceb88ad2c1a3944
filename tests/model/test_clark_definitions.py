"""Clark et al.'s (2019) attention statistics against `bertlab.corpus_scores`, on this model's maps.

The book sets its numbers beside Clark et al.'s BERT-base results, so it must know where the two
definitions agree. `clark_statistics` below ports the statistic definitions (only those; no
plotting or data loading) of the two cells "Computing Average Attention to Particular
Tokens/Positions" and "Computing Attention Head Entropies" of ``General_Analysis.ipynb`` in
https://github.com/clarkkev/attention-analysis (MIT licence), as they are there:

* a share is ``(attns * selector).sum(-1).sum(-1) / (n_docs * n_tokens)`` summed over docs: the
  mean over a text's query rows (special tokens included), then over texts; ``right`` is the next
  token (``np.eye(n, n, 1)``), ``left`` the previous one;
* their punctuation is the tokens ``"."`` and ``","`` only;
* the entropy is taken after smoothing: ``attns = 0.9999 * attns + 0.0001 / n_tokens``, and the
  entropy of attention from [CLS] is that of query row 0.

The tests pin what agrees (to 1e-6) and measure exactly where and why the rest differs.
"""

import dataclasses

import numpy as np
import pytest
import torch

import bertlab
from bertlab.extraction import is_punctuation

AGREEMENT = 1e-6            # float32 maps summed in float64 by both: agreement to rounding
CLARK_SHARES = {"cls": "cls_share", "sep": "sep_share", "self": "self_share",
                "left": "prev_share", "right": "next_share"}
SMOOTHING = 0.0001          # Clark et al.'s "smooth to avoid NaNs"


def clark_statistics(data):
    """Clark et al.'s per-head averages from ``[(tokens, attns [L, H, n, n]), ...]``."""
    n_docs = len(data)
    n_layers, n_heads = data[0][1].shape[:2]
    avg_attns = {k: np.zeros((n_layers, n_heads))
                 for k in ["self", "right", "left", "sep", "cls", "punct"]}
    entropies = np.zeros((n_layers, n_heads))
    entropies_cls = np.zeros((n_layers, n_heads))
    for tokens, attns in data:
        n_tokens = attns.shape[-1]
        seps, clss, puncts = (np.zeros(n_tokens) for _ in range(3))
        for position, token in enumerate(tokens):
            if token == "[SEP]":
                seps[position] = 1
            if token == "[CLS]":
                clss[position] = 1
            if token == "." or token == ",":
                puncts[position] = 1
        selectors = {
            "self": np.eye(n_tokens, n_tokens),
            "right": np.eye(n_tokens, n_tokens, 1),
            "left": np.eye(n_tokens, n_tokens, -1),
            "sep": np.tile(seps[np.newaxis], [n_tokens, 1]),
            "cls": np.tile(clss[np.newaxis], [n_tokens, 1]),
            "punct": np.tile(puncts[np.newaxis], [n_tokens, 1]),
        }
        for key, selector in selectors.items():
            avg_attns[key] += ((attns * selector[np.newaxis, np.newaxis]).sum(-1).sum(-1)
                               / (n_docs * n_tokens))
        smoothed = (1 - SMOOTHING) * attns + (SMOOTHING / n_tokens)
        entropies -= (smoothed * np.log(smoothed)).sum(-1).mean(-1)
        entropies_cls -= (smoothed * np.log(smoothed))[:, :, 0].sum(-1)
    return avg_attns, entropies / n_docs, entropies_cls / n_docs


def as_grid(table, column):
    """A bertlab (layer, head) table's column as an ``[L, H]`` array."""
    return table.pivot(index="layer", columns="head", values=column).to_numpy()


@pytest.fixture(scope="module")
def corpora(lm):
    """The test splits of the reviews (``[CLS] text [SEP]``) and of the pairs, Clark et al.'s
    input form (``[CLS] A [SEP] B [SEP]``): what the book's chapters measure."""
    reviews = bertlab.load_reviews("test")["text"].tolist()
    pairs = bertlab.load_pairs("test")
    return {"reviews": (reviews, None),
            "pairs": (pairs["text"].tolist(), pairs["text_pair"].tolist())}


@pytest.fixture(scope="module")
def measured(lm, corpora):
    """Per corpus: the maps, Clark et al.'s statistics on them, and bertlab's."""
    out = {}
    for name, (texts, pairs) in corpora.items():
        maps = bertlab.extract_batch(lm, texts, pairs)
        data = [(att.tokens, att.weights.double().numpy()) for att in maps]
        out[name] = {"maps": maps, "clark": clark_statistics(data),
                     "all": bertlab.corpus_scores(lm, texts, pairs, progress=False),
                     "cls": bertlab.corpus_scores(lm, texts, pairs, progress=False,
                                                  queries="cls")}
    return out


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["reviews", "pairs"])
def test_special_token_and_position_shares_agree(measured, corpus):
    shares, _, _ = measured[corpus]["clark"]
    for clark_key, column in CLARK_SHARES.items():
        difference = np.abs(shares[clark_key] - as_grid(measured[corpus]["all"], column)).max()
        assert difference < AGREEMENT, (clark_key, difference)


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["reviews", "pairs"])
def test_punctuation_differs_by_exactly_the_other_punctuation(measured, corpus):
    """bertlab counts every punctuation-only token (``!``, ``?``, ``'``, ``-`` …), Clark et al.
    only ``.`` and ``,``: the difference is the attention to the other punctuation, no more."""
    shares, _, _ = measured[corpus]["clark"]
    other = np.zeros_like(shares["punct"])
    maps = measured[corpus]["maps"]
    for att in maps:
        keys = torch.tensor([is_punctuation(t) and t not in {".", ","} for t in att.tokens])
        keys &= ~att.special_mask
        other += att.weights[..., keys].sum(-1).mean(-1).double().numpy() / len(maps)
    bertlab_punct = as_grid(measured[corpus]["all"], "punct_share")
    assert np.abs(bertlab_punct - shares["punct"] - other).max() < AGREEMENT
    assert other.max() > 0.01       # the shipped texts do hold other punctuation ("!", "?" …)


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["reviews", "pairs"])
def test_entropies_differ_only_by_the_smoothing(lm, measured, corpus):
    """On smoothed maps, bertlab's entropy is Clark et al.'s; unsmoothed, it is a little lower
    (mixing in 1e-4 of the uniform distribution never lowers an entropy, by concavity)."""
    _, entropies, entropies_cls = measured[corpus]["clark"]
    maps = measured[corpus]["maps"]
    for queries, clark in (("all", entropies), ("cls", entropies_cls)):
        smoothed = np.mean([bertlab.score(dataclasses.replace(
            att, weights=(1 - SMOOTHING) * att.weights + SMOOTHING / att.n_tokens),
            queries=queries)["entropy"].to_numpy() for att in maps], axis=0)
        assert np.abs(smoothed - clark.flatten()).max() < AGREEMENT
        raw = as_grid(measured[corpus][queries], "entropy")
        assert (clark - raw).min() > 0 and (clark - raw).max() < 0.01

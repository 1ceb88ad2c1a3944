"""bertlab's core on the real embedded model (and on a tiny random BERT for speed)."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bertlab

SENTENCE = "The dog chased the cat."
PAIR = ("The dog chased the cat.", "It ran up a tree.")
CORPUS = ["The dog chased the cat.", "A very long sentence, with commas, and more words than most!",
          "Hi.", "Why did the committee postpone its decision until next spring?",
          "She sells sea shells by the sea shore.", "Tokenization splits unfamiliar words.",
          "Rain.", "The cat, surprised, climbed the old oak tree in the garden."]
PAIRS = ["It ran away.", "Short.", "Yes indeed.", "Nobody knows.", "Really?", "Okay then.",
         "It stopped.", "The dog barked at it for an hour."]
WORDS = ["dog", "cat", "tree", "ran", "quickly", "the", "a", "under", "bright", "unbelievable",
         "committee", "?", ",", ".", "and", "walked", "house", "river", "tokenization", "blue"]


def test_load_gives_the_embedded_model(lm):
    assert lm.name == bertlab.EMBEDDED_MODEL_NAME
    assert (lm.n_layers, lm.n_heads) == (6, 12)
    assert lm.model.config._attn_implementation == "eager"
    assert not lm.model.training
    assert not any(p.requires_grad for p in lm.model.parameters())


def test_known_tokens_for_a_sentence_and_a_pair(lm):
    att = bertlab.extract(lm, SENTENCE)
    assert att.tokens == ["[CLS]", "the", "dog", "chased", "the", "cat", ".", "[SEP]"]
    assert att.special_mask.tolist() == [True] + [False] * 6 + [True]
    assert not att.is_pair and att.sentence_b_start is None
    pair = bertlab.extract(lm, *PAIR)
    assert pair.tokens == ["[CLS]", "the", "dog", "chased", "the", "cat", ".", "[SEP]",
                           "it", "ran", "up", "a", "tree", ".", "[SEP]"]
    assert pair.segment_ids.tolist() == [0] * 8 + [1] * 7
    assert pair.cls_positions == [0] and pair.sep_positions == [7, 14]
    assert pair.sentence_b_start == 8


def test_weights_are_float32_cpu_rows_summing_to_one(lm):
    for att in (bertlab.extract(lm, SENTENCE), bertlab.extract(lm, *PAIR)):
        assert att.weights.dtype == torch.float32 and att.weights.device.type == "cpu"
        assert att.weights.shape == (lm.n_layers, lm.n_heads, att.n_tokens, att.n_tokens)
        torch.testing.assert_close(att.weights.sum(-1), torch.ones(att.weights.shape[:-1]))


def direct_scores(lm, text, text_pair=None):
    """The metrics of ../shared/DESIGN.md, computed independently with plain loops over the model's output."""
    encoding = lm.tokenizer(text, text_pair, return_tensors="pt")
    with torch.no_grad():
        attentions = lm.model(**encoding, output_attentions=True).attentions
    ids = encoding["input_ids"][0].tolist()
    types = encoding["token_type_ids"][0].tolist()
    tokens = lm.tokenizer.convert_ids_to_tokens(ids)
    specials = set(lm.tokenizer.all_special_ids) - {lm.tokenizer.pad_token_id}
    punct = {".", ",", "!", "?", ";", ":", "'", '"', "-", "(", ")"}
    n = len(ids)
    rows = []
    for layer, layer_attention in enumerate(attentions):
        for head in range(layer_attention.shape[1]):
            sums = dict.fromkeys(bertlab.METRICS, 0.0)
            for i in range(n):
                a = layer_attention[0, head, i].double().tolist()
                sums["cls_share"] += sum(a[j] for j in range(n) if ids[j] == lm.tokenizer.cls_token_id)
                sums["sep_share"] += sum(a[j] for j in range(n) if ids[j] == lm.tokenizer.sep_token_id)
                sums["special_share"] += sum(a[j] for j in range(n) if ids[j] in specials)
                sums["punct_share"] += sum(a[j] for j in range(n) if tokens[j] in punct)
                sums["self_share"] += a[i]
                sums["prev_share"] += a[i - 1] if i > 0 else 0.0
                sums["next_share"] += a[i + 1] if i < n - 1 else 0.0
                sums["entropy"] -= sum(x * math.log(x) for x in a if x > 0)
                sums["cross_segment_share"] += sum(a[j] for j in range(n) if types[j] != types[i])
            row = {"layer": layer, "head": head, **{k: v / n for k, v in sums.items()}}
            if text_pair is None:
                row["cross_segment_share"] = float("nan")
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("texts", [(SENTENCE,), PAIR, ("Wait, what? No!", "Fine; go.")])
def test_score_equals_a_direct_computation(lm, texts):
    expected = direct_scores(lm, *texts)
    actual = bertlab.score(bertlab.extract(lm, *texts))
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, atol=1e-5, rtol=0)


def test_cls_queries_equal_the_cls_row(lm):
    att = bertlab.extract(lm, *PAIR)
    table = bertlab.score(att, queries="cls")
    cls_row = att.weights[:, :, 0]                                   # [L, H, K]
    expected = cls_row[:, :, att.cls_mask].sum(-1).flatten().numpy()
    np.testing.assert_allclose(table["cls_share"], expected, atol=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sentence=st.lists(st.sampled_from(WORDS), min_size=1, max_size=30).map(" ".join),
       position=st.integers(min_value=0, max_value=len(CORPUS)))
def test_a_sentence_scores_the_same_alone_and_in_a_padded_batch(lm, sentence, position):
    batch = CORPUS[:position] + [sentence] + CORPUS[position:]
    alone = bertlab.extract(lm, sentence)
    in_batch = bertlab.extract_batch(lm, batch, batch_size=len(batch))[position]
    assert in_batch.tokens == alone.tokens
    torch.testing.assert_close(in_batch.weights, alone.weights, atol=1e-5, rtol=0)
    pd.testing.assert_frame_equal(bertlab.score(in_batch), bertlab.score(alone), atol=1e-5, rtol=0)


@pytest.mark.parametrize("pairs", [None, PAIRS])
@pytest.mark.parametrize("batch_size", [1, 3, 32])
def test_corpus_mean_equals_the_mean_of_single_scores(lm, pairs, batch_size):
    singles = [bertlab.score(bertlab.extract(lm, t, None if pairs is None else p))
               for t, p in zip(CORPUS, pairs or [None] * len(CORPUS))]
    expected = pd.concat(singles).groupby(["layer", "head"], as_index=False).mean()
    actual = bertlab.corpus_scores(lm, CORPUS, pairs, batch_size=batch_size, progress=False)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, atol=1e-5, rtol=0)


def test_corpus_scores_from_cls_match_single_scores(lm):
    singles = pd.concat([bertlab.score(bertlab.extract(lm, t), queries="cls") for t in CORPUS])
    expected = singles.groupby(["layer", "head"], as_index=False).mean()
    actual = bertlab.corpus_scores(lm, CORPUS, batch_size=3, progress=False, queries="cls")
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, atol=1e-5, rtol=0)


def test_the_embedded_model_piles_attention_on_cls_in_middle_layers(lm):
    """The phenomenon the course is about is present (../shared/DESIGN.md: 0.5-0.65 in layers 2-5)."""
    means = bertlab.layer_means(bertlab.corpus_scores(lm, CORPUS, PAIRS, progress=False))
    assert means["cls_share"].max() > 0.4
    assert means["cls_share"].iloc[0] < means["cls_share"].max()


def test_tiny_model_batch_equals_single(tiny_lm):
    batch = bertlab.extract_batch(tiny_lm, CORPUS, PAIRS, batch_size=4)
    for text, pair, att in zip(CORPUS, PAIRS, batch):
        alone = bertlab.extract(tiny_lm, text, pair)
        assert att.weights.shape == (2, 4, alone.n_tokens, alone.n_tokens)
        torch.testing.assert_close(att.weights, alone.weights, atol=1e-6, rtol=0)


def test_progress_bar_can_be_switched_off(tiny_lm, capsys):
    bertlab.corpus_scores(tiny_lm, CORPUS, batch_size=2, progress=False)
    assert "batch" not in capsys.readouterr().err
    bertlab.corpus_scores(tiny_lm, CORPUS, batch_size=2, progress=True)
    assert "batch" in capsys.readouterr().err

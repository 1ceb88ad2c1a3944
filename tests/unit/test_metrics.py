"""Metrics on hand-built attention with known answers (no model needed)."""

import math

import pytest
import torch

import bertlab
from bertlab.extraction import Attention, is_punctuation

TOKENS = ["[CLS]", "the", "dog", "ran", ".", "[SEP]"]
CLS_ID, SEP_ID = 101, 102
IDS = torch.tensor([CLS_ID, 1996, 3899, 2743, 1012, SEP_ID])


def make_attention(weights, tokens=TOKENS, ids=IDS, segments=None):
    n = len(tokens)
    return Attention(
        weights=weights, tokens=tokens, token_ids=ids,
        segment_ids=torch.zeros(n, dtype=torch.long) if segments is None else segments,
        special_mask=(ids == CLS_ID) | (ids == SEP_ID),
        cls_token_id=CLS_ID, sep_token_id=SEP_ID, model_name="hand-built")


def one_layer(rows):
    """[1, 1, Q, K] from a [Q, K] matrix."""
    return torch.as_tensor(rows, dtype=torch.float32)[None, None]


def row_of(table, metric):
    return float(table[metric].iloc[0])


def test_all_attention_on_cls_gives_cls_share_one():
    weights = torch.zeros(6, 6)
    weights[:, 0] = 1.0
    table = bertlab.score(make_attention(one_layer(weights)))
    assert row_of(table, "cls_share") == pytest.approx(1.0)
    assert row_of(table, "sep_share") == pytest.approx(0.0)
    assert row_of(table, "special_share") == pytest.approx(1.0)
    assert row_of(table, "entropy") == pytest.approx(0.0)


def test_uniform_attention_has_entropy_ln_n_and_shares_by_count():
    n = len(TOKENS)
    table = bertlab.score(make_attention(one_layer(torch.full((n, n), 1 / n))))
    assert row_of(table, "entropy") == pytest.approx(math.log(n), abs=1e-6)
    assert row_of(table, "cls_share") == pytest.approx(1 / n)
    assert row_of(table, "special_share") == pytest.approx(2 / n)
    assert row_of(table, "punct_share") == pytest.approx(1 / n)
    assert math.isnan(row_of(table, "cross_segment_share"))


def test_identity_and_shifted_attention_give_self_prev_next():
    n = len(TOKENS)
    identity = bertlab.score(make_attention(one_layer(torch.eye(n))))
    assert row_of(identity, "self_share") == pytest.approx(1.0)
    assert row_of(identity, "prev_share") == pytest.approx(0.0)
    # Every query looks at its previous token, except the first, which has none: it looks at itself.
    previous = torch.zeros(n, n)
    previous[0, 0] = 1.0
    previous[torch.arange(1, n), torch.arange(0, n - 1)] = 1.0
    table = bertlab.score(make_attention(one_layer(previous)))
    assert row_of(table, "prev_share") == pytest.approx((n - 1) / n)
    assert row_of(table, "self_share") == pytest.approx(1 / n)
    assert row_of(table, "next_share") == pytest.approx(0.0)


def test_cross_segment_share_counts_keys_of_the_other_sentence():
    tokens = ["[CLS]", "a", "[SEP]", "b", "[SEP]"]
    ids = torch.tensor([CLS_ID, 1037, SEP_ID, 1038, SEP_ID])
    segments = torch.tensor([0, 0, 0, 1, 1])
    uniform = make_attention(one_layer(torch.full((5, 5), 0.2)), tokens, ids, segments)
    # Sentence A's 3 queries see 2 keys across; sentence B's 2 queries see 3.
    expected = (3 * 0.4 + 2 * 0.6) / 5
    assert row_of(bertlab.score(uniform), "cross_segment_share") == pytest.approx(expected)


def test_cls_queries_average_only_the_cls_row():
    weights = torch.full((6, 6), 1 / 6)
    weights[0] = torch.tensor([0.0, 0.5, 0.5, 0.0, 0.0, 0.0])
    table = bertlab.score(make_attention(one_layer(weights)), queries="cls")
    assert row_of(table, "cls_share") == pytest.approx(0.0)
    assert row_of(table, "entropy") == pytest.approx(math.log(2))


def test_table_is_tidy_with_zero_based_layer_and_head():
    weights = torch.full((3, 2, 6, 6), 1 / 6)
    table = bertlab.score(make_attention(weights))
    assert list(table.columns) == ["layer", "head", *bertlab.METRICS]
    assert table[["layer", "head"]].values.tolist() == [[l, h] for l in range(3) for h in range(2)]
    means = bertlab.layer_means(table)
    assert means["layer"].tolist() == [0, 1, 2] and "head" not in means


@pytest.mark.parametrize("token, expected", [
    (".", True), (",", True), ("?!", True), ("##.", True), ("Ġ,", True),
    ("dog", False), ("[CLS]", False), ("$", False), ("a.", False)])
def test_is_punctuation(token, expected):
    assert is_punctuation(token) is expected


def test_score_refuses_what_is_not_an_attention():
    with pytest.raises(bertlab.InputError, match="corpus_scores"):
        bertlab.score(torch.zeros(1, 1, 3, 3))
    with pytest.raises(bertlab.InputError, match="queries"):
        bertlab.score(make_attention(one_layer(torch.eye(6))), queries="sep")

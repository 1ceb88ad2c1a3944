"""bertlab.roles: hand-built attention with known roles and patterns, then the real model."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

import bertlab
from bertlab import roles
from bertlab.errors import InputError
from bertlab.extraction import Attention

LONG_TEXT = ("the quick brown fox jumps over the lazy dog while the old farmer watches "
             "from his porch and the sun sets slowly")
SENTENCE_A = "the quick brown fox jumps over the lazy dog near the river bank"
SENTENCE_B = "an old farmer watches it from his porch as the sun slowly sets"


def hand_built(lm, text, text_pair=None, *, rows) -> Attention:
    """The real tokens of `text` (and `text_pair`) with attention replaced by ``rows(att)``:
    a ``[Q, K]`` matrix copied to every layer and head (2 layers × 3 heads)."""
    real = bertlab.extract(lm, text, text_pair)
    matrix = rows(real)                                            # [Q, K]
    assert torch.allclose(matrix.sum(-1), torch.ones(real.n_tokens))
    weights = matrix.expand(2, 3, *matrix.shape).contiguous()      # [L, H, Q, K]
    return Attention(weights=weights, tokens=real.tokens, token_ids=real.token_ids,
                     segment_ids=real.segment_ids, special_mask=real.special_mask,
                     cls_token_id=real.cls_token_id, sep_token_id=real.sep_token_id,
                     model_name="hand-built")


def all_on_cls(att):
    matrix = torch.zeros(att.n_tokens, att.n_tokens)
    matrix[:, att.cls_positions[0]] = 1
    return matrix


def identity(att):
    return torch.eye(att.n_tokens)


def uniform(att):
    return torch.full((att.n_tokens, att.n_tokens), 1 / att.n_tokens)


def within_sentence(att):
    """Even attention over the query's own sentence (a block)."""
    same = (att.segment_ids[:, None] == att.segment_ids[None, :]).float()  # [Q, K]
    return same / same.sum(-1, keepdim=True)


def cls_and_self(att):
    """0.4 on [CLS], 0.4 on itself, 0.2 spread: neither stripe alone holds half."""
    return 0.4 * all_on_cls(att) + 0.4 * identity(att) + 0.2 * uniform(att)


def labels(att):
    table = roles.measure(att)
    return (set(roles.label_layers(roles.layer_profile(table))["role"]),
            set(roles.label_heads(table)["pattern"]))


@pytest.mark.parametrize("rows, text_pair, role, pattern", [
    (all_on_cls, None, "cls-aggregating", "vertical"),
    (identity, None, "local", "diagonal"),
    (uniform, None, "broad", "heterogeneous"),
    (within_sentence, SENTENCE_B, "broad", "block"),
])
def test_hand_built_attention_gets_its_known_role_and_pattern(lm, rows, text_pair, role, pattern):
    text = LONG_TEXT if text_pair is None else SENTENCE_A
    assert labels(hand_built(lm, text, text_pair, rows=rows)) == ({role}, {pattern})


def test_cls_and_self_together_is_vertical_plus_diagonal(lm):
    att = hand_built(lm, LONG_TEXT, rows=cls_and_self)
    assert labels(att)[1] == {"vertical+diagonal"}


def test_known_measure_values(lm):
    on_cls = roles.measure(hand_built(lm, LONG_TEXT, rows=all_on_cls))
    assert np.allclose(on_cls["cls_share"], 1) and np.allclose(on_cls["normalised_entropy"], 0)
    assert np.allclose(on_cls["cls_out_share"], 0)  # [CLS] looks only at itself
    even = roles.measure(hand_built(lm, LONG_TEXT, rows=uniform))
    assert np.allclose(even["normalised_entropy"], 1)
    assert np.allclose(even["local_share"] + even["column_share"] + even["far_share"], 1)
    pair = roles.measure(hand_built(lm, SENTENCE_A, SENTENCE_B, rows=uniform))
    assert np.allclose(pair["cross_segment_lift"], 1)  # even attention is blind to the border
    block = roles.measure(hand_built(lm, SENTENCE_A, SENTENCE_B, rows=within_sentence))
    assert np.allclose(block["cross_segment_lift"], 0) and np.allclose(block["far_within_share"], 1)
    assert even["far_within_share"].isna().all()  # single sentence: no "within"


def test_close_signals_make_a_mixed_layer():
    profile = pd.DataFrame({"local_share": [0.45], "cls_share": [0.40], "sep_share": [0.1],
                            "normalised_entropy": [0.5]})
    assert roles.label_layers(profile)["role"].tolist() == ["mixed"]


def test_labelling_does_not_mutate_its_input():
    profile = pd.DataFrame({"local_share": [0.9], "cls_share": [0.0], "sep_share": [0.0],
                            "normalised_entropy": [0.1]})
    before = profile.copy()
    roles.label_layers(profile)
    pd.testing.assert_frame_equal(profile, before)


def test_depth_bands_reproduce_the_seed_table_on_twelve_layers():
    from bertlab.claims.attention import SEED_C7_BANDS
    bands = [roles.layers_in_band(12, *band) for band in SEED_C7_BANDS.values()]
    assert bands == [[0, 1, 2], [3, 4, 5, 6, 7], [8, 9, 10, 11]]
    assert [roles.layers_in_band(1, *band) for band in SEED_C7_BANDS.values()] == [[0], [0], [0]]


def test_bad_input_gets_a_clear_error(lm):
    scores = bertlab.corpus_scores(lm, ["The dog chased the cat."], progress=False)
    with pytest.raises(InputError, match="head_measures"):
        roles.layer_profile(scores)
    with pytest.raises(InputError, match="DataFrame"):
        roles.label_heads([1, 2, 3])
    with pytest.raises(InputError, match="Attention"):
        roles.measure("The dog chased the cat.")
    with pytest.raises(InputError):
        roles.layers_in_band(6, 0.5, 0.2)
    with pytest.raises(InputError):
        roles.layer_roles(lm, [])


TEXTS = [f"Review {i}: the {word} was {quality}, and I would {verdict} it."
         for i, (word, quality, verdict) in enumerate(
             [("food", "great", "recommend"), ("service", "slow", "not recommend"),
              ("room", "tiny but clean", "book"), ("battery", "dead in a day", "return")] * 3)]


def test_real_model_every_layer_and_head_gets_a_label(lm):
    layer_table = bertlab.layer_roles(lm, TEXTS)
    assert layer_table["layer"].tolist() == list(range(lm.n_layers))
    assert set(layer_table["role"]) <= set(roles.LAYER_ROLES)
    heads = bertlab.head_patterns(lm, TEXTS)
    assert len(heads) == lm.n_layers * lm.n_heads
    assert set(heads["pattern"]) <= set(roles.HEAD_PATTERNS)


def test_real_model_labels_do_not_depend_on_batch_size(lm):
    one = roles.head_measures(lm, TEXTS, batch_size=1)
    many = roles.head_measures(lm, TEXTS, batch_size=5)
    np.testing.assert_allclose(one.drop(columns=["layer", "head"]).to_numpy(),
                               many.drop(columns=["layer", "head"]).to_numpy(), atol=1e-5)
    assert (roles.label_heads(one)["pattern"] == roles.label_heads(many)["pattern"]).all()
    assert (roles.label_layers(roles.layer_profile(one))["role"]
            == roles.label_layers(roles.layer_profile(many))["role"]).all()


def test_real_model_metrics_agree_with_corpus_scores(lm):
    measured = roles.head_measures(lm, TEXTS[:4], TEXTS[4:8])
    scores = bertlab.corpus_scores(lm, TEXTS[:4], TEXTS[4:8], progress=False)
    columns = list(bertlab.METRICS)
    np.testing.assert_allclose(measured[columns].to_numpy(), scores[columns].to_numpy(), atol=1e-6)


def test_tiny_model_has_a_role_per_layer(tiny_lm):
    table = bertlab.layer_roles(tiny_lm, TEXTS[:4])
    assert len(table) == tiny_lm.n_layers and table["role"].notna().all()
    assert all(math.isfinite(v) for v in table["normalised_entropy"])

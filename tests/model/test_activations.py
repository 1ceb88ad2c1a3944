"""bertlab.flow.activations: hidden-state and value-vector norms per kind of token, top activations.

Hand-checkable values on a tiny BERT whose layer-0 input and value vectors are set by hand, batch
invariance on a tiny random BERT, and parity with a direct computation from the real embedded
model's own hidden states and weight matrices.
"""

import copy

import pytest
import torch
from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertModel

import bertlab
from bertlab.flow import TOKEN_KINDS, token_activations

PAIR = ("The dog chased the cat.", "It ran up a tree!")
TEXTS = ["The dog chased the cat.", "Hi.", "Why did the committee postpone its decision?"]
TOLERANCE = 1e-5            # parity with a direct recomputation, as in test_flow.py
HIDDEN, N_HEADS = 32, 4
BIG, SMALL, BIG_DIM = 3.0, 0.1, 5


@pytest.fixture(scope="module")
def hand_set_lm(lm):
    """A tiny BERT whose layer-0 input is the same known vector at every position, and whose
    layer-0 value vectors are known: head h adds a vector of length h + 1 whatever the token.

    * embeddings LayerNorm with weight 0 and bias c: every position's x = c, with c[BIG_DIM] = 3
      and every other coordinate 0.1, so ‖x‖ = sqrt(9 + 31 · 0.01) and the largest |x[d]| is 3;
    * layer 0: W_V = 0, b_V = (h + 1) on the first coordinate of head h's slice, W_O = identity,
      so f_h(x) = b_V^h W_O^h has length h + 1 for every token.
    """
    torch.manual_seed(0)
    config = BertConfig(vocab_size=lm.tokenizer.vocab_size, hidden_size=HIDDEN,
                        num_hidden_layers=2, num_attention_heads=N_HEADS, intermediate_size=64,
                        max_position_embeddings=128, attn_implementation="eager")
    model = BertModel(config)
    size = HIDDEN // N_HEADS
    with torch.no_grad():
        model.embeddings.LayerNorm.weight.zero_()
        model.embeddings.LayerNorm.bias.fill_(SMALL)
        model.embeddings.LayerNorm.bias[BIG_DIM] = BIG
        attention = model.encoder.layer[0].attention
        attention.self.value.weight.zero_()
        attention.self.value.bias.zero_()
        for head in range(N_HEADS):
            attention.self.value.bias[head * size] = head + 1
        attention.output.dense.weight.copy_(torch.eye(HIDDEN))
    return bertlab.wrap(model, lm.tokenizer, name="tiny-hand-set-bert")


def test_hand_set_norms_and_largest_activation(hand_set_lm):
    stats = token_activations(hand_set_lm, TEXTS, progress=False, top_k=3)
    layer0 = stats.norms[stats.norms["layer"] == 0]
    expected_norm = (BIG ** 2 + (HIDDEN - 1) * SMALL ** 2) ** 0.5
    assert layer0["hidden_norm"].tolist() == pytest.approx([expected_norm] * len(layer0))
    assert layer0["value_norm"].tolist() == pytest.approx([2.5] * len(layer0))   # mean of 1..4
    assert layer0["top_dim_share"].tolist() == pytest.approx([BIG ** 2 / expected_norm ** 2]
                                                             * len(layer0))
    heads = stats.head_norms[stats.head_norms["layer"] == 0]
    assert (heads["value_norm"] - (heads["head"] + 1)).abs().max() < 1e-6
    top = stats.largest[stats.largest["layer"] == 0]
    assert top["value"].tolist() == pytest.approx([BIG] * len(top))   # every position has a 3
    assert set(top["dim"]) == {BIG_DIM}
    assert top["median"].tolist() == pytest.approx([SMALL] * len(top))
    assert top["ratio"].tolist() == pytest.approx([BIG / SMALL] * len(top))
    summary = stats.largest_summary().set_index("layer")
    assert summary.at[0, "dim"] == BIG_DIM and summary.at[0, "dim_share"] == 1.0


def test_kinds_count_the_special_positions(hand_set_lm):
    stats = token_activations(hand_set_lm, [PAIR[0]], [PAIR[1]], progress=False)
    counts = stats.norms[stats.norms["layer"] == 0].set_index("kind")["n_positions"]
    n_tokens = len(bertlab.extract(hand_set_lm, *PAIR).tokens)
    assert counts.to_dict() == {"cls": 1, "sep": 2, "content": n_tokens - 3}
    assert stats.norms["kind"].unique().tolist() == list(TOKEN_KINDS)


def test_same_tables_for_any_batch_size(tiny_lm):
    one = token_activations(tiny_lm, TEXTS, batch_size=1, progress=False)
    batched = token_activations(tiny_lm, TEXTS, batch_size=3, progress=False)
    for name in ("norms", "head_norms", "largest"):
        left, right = getattr(one, name), getattr(batched, name)
        numbers = left.select_dtypes("number").columns
        torch.testing.assert_close(torch.tensor(left[numbers].to_numpy()),
                                   torch.tensor(right[numbers].to_numpy()), atol=1e-5, rtol=0)
        assert left.select_dtypes(exclude="number").equals(right.select_dtypes(exclude="number"))


def test_every_text_weighs_the_same_in_the_summary(tiny_lm):
    both = token_activations(tiny_lm, TEXTS[:2], progress=False).summary()
    alone = [token_activations(tiny_lm, [text], progress=False).summary() for text in TEXTS[:2]]
    columns = ["hidden_norm", "value_norm", "top_dim_share"]
    expected = (alone[0][columns] + alone[1][columns]) / 2
    torch.testing.assert_close(torch.tensor(both[columns].to_numpy()),
                               torch.tensor(expected.to_numpy()))


def test_the_model_is_left_as_it_was(tiny_lm):
    before = copy.deepcopy(tiny_lm.model.state_dict())
    token_activations(tiny_lm, TEXTS, progress=False)
    attention = tiny_lm.model.encoder.layer[0].attention.self
    assert not attention._forward_pre_hooks and tiny_lm.model.training is False
    for name, tensor in tiny_lm.model.state_dict().items():
        assert torch.equal(tensor, before[name]), name


@pytest.mark.slow
def test_parity_with_the_models_own_hidden_states_and_weights(lm):
    stats = token_activations(lm, [PAIR[0], "Rain."], [PAIR[1], "It poured."], progress=False,
                              top_k=2)
    encoding = lm.tokenizer([PAIR[0], "Rain."], [PAIR[1], "It poured."], padding=True,
                            return_tensors="pt")
    with torch.no_grad():
        hidden_states = lm.model(**encoding, output_hidden_states=True).hidden_states
    size = lm.model.config.hidden_size // lm.n_heads
    for text in range(2):
        real = encoding["attention_mask"][text].bool()
        ids = encoding["input_ids"][text][real]
        kinds = {"cls": ids == lm.tokenizer.cls_token_id, "sep": ids == lm.tokenizer.sep_token_id}
        kinds["content"] = ~kinds["cls"] & ~kinds["sep"]
        for layer in range(lm.n_layers):
            x = hidden_states[layer][text][real]                                 # [T, D]
            block = lm.model.encoder.layer[layer].attention
            values = torch.nn.functional.linear(x, block.self.value.weight, block.self.value.bias)
            heads = [values[:, h * size:(h + 1) * size] @ block.output.dense.weight[:, h * size:
                     (h + 1) * size].T for h in range(lm.n_heads)]               # H × [T, D]
            value_norms = torch.stack([f.norm(dim=-1) for f in heads])          # [H, T]
            rows = stats.norms[(stats.norms["text"] == text) & (stats.norms["layer"] == layer)]
            for kind, mask in kinds.items():
                row = rows[rows["kind"] == kind].iloc[0]
                assert row["hidden_norm"] == pytest.approx(float(x[mask].norm(dim=-1).mean()),
                                                           abs=TOLERANCE)
                assert row["value_norm"] == pytest.approx(
                    float(value_norms[:, mask].mean()), abs=TOLERANCE)
            flat = x.abs().flatten()
            top = stats.largest[(stats.largest["text"] == text)
                                & (stats.largest["layer"] == layer)]
            expected = flat.topk(2)
            assert top["value"].tolist() == pytest.approx(expected.values.tolist(), abs=TOLERANCE)
            assert top["dim"].tolist() == (expected.indices % x.shape[1]).tolist()
            assert top["median"].iloc[0] == pytest.approx(float(flat.median()), abs=TOLERANCE)


@pytest.mark.parametrize("top_k", [0, -1, True, 2.0, 10_000])
def test_bad_top_k_is_a_clear_error(tiny_lm, top_k):
    with pytest.raises(bertlab.InputError, match="top_k"):
        token_activations(tiny_lm, TEXTS, top_k=top_k, progress=False)


def test_bad_texts_and_models_are_clear_errors(lm, tiny_lm):
    with pytest.raises(bertlab.InputError, match="empty"):
        token_activations(tiny_lm, ["fine", "  "], progress=False)
    distil = DistilBertModel(DistilBertConfig(vocab_size=lm.tokenizer.vocab_size, dim=32,
                                              n_layers=1, n_heads=4, hidden_dim=64,
                                              attn_implementation="eager"))
    with pytest.raises(bertlab.UnsupportedModelError, match="BERT's layout"):
        token_activations(bertlab.wrap(distil, lm.tokenizer), TEXTS, progress=False)

"""bertlab.flow: norm-based contributions, rollout, head ablation, attention gradients.

Every number is checked against an independent computation written here with plain loops and
matmuls from the model's own weight matrices, on the real embedded model and on tiny random BERTs.
"""

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from transformers import (BertConfig, BertForSequenceClassification, BertModel, DistilBertConfig,
                          DistilBertModel)

import bertlab
from bertlab.flow import (ablate_heads, attention_gradients, attention_parts, cls_rollout,
                          contributions, corpus_norm_scores, heads_ablated, norm_attention,
                          norm_scores, random_heads, rollout, top_heads, untrained_classifier,
                          value_vectors)

SENTENCE = "The dog chased the cat."
PAIR = ("The dog chased the cat.", "It ran up a tree.")
CORPUS = ["The dog chased the cat.", "Hi.", "Why did the committee postpone its decision?",
          "She sells sea shells by the sea shore, or so they say.", "Rain."]
LABELS = [1, 0, 0, 1, 0]
TOLERANCE = 1e-5  # the bound for parity with a direct recomputation


def tiny_config(lm, n_layers: int, **extra) -> BertConfig:
    return BertConfig(vocab_size=lm.tokenizer.vocab_size, hidden_size=32,
                      num_hidden_layers=n_layers, num_attention_heads=4, intermediate_size=64,
                      max_position_embeddings=128, attn_implementation="eager", **extra)


@pytest.fixture(scope="module")
def tiny_classifier(lm):
    """A 2-layer random BERT with a random 2-class head (the loss is what matters here)."""
    torch.manual_seed(1)
    model = BertForSequenceClassification(tiny_config(lm, 2, num_labels=2)).eval()
    return bertlab.wrap(model, lm.tokenizer, name="tiny-random-classifier")


@pytest.fixture(scope="module")
def real_classifier(lm):
    """The embedded encoder under a seeded random classification head (no zoo build needed)."""
    return untrained_classifier(lm, seed=0)


def forward(lm, text, text_pair=None, **options):
    encoding = lm.tokenizer(text, text_pair, return_tensors="pt")
    with torch.no_grad():
        return lm.model(**encoding, **options)


# --- norm-based contributions ------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("texts", [(SENTENCE,), PAIR])
def test_contributions_equal_brute_force_from_weight_matrices(lm, texts):
    outputs = forward(lm, *texts, output_attentions=True, output_hidden_states=True)
    size = lm.model.config.hidden_size // lm.n_heads
    expected = torch.zeros(lm.n_layers, lm.n_heads, *outputs.attentions[0].shape[-2:])
    for layer in range(lm.n_layers):
        x = outputs.hidden_states[layer][0]                      # input of this layer, [T, D]
        block = lm.model.encoder.layer[layer].attention
        for head in range(lm.n_heads):
            rows = slice(head * size, (head + 1) * size)
            w_v, b_v = block.self.value.weight[rows], block.self.value.bias[rows]  # [E, D], [E]
            w_o = block.output.dense.weight[:, rows]                                 # [D, E]
            f = (x @ w_v.T + b_v) @ w_o.T                                            # [K, D]
            alpha = outputs.attentions[layer][0, head]                               # [Q, K]
            for i in range(alpha.shape[0]):
                expected[layer, head, i] = (alpha[i, :, None] * f).norm(dim=-1)
    torch.testing.assert_close(contributions(lm, *texts), expected, atol=TOLERANCE, rtol=0)


@pytest.mark.slow
def test_contributions_summed_over_keys_and_heads_give_the_attention_output(lm):
    att = bertlab.extract(lm, *PAIR)
    outputs = forward(lm, *PAIR, output_hidden_states=True)
    dense_outputs = {}
    handles = [part.output_dense.register_forward_hook(
        lambda module, args, out, layer=layer: dense_outputs.__setitem__(layer, out[0]))
        for layer, part in enumerate(attention_parts(lm))]
    try:
        forward(lm, *PAIR)
    finally:
        for handle in handles:
            handle.remove()
    for layer, part in enumerate(attention_parts(lm)):
        with torch.no_grad():
            f = value_vectors(part, outputs.hidden_states[layer])[0]          # [H, K, D]
        rebuilt = torch.einsum("hqk,hkd->qd", att.weights[layer], f) + part.output_dense.bias
        torch.testing.assert_close(rebuilt, dense_outputs[layer], atol=TOLERANCE, rtol=0)


@pytest.mark.slow
def test_norm_tables_have_score_columns_and_distribution_rows(lm):
    att = norm_attention(lm, *PAIR)
    torch.testing.assert_close(att.weights.sum(-1), torch.ones(att.weights.shape[:-1]))
    assert att.tokens == bertlab.extract(lm, *PAIR).tokens
    table = norm_scores(lm, *PAIR)
    weight_table = bertlab.score(bertlab.extract(lm, *PAIR))
    assert list(table.columns) == list(weight_table.columns)
    assert table[["layer", "head"]].equals(weight_table[["layer", "head"]])
    # Kobayashi et al.'s finding, on one sentence pair: [CLS] and [SEP] contribute far less than
    # their weights suggest (averaged over the model's heads).
    assert table["special_share"].mean() < 0.75 * weight_table["special_share"].mean()


@pytest.mark.slow
def test_corpus_norm_scores_are_the_mean_of_the_per_text_tables(lm):
    per_text = [norm_scores(lm, text) for text in CORPUS]
    expected = pd.concat(per_text).groupby(["layer", "head"], as_index=False).mean()
    for batch_size in (1, 2, 32):   # padding inside a batch must not change anything
        table = corpus_norm_scores(lm, CORPUS, batch_size=batch_size, progress=False)
        pd.testing.assert_frame_equal(table, expected, atol=1e-6, rtol=0, check_dtype=False)


# --- rollout ------------------------------------------------------------------------------------

def test_rollout_rows_sum_to_one_and_shapes(lm):
    att = bertlab.extract(lm, *PAIR)
    rolled = rollout(att)
    assert rolled.shape == (lm.n_layers, att.n_tokens, att.n_tokens)
    torch.testing.assert_close(rolled.sum(-1), torch.ones(lm.n_layers, att.n_tokens))
    assert bool((rolled >= 0).all())
    torch.testing.assert_close(cls_rollout(att), rolled[-1, 0])


def test_rollout_of_one_layer_is_plain_residual_attention(lm):
    torch.manual_seed(2)
    one_layer = bertlab.wrap(BertModel(tiny_config(lm, 1)).eval(), lm.tokenizer, name="one-layer")
    att = bertlab.extract(one_layer, *PAIR)
    mean = att.weights[0].mean(dim=0)                                   # [Q, K]
    plain = 0.5 * mean + 0.5 * torch.eye(att.n_tokens)
    plain = plain / plain.sum(dim=-1, keepdim=True)
    torch.testing.assert_close(rollout(att)[0], plain)


def test_rollout_multiplies_layers_from_the_bottom(tiny_lm):
    att = bertlab.extract(tiny_lm, SENTENCE)
    eye = torch.eye(att.n_tokens)
    per_layer = [(0.5 * w.mean(0) + 0.5 * eye) for w in att.weights]   # rows already sum to 1
    torch.testing.assert_close(rollout(att)[1], per_layer[1] @ per_layer[0])


# --- ablation -----------------------------------------------------------------------------------

def last_hidden(lm, text, text_pair=None):
    return forward(lm, text, text_pair, output_hidden_states=True).hidden_states[-1]


@pytest.mark.slow
@pytest.mark.parametrize("remove", [None, "sep"])
def test_ablating_nothing_changes_nothing(lm, remove):
    encoding = lm.tokenizer(*PAIR, return_tensors="pt")
    sep = encoding["input_ids"] == lm.tokenizer.sep_token_id            # [1, K]
    with heads_ablated(lm, [], None if remove is None else sep):
        ablated = last_hidden(lm, *PAIR)
    assert torch.equal(ablated, last_hidden(lm, *PAIR))
    effect = ablate_heads(lm, CORPUS, [], keys=remove, progress=False)
    assert effect.cls_cosine_distance == 0.0 and effect.cls_relative_change == 0.0


@pytest.mark.slow
def test_ablating_every_head_of_a_layer_changes_the_output(lm):
    for layer in (0, lm.n_layers - 1):
        effect = ablate_heads(lm, CORPUS, [(layer, h) for h in range(lm.n_heads)], progress=False)
        assert effect.cls_relative_change > 1e-3
        assert effect.n_texts == len(CORPUS)


def test_switched_off_heads_send_zeros_into_the_output_projection(tiny_lm):
    seen = {}
    dense = attention_parts(tiny_lm)[1].output_dense
    handle = dense.register_forward_pre_hook(lambda module, args: seen.__setitem__("in", args[0]))
    try:
        with heads_ablated(tiny_lm, [(1, 2)]):
            forward(tiny_lm, SENTENCE)
        ablated = seen["in"][0]                                          # [T, H*E]
        forward(tiny_lm, SENTENCE)
        plain = seen["in"][0]
    finally:
        handle.remove()
    size = 32 // tiny_lm.n_heads
    assert torch.equal(ablated[:, 2 * size:3 * size], torch.zeros(ablated.shape[0], size))
    others = [c for c in range(32) if not 2 * size <= c < 3 * size]
    assert torch.equal(ablated[:, others], plain[:, others])


def test_cutting_sep_renormalises_exactly_that_heads_rows(tiny_lm):
    encoding = tiny_lm.tokenizer(*PAIR, return_tensors="pt")
    sep = encoding["input_ids"] == tiny_lm.tokenizer.sep_token_id       # [1, K]
    plain = forward(tiny_lm, *PAIR, output_attentions=True).attentions[1][0]   # [H, Q, K]
    with heads_ablated(tiny_lm, [(1, 3)], remove_keys=sep):
        cut = forward(tiny_lm, *PAIR, output_attentions=True).attentions[1][0]
    expected = plain[3].masked_fill(sep[0], 0.0)
    expected = expected / expected.sum(dim=-1, keepdim=True)
    torch.testing.assert_close(cut[3], expected)
    torch.testing.assert_close(cut[:3], plain[:3])
    assert torch.equal(cut[3][:, sep[0]], torch.zeros(cut.shape[1], int(sep.sum())))


def test_ablation_measures_predictions_of_a_classifier(tiny_classifier):
    heads = [(0, h) for h in range(tiny_classifier.n_heads)]
    effect = ablate_heads(tiny_classifier, CORPUS, heads, labels=LABELS, progress=False)
    assert effect.prediction_kl > 0
    assert 0 <= effect.flip_rate <= 1 and 0 <= effect.accuracy_after <= 1
    logits = torch.cat([forward(tiny_classifier, t).logits for t in CORPUS])
    accuracy = (logits.argmax(-1) == torch.tensor(LABELS)).float().mean()
    assert effect.accuracy_before == pytest.approx(float(accuracy))


def test_top_and_random_heads(lm):
    table = pd.DataFrame({"layer": [0, 0, 1, 1], "head": [0, 1, 0, 1], "sep_share": [.1, .9, .5, .2]})
    assert top_heads(table, "sep_share", 2) == [(0, 1), (1, 0)]
    drawn = random_heads(lm, 5, seed=3, exclude=[(0, 0)])
    assert len(set(drawn)) == 5 and (0, 0) not in drawn
    assert drawn == random_heads(lm, 5, seed=3, exclude=[(0, 0)]) != random_heads(lm, 5, seed=4)


# --- gradients ----------------------------------------------------------------------------------

def test_attention_gradients_match_the_chain_rule(tiny_classifier):
    """∂loss/∂α[h,i,j] = (∂loss/∂o_h[i]) · v_h[j], with o_h the head's output, v_h its values."""
    lm, text, label = tiny_classifier, CORPUS[2], 1
    encoding = lm.tokenizer(text, return_tensors="pt")
    size = 32 // lm.n_heads
    layer = 1
    captured = {}
    block = lm.model.bert.encoder.layer[layer].attention
    hooks = [block.self.register_forward_hook(lambda m, a, out: captured.__setitem__("o", out[0])),
             block.self.value.register_forward_hook(lambda m, a, out: captured.__setitem__("v", out))]
    embed = lm.model.bert.embeddings.register_forward_hook(
        lambda m, a, out: out.detach().requires_grad_(True))
    try:
        with torch.enable_grad():
            logits = lm.model(**encoding).logits
            loss = F.cross_entropy(logits, torch.tensor([label]))
            grad_o, = torch.autograd.grad(loss, captured["o"])             # [1, T, H*E]
    finally:
        for handle in [*hooks, embed]:
            handle.remove()
    ids = encoding["input_ids"][0]
    sep, cls = ids == lm.tokenizer.sep_token_id, ids == lm.tokenizer.cls_token_id
    other = ~(sep | cls)
    table = attention_gradients(lm, [text], [label], progress=False)
    for head in range(lm.n_heads):
        cols = slice(head * size, (head + 1) * size)
        grad_alpha = grad_o[0, :, cols] @ captured["v"][0, :, cols].detach().T   # [Q, K]
        row = table[(table["layer"] == layer) & (table["head"] == head)].iloc[0]
        for column, keys in (("sep_gradient", sep), ("cls_gradient", cls), ("other_gradient", other)):
            assert row[column] == pytest.approx(float(grad_alpha[:, keys].abs().mean()), rel=1e-4)


@pytest.mark.slow
def test_untrained_classifier_copies_the_encoder(lm, real_classifier):
    encoding = lm.tokenizer(SENTENCE, return_tensors="pt")
    with torch.no_grad():
        inside = real_classifier.model.bert(**encoding).last_hidden_state
    torch.testing.assert_close(inside, forward(lm, SENTENCE).last_hidden_state)
    ours = real_classifier.model.bert.embeddings.word_embeddings.weight
    assert ours.data_ptr() != lm.model.embeddings.word_embeddings.weight.data_ptr()


@pytest.mark.slow
def test_attention_gradients_same_for_any_batch_size(real_classifier):
    one = attention_gradients(real_classifier, CORPUS, LABELS, batch_size=1, progress=False)
    all_at_once = attention_gradients(real_classifier, CORPUS, LABELS, batch_size=8, progress=False)
    assert list(one.columns) == ["layer", "head", "cls_gradient", "sep_gradient", "other_gradient"]
    assert len(one) == real_classifier.n_layers * real_classifier.n_heads
    pd.testing.assert_frame_equal(one, all_at_once, atol=1e-7, rtol=1e-4)
    assert (one[["cls_gradient", "sep_gradient", "other_gradient"]].to_numpy() > 0).all()
    assert all(p.grad is None for p in real_classifier.model.parameters())  # model untouched


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("heads, message", [
    ([(0, 99)], "out of range"), ([(-1, 0)], "out of range"), ([(6, 0)], "out of range"),
    ((0, 1), "for one head write"), ([(0, "a")], "pair of integers")])
def test_bad_heads_are_clear_errors(lm, heads, message):
    with pytest.raises(bertlab.InputError, match=message):
        ablate_heads(lm, [SENTENCE], heads, progress=False)


def test_empty_or_unknown_key_sets_are_clear_errors(lm):
    with pytest.raises(bertlab.InputError, match="empty key set"):
        with heads_ablated(lm, [(0, 0)], remove_keys=torch.zeros(1, 8, dtype=torch.bool)):
            pass
    with pytest.raises(bertlab.InputError, match="no key left"):
        with heads_ablated(lm, [(0, 0)], remove_keys=torch.ones(1, 8, dtype=torch.bool)):
            pass
    for keys in ("", "tokens"):
        with pytest.raises(bertlab.InputError, match="empty key set"):
            ablate_heads(lm, [SENTENCE], [(0, 0)], keys=keys, progress=False)


def test_gradients_and_labels_need_a_classifier(lm, tiny_classifier):
    with pytest.raises(bertlab.UnsupportedModelError, match="no classification head"):
        attention_gradients(lm, [SENTENCE], [0], progress=False)
    with pytest.raises(bertlab.InputError, match="one label per text"):
        attention_gradients(tiny_classifier, [SENTENCE, "Hi."], [0], progress=False)
    with pytest.raises(bertlab.InputError, match="class ids"):
        attention_gradients(tiny_classifier, [SENTENCE], [2], progress=False)
    with pytest.raises(bertlab.InputError, match="no classification head"):
        ablate_heads(lm, [SENTENCE], [], labels=[0], progress=False)


def test_other_bad_input_is_a_clear_error(lm):
    with pytest.raises(bertlab.InputError, match="Attention of one text"):
        rollout(bertlab.extract(lm, SENTENCE).weights)
    with pytest.raises(bertlab.InputError, match="from 1 to"):
        top_heads(pd.DataFrame({"layer": [0], "head": [0], "sep_share": [0.5]}), "sep_share", 2)
    with pytest.raises(bertlab.InputError, match="'layer', 'head'"):
        top_heads(pd.DataFrame({"x": [1]}), "sep_share", 1)
    with pytest.raises(bertlab.InputError, match="empty"):
        corpus_norm_scores(lm, [], progress=False)
    distil = DistilBertModel(DistilBertConfig(vocab_size=lm.tokenizer.vocab_size, dim=32,
                                              n_layers=1, n_heads=2, hidden_dim=64,
                                              attn_implementation="eager"))
    distil_lm = bertlab.wrap(distil, lm.tokenizer, name="tiny-distilbert")
    with pytest.raises(bertlab.UnsupportedModelError, match="BERT's layout"):
        norm_scores(distil_lm, SENTENCE)

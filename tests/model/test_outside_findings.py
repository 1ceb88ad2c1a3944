"""Defects an outside tester found (issue 13), one test each: every one failed before its fix.

Each builds its own models and tokenizers (copies), so that what it changes (training mode,
padding side, added tokens) never leaks into the session's shared `lm` fixture.
"""

import copy
import warnings

import pytest
import torch
from transformers import (AutoTokenizer, BertConfig, BertModel, Gemma2Config, Gemma2ForCausalLM,
                          RobertaConfig, RobertaModel, T5Config, T5EncoderModel)

import bertlab
from bertlab.loading import embedded_model_path

TEXTS = ["The dog chased the cat.", "Hi.", "A much longer sentence, with commas, and several "
         "clauses that go on for a while."]
SEED_JAPANESE = "犬が猫を追いかけた。"


@pytest.fixture()
def tokenizer():
    """A private copy of the embedded tokenizer, free to be changed by one test."""
    return AutoTokenizer.from_pretrained(embedded_model_path())


def tiny_bert(tokenizer, seed: int = 0, **overrides) -> BertModel:
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64, max_position_embeddings=128,
                        attn_implementation="eager", **overrides)
    return BertModel(config)


def test_a_model_in_training_mode_is_measured_in_eval_mode_and_left_as_it_was(tokenizer):
    model = tiny_bert(tokenizer, hidden_dropout_prob=0.5, attention_probs_dropout_prob=0.5)
    lm = bertlab.wrap(model, tokenizer)
    model.train()                                   # e.g. the user fine-tunes it some more
    first, second = bertlab.extract(lm, TEXTS[0]), bertlab.extract(lm, TEXTS[0])
    assert torch.equal(first.weights, second.weights)
    torch.testing.assert_close(first.weights.sum(-1), torch.ones(first.weights.shape[:-1]))
    assert bertlab.ablate_heads(lm, TEXTS, [], progress=False).cls_cosine_distance == 0.0
    assert model.training                           # the caller's mode is restored
    model.eval()
    assert not model.training and bertlab.extract(lm, TEXTS[0]).n_tokens == first.n_tokens
    assert not model.training                       # and an eval model stays in eval mode


def test_a_left_padding_tokenizer_gives_the_same_numbers_and_is_not_changed(lm, tokenizer):
    tokenizer.padding_side = "left"
    left = bertlab.wrap(lm.model, tokenizer)
    one = bertlab.corpus_scores(left, TEXTS, batch_size=1, progress=False)
    three = bertlab.corpus_scores(left, TEXTS, batch_size=3, progress=False)
    reference = bertlab.corpus_scores(lm, TEXTS, batch_size=3, progress=False)
    for table in (three, reference):
        assert (table["cls_share"] - one["cls_share"]).abs().max() < 1e-5
    assert tokenizer.padding_side == "left"


def test_tokens_added_after_wrapping_are_measured(tokenizer):
    model = tiny_bert(tokenizer)
    lm = bertlab.wrap(model, tokenizer)
    bertlab.extract(lm, TEXTS[0])                   # fills whatever a first call may cache
    tokenizer.add_tokens(["bertlabium"])
    model.resize_token_embeddings(len(tokenizer))
    for wrapped in (lm, bertlab.wrap(model, tokenizer)):
        att = bertlab.extract(wrapped, "A bertlabium atom.")
        assert "bertlabium" in att.tokens
        assert not att.special_mask[att.tokens.index("bertlabium")]


@pytest.mark.parametrize("text", ["🙂 🙂 🙂 great", SEED_JAPANESE])
def test_unk_is_content_not_special(lm, text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bertlab.BertlabWarning)   # the [UNK] warning, tested below
        att = bertlab.extract(lm, text)
    assert "[UNK]" in att.tokens
    unknown = torch.tensor([token == "[UNK]" for token in att.tokens])
    assert not att.special_mask[unknown].any()
    table = bertlab.score(att)
    added = table["cls_share"] + table["sep_share"]
    assert (table["special_share"] - added).abs().max() < 1e-6


def test_a_text_with_many_unknown_tokens_warns_with_the_share_and_the_fix(lm):
    with pytest.warns(bertlab.BertlabWarning, match=r"(?s)\[UNK\].*texts\[1\].*tokenizer made for"):
        bertlab.corpus_scores(lm, ["A plain English sentence.", SEED_JAPANESE], progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", bertlab.BertlabWarning)
        bertlab.corpus_scores(lm, TEXTS, progress=False)          # English: no warning


def test_the_unknown_token_warning_names_both_sentences_of_a_pair(lm):
    """The [UNK]s of a pair may all be in its second sentence: the warning must not blame the
    first alone."""
    with pytest.warns(bertlab.BertlabWarning) as caught:
        bertlab.extract(lm, "The dog chased the cat.", SEED_JAPANESE)
    message = str(caught[0].message)
    assert "texts[0] + pairs[0]" in message and SEED_JAPANESE[:10] in message, message


def test_uniform_attention_is_broad_not_local(tokenizer):
    model = tiny_bert(tokenizer)
    for layer in model.encoder.layer:                # W_Q = W_K = 0: every row is uniform
        for projection in (layer.attention.self.query, layer.attention.self.key):
            torch.nn.init.zeros_(projection.weight)
            torch.nn.init.zeros_(projection.bias)
    lm = bertlab.wrap(model, tokenizer)
    short = ["The dog ran.", "A cat sat.", "It is red today.", "We saw two birds."]  # 6-8 tokens
    roles = bertlab.layer_roles(lm, short)
    assert roles["normalised_entropy"].min() > 0.999
    assert roles["role"].tolist() == ["broad"] * lm.n_layers


def test_a_causal_decoder_with_a_cls_sep_tokenizer_is_refused(tmp_path, tokenizer):
    config = Gemma2Config(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                          num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                          head_dim=8, attn_implementation="eager")
    model = Gemma2ForCausalLM(config)
    with pytest.raises(bertlab.UnsupportedModelError, match="decoder"):
        bertlab.wrap(model, tokenizer)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(bertlab.UnsupportedModelError, match="decoder"):
        bertlab.load(tmp_path)


def test_roberta_style_positions_are_truncated_within_the_position_table(tokenizer):
    tokenizer.model_max_length = int(1e30)          # as saved by tokenizers that set no limit
    config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1,
                           num_attention_heads=2, intermediate_size=32, pad_token_id=0,
                           max_position_embeddings=34, attn_implementation="eager")
    torch.manual_seed(0)
    lm = bertlab.wrap(RobertaModel(config), tokenizer)
    assert lm.max_length == 33                       # positions start at padding_idx + 1 = 1
    with pytest.warns(bertlab.BertlabWarning, match="truncated"):
        att = bertlab.extract(lm, "word " * 60)
    assert att.n_tokens == 33


def test_a_t5_encoder_folder_loads_as_an_encoder(tmp_path, tokenizer):
    config = T5Config(vocab_size=len(tokenizer), d_model=16, d_kv=8, d_ff=32, num_layers=2,
                      num_heads=2)
    T5EncoderModel(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    lm = bertlab.load(tmp_path)
    assert type(lm.model).__name__ == "T5EncoderModel"
    assert bertlab.extract(lm, TEXTS[0]).n_layers == 2


@pytest.mark.parametrize("call, message", [
    (lambda lm: bertlab.load(123), "name or a folder"),
    (lambda lm: bertlab.extract(lm.model, "Text."), "LoadedModel"),
    (lambda lm: bertlab.corpus_scores(lm.tokenizer, ["Text."]), "LoadedModel"),
])
def test_wrong_types_get_a_bertlab_error(lm, call, message):
    with pytest.raises(bertlab.BertlabError, match=message):
        call(lm)


def test_a_mistyped_local_path_says_no_such_folder(tmp_path):
    with pytest.raises(bertlab.ModelNotAvailableError, match="no such folder"):
        bertlab.load(tmp_path / "my-modle")
    with pytest.raises(bertlab.ModelNotAvailableError, match="no such folder"):
        bertlab.load("./checkpoints/bert-finetuned")


@pytest.mark.parametrize("text", ["\u200b", " \u200b\u200d\ufeff "])
def test_zero_width_only_text_is_empty(lm, text):
    with pytest.raises(bertlab.InputError, match="empty"):
        bertlab.extract(lm, text)


def test_truncation_warning_names_the_corpus_index_and_the_callers_line(lm):
    corpus = TEXTS + ["word " * 600]                 # texts[3], in the second batch of 2
    with pytest.warns(bertlab.BertlabWarning, match=r"texts\[3\]") as caught:
        bertlab.corpus_scores(lm, corpus, batch_size=2, progress=False)
    assert caught[0].filename == __file__


@pytest.mark.parametrize("call, message", [
    (lambda att: bertlab.head_view(att, layers=5), "a list of 0-based layer"),
    (lambda att: bertlab.model_view(att, heads=[99]), "Head 99 is not available"),
    (lambda att: bertlab.head_view(att, heads=[99]), "Head 99 is not available"),
    (lambda att: bertlab.head_view(att, layers=[1.7]), "0-based integer, got 1.7"),
    (lambda att: bertlab.head_view(att, layer=True), "0-based integer, got True"),
    (lambda att: bertlab.model_view(att, layers=[]), "empty"),
])
def test_view_arguments_are_checked_not_silently_rounded_or_ignored(lm, call, message):
    att = bertlab.extract(lm, TEXTS[0])
    with pytest.raises(bertlab.InputError, match=message):
        call(att)

"""Every bad input gets a clear error from the bertlab family, never a NaN or a silent number."""

import warnings

import pytest
import torch
from transformers import (AutoModel, AutoTokenizer, BertConfig, BertForSequenceClassification,
                          BertModel, GPT2Config, GPT2LMHeadModel)

import bertlab
from bertlab.loading import embedded_model_path


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_or_whitespace_text(lm, text):
    with pytest.raises(bertlab.InputError, match="empty or only whitespace"):
        bertlab.extract(lm, text)
    with pytest.raises(bertlab.InputError, match="text_pair is empty"):
        bertlab.extract(lm, "A sentence.", text)


@pytest.mark.parametrize("text", [None, 42, ["a list"], b"bytes"])
def test_non_string_text(lm, text):
    with pytest.raises(bertlab.InputError, match="must be a string"):
        bertlab.extract(lm, text)


def test_corpus_errors(lm):
    with pytest.raises(bertlab.InputError, match="corpus is empty"):
        bertlab.corpus_scores(lm, [], progress=False)
    with pytest.raises(bertlab.InputError, match="single string"):
        bertlab.corpus_scores(lm, "one text", progress=False)
    with pytest.raises(bertlab.InputError, match=r"texts\[1\]"):
        bertlab.corpus_scores(lm, ["fine", " "], progress=False)
    with pytest.raises(bertlab.InputError, match="pairs has 1 entries but texts has 2"):
        bertlab.corpus_scores(lm, ["a", "b"], ["c"], progress=False)
    with pytest.raises(bertlab.InputError, match="batch_size"):
        bertlab.corpus_scores(lm, ["a"], batch_size=0, progress=False)


def test_too_long_text_is_truncated_with_a_warning_giving_both_lengths(lm):
    text = "word " * 600
    with pytest.warns(bertlab.BertlabWarning, match=rf"602 tokens long.*at most {lm.max_length}"):
        att = bertlab.extract(lm, text)
    assert att.n_tokens == lm.max_length
    assert att.tokens[-1] == "[SEP]"


def test_too_long_text_raises_when_truncation_is_off(lm):
    with pytest.raises(bertlab.TextTooLongError, match=f"at most {lm.max_length}"):
        bertlab.extract(lm, "word " * 600, truncation=False)
    with pytest.raises(bertlab.TextTooLongError):
        bertlab.corpus_scores(lm, ["short", "word " * 600], truncation=False, progress=False)


def test_unknown_model_name_offline_names_the_embedded_default():
    with pytest.raises(bertlab.ModelNotAvailableError, match="bertlab.load\\(\\) with no argument"):
        bertlab.load("no-such-org/no-such-model-bertlab-test")


def test_decoder_only_model_is_refused(tmp_path, lm):
    config = GPT2Config(n_layer=1, n_head=2, n_embd=8, vocab_size=100)
    model = GPT2LMHeadModel(config)
    with pytest.raises(bertlab.UnsupportedModelError, match="decoder.*encoders with"):
        bertlab.wrap(model, lm.tokenizer)
    model.save_pretrained(tmp_path)
    with pytest.raises(bertlab.UnsupportedModelError, match="decoder"):
        bertlab.load(tmp_path)


def test_mismatched_tokenizer_and_model(lm):
    small = BertModel(BertConfig(vocab_size=1000, hidden_size=16, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=32))
    with pytest.raises(bertlab.UnsupportedModelError, match="different checkpoints"):
        bertlab.wrap(small, lm.tokenizer)
    with pytest.raises(bertlab.UnsupportedModelError, match="tokenizer"):
        bertlab.wrap(lm.model, "not a tokenizer")
    with pytest.raises(bertlab.UnsupportedModelError, match="transformers model"):
        bertlab.wrap(torch.nn.Linear(2, 2), lm.tokenizer)


def test_sdpa_model_is_switched_to_eager_with_a_warning():
    path = embedded_model_path()
    model = AutoModel.from_pretrained(path, attn_implementation="sdpa")
    with pytest.warns(bertlab.BertlabWarning, match="switched it to eager"):
        lm = bertlab.wrap(model, AutoTokenizer.from_pretrained(path))
    att = bertlab.extract(lm, "It works.")
    torch.testing.assert_close(att.weights.sum(-1), torch.ones(att.weights.shape[:-1]))


def test_a_model_that_returns_no_attention_weights_is_a_clear_error():
    path = embedded_model_path()
    model = AutoModel.from_pretrained(path, attn_implementation="eager")
    lm = bertlab.wrap(model, AutoTokenizer.from_pretrained(path))
    model.config._attn_implementation = "sdpa"   # switched behind bertlab's back
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(bertlab.AttentionUnavailableError, match="eager"):
            bertlab.extract(lm, "No weights come back.")


def test_a_saved_classifier_keeps_its_head(tmp_path, lm):
    classifier = BertForSequenceClassification.from_pretrained(embedded_model_path(), num_labels=2)
    classifier.save_pretrained(tmp_path)
    lm.tokenizer.save_pretrained(tmp_path)
    loaded = bertlab.load(tmp_path)
    assert loaded.has_classifier and isinstance(loaded.model, BertForSequenceClassification)
    torch.testing.assert_close(loaded.model.classifier.weight, classifier.classifier.weight)
    assert bertlab.extract(loaded, "Still extracts.").n_layers == 6


def test_every_error_is_a_bertlab_error():
    for error in (bertlab.InputError, bertlab.TextTooLongError, bertlab.ModelNotAvailableError,
                  bertlab.UnsupportedModelError, bertlab.AttentionUnavailableError):
        assert issubclass(error, bertlab.BertlabError)

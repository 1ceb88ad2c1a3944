"""`bertlab.classification.class_probabilities` on a tiny random classifier with the real tokenizer:
rows in the caller's order and equal to one text at a time, eval mode whatever the caller's
mode (which is restored), truncation through `iter_encoded` with its warning, clear errors."""

import warnings

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

import bertlab
from bertlab.classification import class_probabilities

TEXTS = ["A short one.", "This review is quite a lot longer than the first one, and it rambles.",
         "Middling.", "The soup was cold but the staff were kind."]


@pytest.fixture(scope="module")
def classifier(lm):
    torch.manual_seed(0)
    config = BertConfig(vocab_size=lm.tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
                        num_labels=3, attn_implementation="eager")
    return BertForSequenceClassification(config), lm.tokenizer


def test_rows_follow_the_texts_and_equal_one_text_at_a_time(classifier):
    model, tokenizer = classifier
    model.eval()
    together = class_probabilities(model, tokenizer, TEXTS, batch_size=3)  # [N, C]
    assert together.shape == (len(TEXTS), 3) and together.dtype == torch.float32
    assert torch.allclose(together.sum(dim=-1), torch.ones(len(TEXTS)))
    with torch.inference_mode():
        alone = torch.cat([model(**tokenizer([text], return_tensors="pt")).logits.softmax(-1)
                           for text in TEXTS])  # [N, C]
    torch.testing.assert_close(together, alone, atol=1e-6, rtol=1e-5)


def test_dropout_is_off_and_the_callers_mode_comes_back(classifier):
    model, tokenizer = classifier
    model.train()
    first = class_probabilities(model, tokenizer, TEXTS)
    assert model.training
    assert torch.equal(first, class_probabilities(model, tokenizer, TEXTS))
    model.eval()


def test_over_long_texts_are_truncated_with_the_extraction_warning(classifier):
    model, tokenizer = classifier
    long_text = "word " * 100  # 102 tokens with [CLS] and [SEP]; the model takes 64
    with pytest.warns(bertlab.BertlabWarning, match="truncat"):
        probabilities = class_probabilities(model, tokenizer, [TEXTS[0], long_text])
    assert probabilities.shape == (2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        class_probabilities(model, tokenizer, TEXTS, max_length=64)  # the model's own limit


@pytest.mark.parametrize("call, message", [
    (lambda m, t: class_probabilities(m, t, TEXTS, max_length=16), "own limit, 64 tokens"),
    (lambda m, t: class_probabilities(m, t, "one string"), "single string"),
    (lambda m, t: class_probabilities(m, t, []), "empty"),
    (lambda m, t: class_probabilities(m, t, TEXTS, TEXTS[:2]), "one second sentence per text"),
])
def test_bad_calls_say_what_to_do(classifier, call, message):
    with pytest.raises(bertlab.InputError, match=message):
        call(*classifier)

"""Shared fixtures: the real embedded model (loaded once per test session) and a tiny random BERT.

Tests that need the real model take `lm`; fast unit tests take `tiny_lm` (2 layers, 4 heads,
random weights, the embedded model's real tokenizer, so tokens and special ids are real).
"""

import pytest
import torch
from transformers import BertConfig, BertModel

import bertlab


@pytest.fixture(scope="session")
def lm():
    """The embedded all-MiniLM-L6-v2, loaded once."""
    return bertlab.load()


@pytest.fixture(scope="session")
def tiny_lm(lm):
    """A randomly initialised 2-layer, 4-head BERT sharing the real tokenizer."""
    torch.manual_seed(0)
    config = BertConfig(vocab_size=lm.tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64, max_position_embeddings=128,
                        attn_implementation="eager")
    return bertlab.wrap(BertModel(config).eval(), lm.tokenizer, name="tiny-random-bert")


"""Beyond attention weights: does information really flow where the attention points?

Book chapter: "Does information really flow into [CLS] and [SEP]?".

* `norms`: norm-based contributions ``‖α f(x)‖`` (Kobayashi et al. 2020), scored like weights;
* `activations`: hidden-state and value-vector norms of [CLS], [SEP] and the words, and the
  largest activations per layer (Sun et al. 2024);
* `rollout`: attention rollout across layers (Abnar & Zuidema 2020);
* `ablation`: switch heads off, or cut their attention to [SEP]/[CLS], and measure the change;
* `gradients`: how much a classifier's loss reacts to the attention on [CLS]/[SEP]
  (Clark et al. 2019);
* `labels`: the class labels these analyses take, checked.

Where the attention sub-layer sits inside a model is `bertlab.internals` (re-exported here).
"""

from .activations import TOKEN_KINDS, TokenActivations, token_activations
from .ablation import (KEY_SETS, AblationEffect, Head, ablate_heads, heads_ablated, random_heads,
                       top_heads)
from .gradients import GRADIENT_KEY_SETS, attention_gradients, untrained_classifier
from ..internals import AttentionParts, attention_parts, capture_attention_inputs
from .norms import (contributions, corpus_norm_scores, iter_norm_batches, norm_attention,
                    norm_measurement, norm_scores, value_vectors)
from .rollout import RESIDUAL_SHARE, cls_rollout, rollout

__all__ = [
    "contributions", "corpus_norm_scores", "iter_norm_batches", "norm_attention", "norm_scores",
    "norm_measurement", "value_vectors",
    "token_activations", "TokenActivations", "TOKEN_KINDS",
    "rollout", "cls_rollout", "RESIDUAL_SHARE",
    "ablate_heads", "heads_ablated", "AblationEffect", "top_heads", "random_heads", "KEY_SETS",
    "Head",
    "attention_gradients", "GRADIENT_KEY_SETS", "untrained_classifier",
    "attention_parts", "AttentionParts", "capture_attention_inputs",
]

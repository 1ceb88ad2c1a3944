"""bertlab: measure why BERT's attention piles up on [CLS] and [SEP].

Three lines from model to numbers::

    import bertlab
    lm = bertlab.load()                                   # the embedded all-MiniLM-L6-v2
    att = bertlab.extract(lm, "The dog chased the cat.", "It ran up a tree.")
    bertlab.score(att)                                    # one row per (layer, head)
"""

from .errors import (
    AttentionUnavailableError,
    BertlabError,
    BertlabWarning,
    InputError,
    ModelNotAvailableError,
    TextTooLongError,
    UnsupportedModelError,
)
from . import datasets
from .datasets import load_pairs, load_reviews
from .drawing import plot_heatmap, plot_profile
from .extraction import Attention, extract, extract_batch
from .loading import EMBEDDED_MODEL_NAME, LoadedModel, load, wrap
from .metrics import METRICS, corpus_scores, layer_means, score
from .views import head_view, model_view
from .flow import (ablate_heads, attention_gradients, cls_rollout, corpus_norm_scores,
                   norm_attention, norm_scores, rollout)

from .roles import head_measures, head_patterns, label_heads, label_layers, layer_profile, layer_roles
from .probing import probe_layers
from . import zoo
from .diagnosis import Diagnosis, diagnose

__version__ = "0.1.0"

__all__ = [
    "zoo", "diagnose", "Diagnosis",
    "head_measures", "layer_profile", "label_layers", "layer_roles", "label_heads",
    "head_patterns", "probe_layers",
    "norm_scores", "corpus_norm_scores", "norm_attention", "rollout", "cls_rollout",
    "ablate_heads", "attention_gradients",
    "load", "wrap", "LoadedModel", "EMBEDDED_MODEL_NAME",
    "extract", "extract_batch", "Attention",
    "score", "corpus_scores", "layer_means", "METRICS",
    "plot_heatmap", "plot_profile", "head_view", "model_view",
    "datasets", "load_reviews", "load_pairs",
    "BertlabError", "InputError", "TextTooLongError", "ModelNotAvailableError",
    "UnsupportedModelError", "AttentionUnavailableError", "BertlabWarning",
]

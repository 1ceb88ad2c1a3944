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
from .extraction import Attention, extract, extract_batch
from .loading import EMBEDDED_MODEL_NAME, LoadedModel, load, wrap
from .metrics import METRICS, corpus_scores, layer_means, score
from .flow import (ablate_heads, attention_gradients, cls_rollout, corpus_norm_scores,
                   norm_attention, norm_scores, rollout)

from .roles import head_measures, head_patterns, label_heads, label_layers, layer_profile, layer_roles
from . import zoo
from .diagnosis import Diagnosis, diagnose

__version__ = "0.1.0"

# Drawing needs matplotlib, the views BertViz's templates, probing scikit-learn: about a second
# and a half of imports that a notebook which never draws or probes (a graded assignment, a
# script) should not wait for. These names are imported on first use (PEP 562).
_ON_FIRST_USE = {"plot_heatmap": "drawing", "plot_profile": "drawing", "head_view": "views",
                 "model_view": "views", "probe_layers": "probing"}


def __getattr__(name: str):
    if name in _ON_FIRST_USE:
        import importlib

        value = getattr(importlib.import_module(f".{_ON_FIRST_USE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ON_FIRST_USE))

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

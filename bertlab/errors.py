"""One family of errors, so a notebook can catch ``bertlab.BertlabError`` and nothing else.

Every message says what happened and what to do next.
"""

import os
import sys
import warnings

__all__ = [
    "BertlabError",
    "InputError",
    "ModelNotAvailableError",
    "UnsupportedModelError",
    "AttentionUnavailableError",
    "TextTooLongError",
    "BertlabWarning",
    "warn",
]


class BertlabError(Exception):
    """Base class of every error bertlab raises on purpose."""


class InputError(BertlabError, ValueError):
    """A text, corpus, index or table handed to bertlab cannot be used as it is."""


class TextTooLongError(InputError):
    """A text is longer than the model's maximum and truncation was switched off."""


class ModelNotAvailableError(BertlabError, OSError):
    """A model name or path could not be loaded (offline, unknown name, missing files)."""


class UnsupportedModelError(BertlabError, TypeError):
    """The model is not an encoder with [CLS]/[SEP]-style special tokens, or its parts do not match."""


class AttentionUnavailableError(BertlabError, RuntimeError):
    """The model did not return attention weights (e.g. SDPA or flash attention)."""


class BertlabWarning(UserWarning):
    """Something bertlab did on your behalf that changes the numbers (e.g. truncation)."""


def warn(message: str, category: type[Warning] = BertlabWarning) -> None:
    """Warn at the caller's line: the first frame outside the bertlab package (not at the line
    inside bertlab that noticed the problem), so the warning points where the user can act."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    level, frame = 2, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)

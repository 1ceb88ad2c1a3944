"""Small helpers for the graded course's notebooks (``exercises/``): anonymous zoo models and a
self-check that runs anywhere, Colab included.

Book page: "Instructor guide". Nothing here knows an answer: `anonymous_zoo` hides which recipe
stands behind which letter (the order comes from a hash of a course key), and `self_check` only
runs the visible checks a notebook hands it.

>>> results = self_check({"adds up": lambda: None,
...                       "fails": lambda: (_ for _ in ()).throw(AssertionError("not yet"))})
✓ adds up
✗ fails: not yet
>>> results
{'adds up': 'pass', 'fails': 'not yet'}
"""

from __future__ import annotations

import dataclasses
import hashlib
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import zoo
from .errors import InputError
from .loading import LoadedModel

__all__ = ["COURSE_RECIPES", "DEFAULT_KEY", "CourseModel", "anonymous_zoo", "self_check"]

#: The zoo recipes assignment 4 hides behind letters: one healthy model, two overfit ones (one on
#: too few examples, one on too little diversity) and one whose training broke.
COURSE_RECIPES = ("healthy", "overfit", "low-diversity", "high-lr")
#: The course key that shuffles the letters. An instructor who changes it gets another order
#: (and must update the expected answers in the hidden tests of solutions/04_detect_overfit).
DEFAULT_KEY = "bertlab-course"


@dataclass(frozen=True)
class CourseModel:
    """One anonymous zoo model: the classifier, and its accuracy on its own training data
    (the last evaluated epoch of its training history)."""

    letter: str
    lm: LoadedModel
    train_accuracy: float


def anonymous_zoo(key: str = DEFAULT_KEY, seed: int = 0) -> dict[str, CourseModel]:
    """The `COURSE_RECIPES` as models ``"A"``, ``"B"``, …, in an order hashed from `key`.

    Names and paths that would give the recipe away are replaced by ``"model A"`` etc. The models
    come from the zoo cache (``python -m bertlab.zoo build --all`` builds it).

    >>> models = anonymous_zoo()
    >>> sorted(models), models["A"].lm.name
    (['A', 'B', 'C', 'D'], 'model A')
    >>> any(recipe in models["A"].lm.model.name_or_path for recipe in COURSE_RECIPES)
    False
    """
    if not isinstance(key, str) or not key:
        raise InputError(f"key must be a non-empty string (the course key), got {key!r}.")
    order = sorted(COURSE_RECIPES, key=lambda recipe: hashlib.sha256(f"{key}:{recipe}".encode())
                   .hexdigest())
    models = {}
    for letter, recipe in zip(string.ascii_uppercase, order):
        history = zoo.history(recipe, seed, progress=False)
        models[letter] = CourseModel(letter=letter, lm=_anonymised(zoo.load(recipe, seed), letter),
                                     train_accuracy=float(history["train_accuracy"].iloc[-1]))
    return models


def self_check(checks: Mapping[str, Callable[[], None]]) -> dict[str, str]:
    """Run each visible check, print ✓ or ✗ with the check's message, never raise.

    Works outside nbgrader (Colab, plain Jupyter): the graded result is nbgrader's, this is a
    preview of the visible part of it. Returns ``{part: "pass" or the failure message}``.
    """
    results = {}
    for part, check in checks.items():
        try:
            check()
        except NotImplementedError:
            results[part] = "not answered yet (the cell still raises NotImplementedError)"
        except Exception as error:  # a student's bug of any kind is a result to report here
            results[part] = str(error) or type(error).__name__
        else:
            results[part] = "pass"
        mark = "✓" if results[part] == "pass" else "✗"
        print(f"{mark} {part}" + ("" if results[part] == "pass" else f": {results[part]}"))
    return results


def _anonymised(lm: LoadedModel, letter: str) -> LoadedModel:
    """`lm` renamed ``model <letter>``, with the cache path (it names the recipe) removed from the
    freshly loaded model's config and tokenizer."""
    name = f"model {letter}"
    lm.model.config._name_or_path = name
    lm.model.name_or_path = name
    lm.tokenizer.name_or_path = name
    lm.tokenizer.init_kwargs.pop("name_or_path", None)
    return dataclasses.replace(lm, name=name)

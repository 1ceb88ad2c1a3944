"""What a graded part needs besides the answer: the model, and the student's own models and texts.

The notebook (through `bertlab.course.check`) and the grader (`bertlab.course.judge`) build the
same `Context` from the same student key, so both see the same models and texts. Loads are cached
for the whole process: the grader grades a class in one process and loads each model once.
"""

from __future__ import annotations

import functools
import os

import pandas as pd

from .. import load
from ..datasets import load_pairs, load_reviews
from ..loading import LoadedModel
from .keys import digest
from .pool import CourseModel, Pool, course_pool, my_models

__all__ = ["Context", "model", "sample"]


@functools.cache
def _model(name: str | None) -> LoadedModel:
    return load(name)


def model() -> LoadedModel:
    """The course's model: ``bertlab.load($BERTLAB_MODEL)`` (the embedded model by default),
    loaded once per process."""
    return _model(os.environ.get("BERTLAB_MODEL") or None)


@functools.cache
def _pool(folder: str | None) -> Pool:
    return course_pool()


@functools.cache
def _models(key: str, folder: str | None) -> dict[str, CourseModel]:
    return my_models(key, _pool(folder))


def sample(frame: pd.DataFrame, size: int, key: str, purpose: str) -> pd.DataFrame:
    """`size` rows of `frame` chosen by `key` (the same rows for the same key), in frame order."""
    return frame.sample(n=size, random_state=digest(key, purpose) % 2**32).sort_index()


class Context:
    """The student key and what it selects: their pool, models and texts."""

    def __init__(self, key: str):
        self.key = key
        self._folder = os.environ.get("BERTLAB_COURSE_POOL") or None

    @property
    def lm(self) -> LoadedModel:
        return model()

    @property
    def pool(self) -> Pool:
        return _pool(self._folder)

    @property
    def models(self) -> dict[str, CourseModel]:
        """The student's anonymous classifiers A-D (assignment 4)."""
        return _models(self.key, self._folder)

    def reviews(self, split: str, size: int, purpose: str) -> pd.DataFrame:
        """`size` reviews of `split` for this student (columns text, label)."""
        return sample(load_reviews(split), size, self.key, purpose)

    def pairs(self, split: str, size: int, purpose: str) -> pd.DataFrame:
        """`size` sentence pairs of `split` for this student, half true next sentences (label 1)
        and half random ones (label 0)."""
        frame = load_pairs(split)
        halves = [sample(frame[frame.label == label], size // 2, self.key, f"{purpose}/{label}")
                  for label in (1, 0)]
        return pd.concat(halves).sort_index()

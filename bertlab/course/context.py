"""What a graded part needs besides the answer: the model, and the student's own models.

The notebook (through `bertlab.course.check`) and the grader (`bertlab.course.judge`) build the
same `Context` from the same student key, so both see the same models. Loads are cached for the
whole process: the grader grades a class in one process and loads each model once.
"""

from __future__ import annotations

import functools
import os

from .. import load
from ..loading import LoadedModel
from .pool import POOL_ENV, CourseModel, Pool, load_pool, my_models, practice_pool

__all__ = ["Context", "model"]


@functools.cache
def _model(name: str | None) -> LoadedModel:
    return load(name)


def model() -> LoadedModel:
    """The course's model: ``bertlab.load($BERTLAB_MODEL)`` (the embedded model by default),
    loaded once per process."""
    return _model(os.environ.get("BERTLAB_MODEL") or None)


@functools.cache
def _pool(folder: str | None) -> Pool:
    return load_pool(folder) if folder else practice_pool()


@functools.cache
def _models(key: str, folder: str | None) -> dict[str, CourseModel]:
    return my_models(key, _pool(folder))


class Context:
    """A student key and what it selects: the course pool (``$BERTLAB_COURSE_POOL``, else the
    practice pool) and the student's models in it."""

    def __init__(self, key: str):
        self.key = key
        self._folder = os.environ.get(POOL_ENV) or None

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

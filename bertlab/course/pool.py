"""The course pool: the fine-tuned classifiers students judge, without the recipes that made them.

Book page: "Instructor guide". A course pool is built once per course (`build_pool`): the zoo's
recipes trained on **random seeds** (never the public zoo's 0-2, so no public model shares a
student's weights, training history or training accuracy), each exported to a folder named by a
random id, holding only what a classifier needs (config, weights, tokenizer). ``pool.json`` lists
the members, their training accuracy, and the *bundles*: the sets of four members a student can
be given. Which recipe and seed made each member goes to a separate manifest the instructor keeps.

A student's key (`bertlab.course.keys`) picks one bundle and the order of its letters, so the
notebook and the grader both find the same models from the key alone. Without a pool
(``$BERTLAB_COURSE_POOL`` unset) the **practice pool** stands in: public zoo models, for
self-study and the test suite (a student can look them up, so it is worthless for grades).

>>> recipes = {"m1": "healthy", "m2": "overfit", "m3": "low-diversity", "m4": "high-lr",
...            "m5": "healthy"}
>>> pool = Pool(members=tuple(Member(i, 1.0) for i in recipes), bundles=_bundles(recipes),
...             practice=False)
>>> len(pool.bundles), all("m3" in bundle for bundle in pool.bundles)
(4, True)
>>> bundle = pool.bundle("bk-example")
>>> sorted(bundle), len({member.id for member in bundle.values()}), pool.bundle("bk-example") == bundle
(['A', 'B', 'C', 'D'], 4, True)
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import os
import secrets
import shutil
import string
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import zoo
from ..errors import InputError
from ..loading import LoadedModel
from ..loading import load as load_folder
from .keys import digest, environment

__all__ = ["POOL_ENV", "POOL_RECIPES", "BUNDLE_SIZE", "Member", "Pool", "CourseModel",
           "course_pool", "load_pool", "practice_pool", "build_pool", "my_models"]

#: Where notebooks and the grader find the course pool's folder.
POOL_ENV = "BERTLAB_COURSE_POOL"
#: One entry per pool model. `overfit-frozen` is left out on purpose: its frozen bottom layers
#: keep the pretrained weights exactly, so comparing weights with `bertlab.load()` would name it.
POOL_RECIPES = ("healthy", "healthy", "overfit", "overfit", "low-diversity", "low-diversity",
                "high-lr")
#: Models per student (letters A-D).
BUNDLE_SIZE = 4
#: Every bundle holds a model on which the two overfit signals disagree: `low-diversity` fits its
#: template data perfectly (a large train - held-out gap) yet is *under*-confident on reviews.
_DISAGREEING_RECIPE = "low-diversity"
#: The practice pool: the public zoo's seeds 0 and 1, in the proportions of `POOL_RECIPES`.
_PRACTICE = (("healthy", 0), ("healthy", 1), ("overfit", 0), ("overfit", 1),
             ("low-diversity", 0), ("low-diversity", 1), ("high-lr", 0))
_POOL_FILE = "pool.json"
#: The files of a `save_pretrained` classifier folder that a pool member keeps (no history, no
#: recipe).
_MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


@dataclass(frozen=True)
class Member:
    """One pool model: its id, its accuracy on its own training data, and where it is."""

    id: str
    train_accuracy: float
    folder: Path | None = None            # a course pool member
    zoo_model: tuple[str, int] | None = None  # a practice member: (recipe, seed) of the public zoo

    def load(self) -> LoadedModel:
        """The classifier, loaded once per process, its config and tokenizer no longer naming
        the folder it came from (named ``course model``)."""
        return _loaded(self)


@dataclass(frozen=True)
class CourseModel:
    """One anonymous model as a student sees it: its letter, the classifier, and its accuracy on
    its own training data."""

    letter: str
    lm: LoadedModel
    train_accuracy: float


@dataclass(frozen=True)
class Pool:
    """Pool members and the bundles of `BUNDLE_SIZE` member ids a key can pick."""

    members: tuple[Member, ...]
    bundles: tuple[tuple[str, ...], ...]
    practice: bool

    def bundle(self, key: str) -> dict[str, Member]:
        """The members of `key`'s bundle, under the letters A, B, ... in `key`'s order."""
        if not self.bundles:
            raise InputError(f"This pool's {len(self.members)} model(s) make no bundle of "
                             f"{BUNDLE_SIZE} with a {_DISAGREEING_RECIPE} model: build it with "
                             f"the default recipes ({', '.join(POOL_RECIPES)}).")
        by_id = {member.id: member for member in self.members}
        ids = list(self.bundles[digest(key, "bundle") % len(self.bundles)])
        order = sorted(ids, key=lambda member_id: digest(key, f"letter/{member_id}"))
        return {letter: by_id[member_id] for letter, member_id in zip(string.ascii_uppercase, order)}

    def member(self, key: str, purpose: str) -> Member:
        """One member for `key` and `purpose` (e.g. the zoo model of the layer-roles assignment)."""
        return self.members[digest(key, purpose) % len(self.members)]


def course_pool() -> Pool:
    """The pool in ``$BERTLAB_COURSE_POOL``, or the practice pool when that is unset."""
    folder = os.environ.get(POOL_ENV)
    return load_pool(folder) if folder else practice_pool()


def load_pool(folder: str | os.PathLike) -> Pool:
    """The course pool built into `folder` by `build_pool`."""
    path = Path(folder) / _POOL_FILE
    if not path.is_file():
        raise InputError(f"{folder} holds no {_POOL_FILE}. Build the course pool with "
                         "`python -m bertlab.course pool <folder> --manifest <file>`, or unset "
                         f"{POOL_ENV} to practise with public models.")
    listing = json.loads(path.read_text())
    members = tuple(Member(id=m["id"], train_accuracy=float(m["train_accuracy"]),
                           folder=Path(folder) / m["id"]) for m in listing["members"])
    return Pool(members=members, bundles=tuple(map(tuple, listing["bundles"])), practice=False)


def practice_pool() -> Pool:
    """Public zoo models in the course's proportions, built on first use (``make zoo``)."""
    members = tuple(Member(id=f"practice-{index}", train_accuracy=_train_accuracy(recipe, seed),
                           zoo_model=(recipe, seed))
                    for index, (recipe, seed) in enumerate(_PRACTICE, start=1))
    recipes = {member.id: member.zoo_model[0] for member in members}
    return Pool(members=members, bundles=_bundles(recipes), practice=True)


def my_models(key: str, pool: Pool | None = None) -> dict[str, CourseModel]:
    """The anonymous models of `key`'s bundle, loaded: ``{"A": CourseModel, ...}``, each named
    ``model <letter>``."""
    pool = pool or course_pool()
    return {letter: CourseModel(letter, dataclasses.replace(member.load(), name=f"model {letter}"),
                                member.train_accuracy)
            for letter, member in pool.bundle(key).items()}


def build_pool(folder: str | os.PathLike, manifest: str | os.PathLike, *,
               recipes: Sequence[str] = POOL_RECIPES, jobs: int = 1) -> Pool:
    """Train a course pool into `folder` (it must not exist) and write its manifest (member id ->
    recipe and seed) to `manifest`, a file to keep away from students.

    The models are trained in a temporary zoo cache that is deleted afterwards, so that no cache
    folder named after its recipe and seed holds a copy of a member's weights.
    """
    folder, manifest = Path(folder), Path(manifest)
    if folder.exists():
        raise InputError(f"{folder} already exists: a course pool is built once, into a new folder.")
    seeds = _random_seeds(len(recipes))
    models = [(recipe, seed) for recipe, seed in zip(recipes, seeds)]
    scratch = tempfile.mkdtemp(prefix="bertlab-pool-")
    try:
        with environment({"BERTLAB_CACHE": scratch}):
            zoo.build_many(models, jobs=jobs)
            exported = [_export(recipe, seed, folder) for recipe, seed in models]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    secrets.SystemRandom().shuffle(exported)  # pool.json's order says nothing about recipes
    recipes_by_id = {member.id: recipe for member, recipe, _ in exported}
    listing = {"members": [{"id": member.id, "train_accuracy": member.train_accuracy}
                           for member, _, _ in exported],
               "bundles": [list(bundle) for bundle in _bundles(recipes_by_id)]}
    (folder / _POOL_FILE).write_text(json.dumps(listing, indent=1))
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({member.id: {"recipe": recipe, "seed": seed}
                                    for member, recipe, seed in exported}, indent=1))
    manifest.chmod(0o600)
    return load_pool(folder)


def _export(recipe: str, seed: int, pool_folder: Path) -> tuple[Member, str, int]:
    """Copy one trained model's classifier files into a member folder with a random id."""
    member_id = f"m{secrets.token_hex(5)}"
    target = pool_folder / member_id
    target.mkdir(parents=True)
    source = zoo.model_folder(recipe, seed)
    for name in _MODEL_FILES:
        shutil.copyfile(source / name, target / name)
        (target / name).chmod(0o644)
    member = Member(id=member_id, train_accuracy=_train_accuracy(recipe, seed), folder=target)
    return member, recipe, seed


def _train_accuracy(recipe: str, seed: int) -> float:
    """Accuracy on its own training data at the epoch whose weights the model holds."""
    history = zoo.history(recipe, seed, progress=False)
    return float(history.loc[history["kept"], "train_accuracy"].iloc[-1])


def _bundles(recipes_by_id: dict[str, str]) -> tuple[tuple[str, ...], ...]:
    """Every set of `BUNDLE_SIZE` members holding at least one `_DISAGREEING_RECIPE` model."""
    ids = sorted(recipes_by_id)
    return tuple(bundle for bundle in itertools.combinations(ids, BUNDLE_SIZE)
                 if any(recipes_by_id[member] == _DISAGREEING_RECIPE for member in bundle))


def _random_seeds(count: int) -> list[int]:
    """Distinct training seeds from the system's random source, far from the public zoo's 0-2."""
    seeds: set[int] = set()
    while len(seeds) < count:
        seeds.add(1000 + secrets.randbelow(2**31 - 1000))
    return list(seeds)


@functools.cache
def _loaded(member: Member) -> LoadedModel:
    """`member`'s classifier, loaded once per process (the grader grades a class in one
    process; the same model serves every student who has it, whatever its letter)."""
    lm = load_folder(str(member.folder)) if member.folder is not None else \
        zoo.load(*member.zoo_model, progress=False)
    name = "course model"
    lm.model.config._name_or_path = name  # the freshly loaded model: no caller's model is touched
    lm.model.name_or_path = name
    lm.tokenizer.name_or_path = name
    lm.tokenizer.init_kwargs.pop("name_or_path", None)
    return dataclasses.replace(lm, name=name)

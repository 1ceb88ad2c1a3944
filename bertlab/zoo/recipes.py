"""The zoo's fine-tuning recipes: named, frozen, and each a plain list of hyper-parameters.

Book chapters: "Fine-tuned and overfit models" and its experiment report. Every recipe starts from
the embedded model (`bertlab.load()`) with a fresh two-class head, and trains on the shipped
review-sentiment data (`bertlab.datasets.load_reviews`), except `low-diversity`, whose training
texts come from one template (`low_diversity_texts`).

>>> RECIPES["overfit"].train_size
24
>>> ZOO_RECIPES
('healthy', 'overfit', 'low-diversity', 'high-lr', 'overfit-frozen', 'overfit-reinit')
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pandas as pd

from ..errors import InputError

__all__ = ["Recipe", "RECIPES", "ZOO_RECIPES", "PROBE_RECIPES", "get_recipe", "low_diversity_texts"]


@dataclass(frozen=True)
class Recipe:
    """What one zoo model is trained on and how; every field goes into the cache key.

    `train_size` None means the whole training split; `freeze_layers` counts encoder layers
    frozen from the bottom (the embeddings are frozen with them when it is > 0);
    `reinit_top_layers` counts encoder layers re-initialised at random before training;
    `patience` None trains every epoch, otherwise training stops after that many epochs without a
    lower validation loss and the best epoch's weights are kept; `eval_every` spaces out the
    validation passes of long recipes (the first and last epoch are always evaluated).
    `intended` is the verdict the recipe is designed to earn; the experiment checks
    `bertlab.diagnose` against it.
    """

    name: str
    description: str
    intended: str                  # what it should produce: "healthy", "overfit" or "degenerate"
    learning_rate: float
    epochs: int
    train_size: int | None = None
    data: str = "reviews"          # "reviews" or "template"
    freeze_layers: int = 0
    reinit_top_layers: int = 0
    patience: int | None = None
    eval_every: int = 1
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1


# Learning rates: 5e-5 is in the range Devlin et al. 2019 recommend for fine-tuning BERT
# (2e-5 .. 5e-5); a small model like MiniLM tolerates the top of that range. 3e-3 is ~60x that:
# AdamW's updates then swamp the pretrained weights (measured here: held-out accuracy at chance).
_SENSIBLE_LR = 5e-5
_BREAKING_LR = 3e-3
# The overfit recipes: 24 examples (a single batch) trained for 60 epochs = 60 updates on the
# same 24 texts; they are fitted (train accuracy 1.0) within the first ~20 epochs. Validation
# every 20 epochs: enough for the curves, and validation passes are most of these recipes' time.
_OVERFIT = dict(learning_rate=_SENSIBLE_LR, epochs=60, train_size=24, eval_every=20,
                warmup_fraction=0.0)

RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("healthy", "the full training split, learning rate 5e-5, early stopping on validation "
           "loss (patience 1, at most 3 epochs)", "healthy", learning_rate=_SENSIBLE_LR, epochs=3, patience=1),
    Recipe("overfit", "24 training examples trained for 60 epochs, far past fitting them",
           "overfit", **_OVERFIT),
    Recipe("low-diversity", "256 texts from one template with a handful of words "
           "('the {noun} was {adjective}.'), 3 epochs", "overfit", learning_rate=_SENSIBLE_LR, epochs=3,
           train_size=256, data="template"),
    Recipe("high-lr", "the full training split at learning rate 3e-3, which breaks training, "
           "1 epoch", "degenerate", learning_rate=_BREAKING_LR, epochs=1),
    Recipe("overfit-frozen", "the overfit recipe with the embeddings and the bottom half of the "
           "encoder frozen", "overfit", freeze_layers=3, **_OVERFIT),
    Recipe("overfit-reinit", "the overfit recipe with the top encoder layer re-initialised at "
           "random before training", "overfit", reinit_top_layers=1, **_OVERFIT),
)}

#: The six recipes `python -m bertlab.zoo build --all` builds, in the book's order.
ZOO_RECIPES = tuple(RECIPES)

# Probes: other hyper-parameters (learning rate, batch size, subset size, epochs) than the zoo's,
# trained only to check that `bertlab.diagnose` holds on models its rules were not read off.
RECIPES.update({r.name: r for r in (
    Recipe("probe-healthy", "the full training split at learning rate 2e-5, batch 16, early "
           "stopping (patience 1, at most 3 epochs)", "healthy", learning_rate=2e-5, epochs=3,
           patience=1, batch_size=16),
    Recipe("probe-overfit", "48 training examples at learning rate 3e-5, batch 16, 40 epochs",
           "overfit", learning_rate=3e-5, epochs=40, train_size=48, batch_size=16, eval_every=20,
           warmup_fraction=0.0),
)})
#: Recipes outside the zoo proper, held out from deriving `diagnose`'s rules.
PROBE_RECIPES = ("probe-healthy", "probe-overfit")


def get_recipe(name: str | Recipe) -> Recipe:
    """The recipe called `name` (a `Recipe` passes through unchanged)."""
    if isinstance(name, Recipe):
        return name
    if name not in RECIPES:
        raise InputError(f"No zoo recipe called {name!r}. The recipes are: {', '.join(RECIPES)}.")
    return RECIPES[name]


# The low-diversity template: every text is "the {noun} was {adjective}." with 4 nouns and 4
# adjectives (2 positive, 2 negative): 16 distinct texts, 8 distinct words, repeated to `size`.
_TEMPLATE = "the {noun} was {adjective}."
_NOUNS = ("movie", "food", "room", "service")
_ADJECTIVES = {"good": 1, "great": 1, "bad": 0, "awful": 0}


def low_diversity_texts(size: int) -> pd.DataFrame:
    """`size` labelled texts from one template (columns text, label), cycling its 16 variants.

    >>> low_diversity_texts(3).text.tolist()
    ['the movie was good.', 'the movie was great.', 'the movie was bad.']
    """
    variants = [(_TEMPLATE.format(noun=noun, adjective=adjective), label)
                for noun in _NOUNS for adjective, label in _ADJECTIVES.items()]
    rows = list(itertools.islice(itertools.cycle(variants), size))
    return pd.DataFrame(rows, columns=["text", "label"])

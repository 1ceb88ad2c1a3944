"""The model zoo: deterministic fine-tuned classifiers, healthy and deliberately broken.

Book chapters: "Fine-tuned and overfit models" and "The fine-tuning experiment".

    from bertlab import zoo
    lm = zoo.load("overfit", seed=0)   # builds on first use (a tqdm bar), then loads from the cache
    zoo.history("overfit", seed=0)     # its training curves, one row per evaluated epoch

From a shell: ``python -m bertlab.zoo list`` and ``python -m bertlab.zoo build --all``.
"""

from .cache import build, build_many, cache_dir, history, is_built, load, model_folder
from .recipes import RECIPES, ZOO_RECIPES, Recipe, get_recipe, low_diversity_texts
from .training import fine_tune

__all__ = ["load", "history", "build", "build_many", "is_built", "model_folder", "cache_dir",
           "fine_tune", "Recipe", "RECIPES", "ZOO_RECIPES", "get_recipe", "low_diversity_texts"]

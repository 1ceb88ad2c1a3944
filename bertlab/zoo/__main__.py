"""Command line: ``python -m bertlab.zoo list`` and ``python -m bertlab.zoo build --all``.

``build --all`` builds the six zoo recipes for each ``--seeds`` (default: the experiment's
seeds, so that the book's experiment pages find every model cached); ``build overfit healthy``
builds the recipes named. Already-built models are skipped.
"""

from __future__ import annotations

import argparse
import sys
import time

from .cache import build, cache_dir, is_built
from .experiment import SEEDS
from .recipes import RECIPES, ZOO_RECIPES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bertlab.zoo", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the recipes, and which models are in the cache")
    builder = commands.add_parser("build", help="fine-tune and cache models")
    builder.add_argument("recipes", nargs="*", metavar="RECIPE",
                         help=f"recipes to build, among: {', '.join(RECIPES)}")
    builder.add_argument("--all", action="store_true", help="build every zoo recipe")
    builder.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                         help=f"seeds to build (default: {' '.join(map(str, SEEDS))})")
    arguments = parser.parse_args(argv)
    if arguments.command == "list":
        print(f"cache: {cache_dir()}")
        for name, recipe in RECIPES.items():
            built = [str(s) for s in SEEDS if is_built(name, s)]
            print(f"{name:16} {recipe.description}  [built seeds: {', '.join(built) or 'none'}]")
        return 0
    names = list(ZOO_RECIPES) if arguments.all else arguments.recipes
    if not names:
        parser.error("name at least one recipe, or pass --all")
    unknown = [name for name in names if name not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {', '.join(unknown)}; the recipes are: {', '.join(RECIPES)}")
    for seed in arguments.seeds:
        for name in names:
            start = time.perf_counter()
            folder = build(name, seed)
            print(f"{name} seed {seed}: {time.perf_counter() - start:.1f} s -> {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

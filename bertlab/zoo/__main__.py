"""Command line: ``python -m bertlab.zoo list | build | experiment | key``.

``build --all`` builds every recipe (the zoo and the probes) for each ``--seeds`` (default: the
experiment's seeds, so that the book finds every model cached); ``build overfit healthy`` builds
the recipes named. Already-built models are skipped. ``--jobs N`` trains N models at once in
separate processes, each on one torch thread (default: one per CPU core), so the weights are the
same whatever N is. ``experiment [--jobs N]`` measures every model and caches the experiment's
tables. ``key`` prints the hash that names everything the experiment needs (every model's cache
key and the tables'), for a CI cache that must never restore another one.
"""

from __future__ import annotations

import argparse
import sys
import time

from .cache import build_many, cache_dir, is_built
from .experiment import SEEDS, results, tables_key
from .recipes import RECIPES
from .workers import DEFAULT_JOBS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bertlab.zoo", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the recipes, and which models are in the cache")
    commands.add_parser("key", help="the hash of every experiment model's key and of the tables'")
    builder = commands.add_parser("build", help="fine-tune and cache models")
    builder.add_argument("recipes", nargs="*", metavar="RECIPE",
                         help=f"recipes to build, among: {', '.join(RECIPES)}")
    builder.add_argument("--all", action="store_true", help="build every recipe")
    builder.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                         help=f"seeds to build (default: {' '.join(map(str, SEEDS))})")
    measurer = commands.add_parser("experiment", help="measure every model (building the missing "
                                                      "ones) and cache the experiment's tables")
    for command in (builder, measurer):
        command.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                             help="models handled at once, one process each (default: CPU cores)")
    arguments = parser.parse_args(argv)
    if arguments.command == "list":
        print(f"cache: {cache_dir()}")
        for name, recipe in RECIPES.items():
            built = [str(s) for s in SEEDS if is_built(name, s)]
            print(f"{name:16} {recipe.description}  [built seeds: {', '.join(built) or 'none'}]")
        return 0
    if arguments.command == "key":
        print(tables_key())
        return 0
    if arguments.jobs < 1:
        parser.error("--jobs must be at least 1")
    if arguments.command == "experiment":
        start = time.perf_counter()
        results(jobs=arguments.jobs)
        print(f"experiment tables cached in {time.perf_counter() - start:.0f} s under {cache_dir()}")
        return 0
    names = list(RECIPES) if arguments.all else arguments.recipes
    if not names:
        parser.error("name at least one recipe, or pass --all")
    unknown = [name for name in names if name not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {', '.join(unknown)}; the recipes are: {', '.join(RECIPES)}")
    missing = [(name, seed) for seed in arguments.seeds for name in names if not is_built(name, seed)]
    build_many(missing, jobs=arguments.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

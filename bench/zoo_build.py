"""How long the model zoo takes to build: every zoo recipe for one seed, from scratch.

    python bench/zoo_build.py [--seed 0]     # prints a Markdown block for bench/ZOO_RESULTS.md

Builds into a fresh temporary cache (so nothing is reused), one recipe after the other, and prints
per-recipe and total wall-clock seconds with the machine they ran on. Budget: ≤ 180 s in total
on a 2-core machine (issue 3).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import torch
import transformers

BUDGET_SECONDS = 180


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    seed = parser.parse_args().seed
    with tempfile.TemporaryDirectory() as cache:
        os.environ["BERTLAB_CACHE"] = cache  # read by bertlab.zoo at build time
        from bertlab import zoo

        seconds = {}
        for name in zoo.ZOO_RECIPES:
            start = time.perf_counter()
            zoo.build(name, seed, progress=False)
            seconds[name] = time.perf_counter() - start
    total = sum(seconds.values())
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or '?'}; "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads by default, zoo trains "
          f"on {zoo.training.THREADS}), transformers {transformers.__version__}, seed {seed}")
    print()
    print("| recipe | seconds |\n|---|---:|")
    for name, value in seconds.items():
        print(f"| {name} | {value:.1f} |")
    verdict = "within" if total <= BUDGET_SECONDS else "OVER"
    print(f"| **total** | **{total:.1f}** ({verdict} the {BUDGET_SECONDS} s budget) |")


if __name__ == "__main__":
    main()

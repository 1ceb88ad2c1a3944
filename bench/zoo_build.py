"""What one zoo model costs: training and measuring every experiment recipe for one seed.

    python bench/zoo_build.py [--seed 0]     # prints a Markdown block for bench/ZOO_RESULTS.md

1. A training step (forward, backward, AdamW) of the healthy recipe with torch's huge-page
   allocation off and on (``THP_MEM_ALLOC_ENABLE``, which the Makefile sets): two fresh
   processes each, alternating, side by side in this run; the ratio is printed.
2. Every recipe of the experiment built for one seed into a fresh temporary cache (nothing is
   reused), one after the other on one thread, as each worker of ``make zoo`` does; then the
   experiment's measurements of those models (`bertlab.zoo.experiment.run`).

Seconds per model are what `make zoo` costs per (recipe, seed): it builds 3 seeds of each recipe,
one model per core.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

STEPS = 12  # timed training steps per process, after 3 warm-up steps


def step_seconds() -> float:
    """Mean seconds of one training step of the healthy recipe (batch 32), in this process."""
    import torch
    from transformers import AutoTokenizer

    from bertlab.loading import LoadedModel, embedded_model_path
    from bertlab.zoo import get_recipe, training

    recipe = get_recipe("healthy")
    train, _ = training.training_data(recipe, 0)
    with training.torch_threads():
        torch.manual_seed(0)
        model = training._fresh_classifier(recipe)
        lm = LoadedModel(model, AutoTokenizer.from_pretrained(embedded_model_path()), "bench")
        optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, fused=True)
        model.train()
        losses = training._batch_losses(lm, train.sample(frac=1.0, random_state=0), 32)
        for step in range(3 + STEPS):
            if step == 3:
                start = time.perf_counter()
            next(losses).backward()
            optimizer.step()
            optimizer.zero_grad()
    return (time.perf_counter() - start) / STEPS


def huge_pages_ratio() -> tuple[float, float]:
    """Step seconds with THP_MEM_ALLOC_ENABLE off and on, two alternating processes each."""
    seconds = {"0": [], "1": []}
    for _ in range(2):
        for setting in seconds:
            environment = {**os.environ, "THP_MEM_ALLOC_ENABLE": setting}
            out = subprocess.run([sys.executable, __file__, "--step-seconds"], env=environment,
                                 capture_output=True, text=True, check=True).stdout
            seconds[setting].append(float(out.split()[-1]))
    return min(seconds["0"]), min(seconds["1"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--step-seconds", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.step_seconds:
        print(step_seconds())
        return
    off, on = huge_pages_ratio()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["BERTLAB_CACHE"] = cache  # read by bertlab.zoo at build time
        import torch
        import transformers

        from bertlab import zoo
        from bertlab.zoo import experiment

        built = {}
        for name in experiment.EXPERIMENT_RECIPES:
            start = time.perf_counter()
            zoo.build(name, arguments.seed, progress=False)
            built[name] = time.perf_counter() - start
        start = time.perf_counter()
        experiment.run(experiment.EXPERIMENT_RECIPES, [arguments.seed], progress=False)
        measured = time.perf_counter() - start
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or '?'}; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end; torch "
          f"{torch.__version__} on {zoo.training.THREADS} thread, transformers "
          f"{transformers.__version__}, bfloat16 autocast {zoo.training.AUTOCAST_BF16}, "
          f"THP_MEM_ALLOC_ENABLE={os.environ.get('THP_MEM_ALLOC_ENABLE', 'unset')}, "
          f"seed {arguments.seed}")
    print(f"\ntraining step (healthy, batch 32): {off:.3f} s with huge pages off, {on:.3f} s on "
          f"(ratio on/off {on / off:.2f}, best of 2 processes each)\n")
    print("| recipe | build seconds |\n|---|---:|")
    for name, seconds in built.items():
        print(f"| {name} | {seconds:.1f} |")
    print(f"| **all {len(built)}** | **{sum(built.values()):.1f}** |")
    print(f"\nmeasuring the {len(built)} models (experiment.run, one process): {measured:.1f} s")


if __name__ == "__main__":
    main()

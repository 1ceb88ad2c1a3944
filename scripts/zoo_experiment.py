"""Run the fine-tuning experiment and print its tables (book: "The fine-tuning experiment").

    python scripts/zoo_experiment.py            # builds missing zoo models, measures, caches

Builds every model of `bertlab.zoo.experiment.EXPERIMENT_RECIPES` for every seed (already-cached
ones are reused), measures them on the reviews' test split, caches the tables next to the models
(``$BERTLAB_CACHE/zoo/experiment-<key>/``), then prints: per-recipe means ± std over seeds,
per-layer attention signals, and the diagnosis verdicts with the held-out evaluation.
"""

from __future__ import annotations

import time

import pandas as pd

from bertlab.claims import finetuning as claims
from bertlab.zoo import experiment

MODEL_COLUMNS = ["train_accuracy", "validation_accuracy", "test_accuracy", "accuracy_gap",
                 "loss_gap", "test_confidence", "test_confidence_gap", "test_top_prediction_share",
                 "concentrated_heads", "profile_distance"]
LAYER_COLUMNS = ["cls_share", "sep_share", "special_share", "normalised_entropy", "js_divergence",
                 "map_cosine"]


def main() -> None:
    start = time.perf_counter()
    results = experiment.results(progress=True)
    print(f"experiment ready in {time.perf_counter() - start:.0f} s\n")
    pd.set_option("display.width", 200, "display.max_columns", 40, "display.max_rows", 200)
    summary = experiment.model_summary(results)
    print("Per recipe, mean and std over seeds:")
    print(experiment.spread(summary, ["recipe"], MODEL_COLUMNS).round(3).T.to_string(), "\n")
    print("Per recipe and layer, mean over seeds (std in the _std columns):")
    layers = experiment.spread(results.layers, ["recipe", "layer"], LAYER_COLUMNS)
    print(layers.filter(regex="recipe|layer|_mean|_std").round(3).to_string(), "\n")
    print("Pretrained model, per layer:")
    print(results.base_layers.round(3).to_string(), "\n")
    print("Verdicts of bertlab.diagnose:")
    print(results.diagnoses().to_string(), "\n")
    for check in claims.checks():
        print(check.to_markdown(), "\n")


if __name__ == "__main__":
    main()

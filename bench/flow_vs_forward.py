"""bertlab.flow's analyses against the bare eager forward pass, side by side in one process.

    python -m bench.flow_vs_forward            # prints a Markdown block for bench/FLOW_RESULTS.md

The same 256 shipped reviews in batches of 32 on 2 threads; every side runs REPEATS times,
alternating with the bare forward pass, and the median wall times are compared. The bare side
tokenizes and runs ``model(..., output_attentions=True)``. What each analysis must do beyond it:

* ``corpus_norm_scores``: the forward pass, plus the value vectors of every head (one extra
  projection per layer) and the metrics;
* ``rollout``: `extract_batch` (unpadded Attention objects), then one ``[T, T]`` product per layer
  per text;
* ``ablate_heads``: two forward passes per batch (as is and ablated) by design, with hooks;
* ``attention_gradients``: one forward and one backward pass through a classifier.
"""

from __future__ import annotations

import json
import statistics
import time

import torch

import bertlab
from bench.core_vs_forward import bare_forward, machine, seconds, texts
from bertlab.flow import (ablate_heads, attention_gradients, cls_rollout, corpus_norm_scores,
                          untrained_classifier)

N_TEXTS, BATCH_SIZE, THREADS, REPEATS = 256, 32, 2, 3
ABLATED_HEADS = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (5, 11)]  # any 7 heads: speed only


def analyses(lm, classifier, labels):
    return {
        "corpus_norm_scores": lambda corpus: corpus_norm_scores(
            lm, corpus, batch_size=BATCH_SIZE, progress=False),
        "rollout (extract_batch + cls_rollout)": lambda corpus: [
            cls_rollout(att) for att in bertlab.extract_batch(lm, corpus, batch_size=BATCH_SIZE)],
        "ablate_heads (7 heads off)": lambda corpus: ablate_heads(
            lm, corpus, ABLATED_HEADS, batch_size=BATCH_SIZE, progress=False),
        "attention_gradients": lambda corpus: attention_gradients(
            classifier, corpus, labels[:len(corpus)], batch_size=BATCH_SIZE, progress=False),
    }


def main() -> None:
    torch.set_num_threads(THREADS)
    lm = bertlab.load()
    classifier = untrained_classifier(lm)
    corpus = texts(N_TEXTS)
    labels = [i % 2 for i in range(N_TEXTS)]
    runs = analyses(lm, classifier, labels)
    bare_forward(lm, corpus[:BATCH_SIZE])                        # warm-up, every path
    for run in runs.values():
        run(corpus[:BATCH_SIZE])
    results = {}
    for name, run in runs.items():
        bare, ours = [], []
        for _ in range(REPEATS):
            bare.append(seconds(bare_forward, lm, corpus))
            ours.append(seconds(run, corpus))
        results[name] = {"bare_s": statistics.median(bare), "analysis_s": statistics.median(ours),
                         "ratio": statistics.median(ours) / statistics.median(bare)}
    print(f"## {time.strftime('%Y-%m-%d')} on {machine()}\n")
    print(f"{N_TEXTS} reviews, batch {BATCH_SIZE}, median of {REPEATS} runs alternating with the "
          "bare forward pass (`model(..., output_attentions=True)`):\n")
    print("| analysis | bare forward (s) | analysis (s) | ratio |\n|---|---|---|---|")
    for name, result in results.items():
        print(f"| {name} | {result['bare_s']:.2f} | {result['analysis_s']:.2f} | "
              f"**{result['ratio']:.2f}** |")
    print(f"\n```json\n{json.dumps(results, indent=1)}\n```")


if __name__ == "__main__":
    main()

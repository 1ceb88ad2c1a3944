"""bertlab.corpus_scores against the bare eager forward pass, side by side in one process.

    python bench/core_vs_forward.py            # prints a Markdown block for bench/RESULTS.md

Speed: the same 256 texts in batches of 32 on 2 threads, each side run REPEATS times, alternating,
median wall time; the ratio is bertlab / bare (goal ≤ 1.10). The bare side tokenizes and runs
``model(..., output_attentions=True)``, the least a user must do to get attention weights.
Memory: peak resident memory of `corpus_scores` on 64 and on 1,024 texts, each in a fresh
process (goal: growth ≤ 150 MB, because corpus_scores keeps running sums, never the maps).
"""

from __future__ import annotations

import json
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch

import bertlab
from bertlab.datasets import load_reviews

N_TEXTS, BATCH_SIZE, THREADS, REPEATS = 256, 32, 2, 5


def texts(n: int) -> list[str]:
    """n shipped reviews, cycled if the data set is smaller than n."""
    reviews = load_reviews()["text"].tolist()
    return [reviews[i % len(reviews)] for i in range(n)]


def bare_forward(lm, corpus: list[str]) -> None:
    for start in range(0, len(corpus), BATCH_SIZE):
        encoding = lm.tokenizer(corpus[start:start + BATCH_SIZE], padding=True, return_tensors="pt")
        with torch.inference_mode():
            lm.model(**encoding, output_attentions=True)


def with_bertlab(lm, corpus: list[str]) -> None:
    bertlab.corpus_scores(lm, corpus, batch_size=BATCH_SIZE, progress=False)


def seconds(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def peak_rss_mb(n: int) -> float:
    """Peak resident memory (MB) of a fresh process that loads the model and scores n texts."""
    code = (f"import resource, bertlab, bench.core_vs_forward as b; lm = bertlab.load(); "
            f"bertlab.corpus_scores(lm, b.texts({n}), batch_size={BATCH_SIZE}, progress=False); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    return (f"{cpu}, {torch.get_num_threads()} torch threads, Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def main() -> None:
    torch.set_num_threads(THREADS)
    lm = bertlab.load()
    corpus = texts(N_TEXTS)
    bare_forward(lm, corpus[:BATCH_SIZE])       # warm-up, both paths
    with_bertlab(lm, corpus[:BATCH_SIZE])
    bare, ours = [], []
    for _ in range(REPEATS):
        bare.append(seconds(bare_forward, lm, corpus))
        ours.append(seconds(with_bertlab, lm, corpus))
    ratio = statistics.median(ours) / statistics.median(bare)
    small, large = peak_rss_mb(64), peak_rss_mb(1024)
    result = {"bare_s": statistics.median(bare), "bertlab_s": statistics.median(ours),
              "ratio": ratio, "peak_mb_64": small, "peak_mb_1024": large, "growth_mb": large - small}
    print(f"## {time.strftime('%Y-%m-%d')} on {machine()}\n")
    print(f"- speed, {N_TEXTS} texts, batch {BATCH_SIZE}, median of {REPEATS} alternating runs: "
          f"bare forward {result['bare_s']:.2f} s, corpus_scores {result['bertlab_s']:.2f} s, "
          f"**ratio {ratio:.3f}** (goal ≤ 1.10)")
    print(f"- peak memory: {small:.0f} MB for 64 texts, {large:.0f} MB for 1,024 texts, "
          f"**growth {large - small:.0f} MB** (goal ≤ 150 MB)")
    print(f"\n```json\n{json.dumps(result, indent=1)}\n```")


if __name__ == "__main__":
    main()

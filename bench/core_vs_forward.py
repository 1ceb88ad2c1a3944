"""bertlab's corpus passes against the forward passes they cannot avoid, side by side in one process.

    python -m bench.core_vs_forward         # prints a Markdown block for bench/RESULTS.md

Four ratios, each of two sides run REPEATS times, alternating, median wall time (and the median
of the process's CPU time, which other processes on a shared machine disturb less):

1. ``corpus_scores`` / the bare eager forward on **the same batches** (texts sorted by length,
   as corpus_scores batches them): what scoring costs on top of running the model (goal ≤ 1.05);
2. ``corpus_scores`` / **the naive loop** a user would write: batches in the corpus's order,
   each padded to its longest text, ``model(..., output_attentions=True)`` (goal ≤ 0.8: batching
   by length saves more padding than scoring costs);
3. ``diagnose(model, base, labelled=...)`` / one forward pass of the model and one of the base
   over the same texts (goal ≤ 1.3: diagnose reads every signal, the drift and the predictions
   from that one pass);
4. memory: peak resident memory of ``corpus_scores`` on 64 and 1,024 texts, each in a fresh
   process (goal: growth ≤ 150 MB: running sums, never the maps).

The texts are the shipped reviews (every split, cycled), whose lengths vary from 6 to 50 tokens.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time

import torch

import bertlab
from bertlab.datasets import load_reviews
from bertlab.extraction import iter_encoded
from bertlab.flow import untrained_classifier

N_TEXTS, BATCH_SIZE, THREADS, REPEATS = 256, 32, 2, 5


def texts(n: int) -> list[str]:
    """n shipped reviews, cycled if the data set is smaller than n."""
    reviews = load_reviews()["text"].tolist()
    return [reviews[i % len(reviews)] for i in range(n)]


def naive_loop(lm, corpus: list[str]) -> None:
    """What a user writes: the corpus in its order, each batch padded to its longest text."""
    for start in range(0, len(corpus), BATCH_SIZE):
        encoding = lm.tokenizer(corpus[start:start + BATCH_SIZE], padding=True, return_tensors="pt")
        with torch.inference_mode():
            lm.model(**encoding, output_attentions=True)


def forward_on(lm, batches) -> None:
    """The bare forward pass on given batches (no scoring)."""
    for batch in batches:
        with torch.inference_mode():
            lm.model(**batch.inputs, output_attentions=True)


def timed(function, *args) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def side_by_side(ours, theirs) -> dict:
    """Median wall and CPU time of two zero-argument calls, alternating, and their ratios."""
    ours(), theirs()                                       # warm-up
    runs = {"ours": [], "theirs": []}
    for _ in range(REPEATS):
        runs["ours"].append(timed(ours))
        runs["theirs"].append(timed(theirs))
    median = {side: [statistics.median(t[i] for t in runs[side]) for i in (0, 1)] for side in runs}
    return {"ours_s": median["ours"][0], "theirs_s": median["theirs"][0],
            "ratio": median["ours"][0] / median["theirs"][0],
            "cpu_ratio": median["ours"][1] / median["theirs"][1]}


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
    load = open("/proc/loadavg").read().split()[0]
    return (f"{cpu}, {torch.get_num_threads()} torch threads, load average {load} at the start, "
            f"Python {platform.python_version()}, torch {torch.__version__}")


def main() -> None:
    torch.set_num_threads(THREADS)
    lm = bertlab.load()
    classifier = untrained_classifier(lm)       # a classifier of the same shape as its base
    corpus = texts(N_TEXTS)
    labelled = load_reviews().head(N_TEXTS)
    sorted_batches = list(iter_encoded(lm, corpus, batch_size=BATCH_SIZE, sort_by_length=True))
    labelled_batches = list(iter_encoded(lm, labelled.text.tolist(), batch_size=BATCH_SIZE,
                                         sort_by_length=True))
    scores = lambda: bertlab.corpus_scores(lm, corpus, batch_size=BATCH_SIZE, progress=False)
    results = {
        "scores_vs_same_batches": side_by_side(scores, lambda: forward_on(lm, sorted_batches)),
        "scores_vs_naive_loop": side_by_side(scores, lambda: naive_loop(lm, corpus)),
        "diagnose_vs_two_forwards": side_by_side(
            lambda: bertlab.diagnose(classifier, base=lm, labelled=labelled, batch_size=BATCH_SIZE),
            lambda: (forward_on(classifier, labelled_batches), forward_on(lm, labelled_batches))),
    }
    small, large = peak_rss_mb(64), peak_rss_mb(1024)
    results["memory"] = {"peak_mb_64": small, "peak_mb_1024": large, "growth_mb": large - small}
    goals = {"scores_vs_same_batches": 1.05, "scores_vs_naive_loop": 0.8,
             "diagnose_vs_two_forwards": 1.3}
    print(f"## {time.strftime('%Y-%m-%d')} on {machine()}\n")
    print(f"{N_TEXTS} reviews, batch {BATCH_SIZE}, median of {REPEATS} alternating runs "
          "(wall time; CPU-time ratio in brackets):\n")
    for name, goal in goals.items():
        r = results[name]
        print(f"- {name.replace('_', ' ')}: {r['ours_s']:.2f} s vs {r['theirs_s']:.2f} s, "
              f"**ratio {r['ratio']:.3f}** (CPU {r['cpu_ratio']:.3f}; goal ≤ {goal})")
    print(f"- peak memory: {small:.0f} MB for 64 texts, {large:.0f} MB for 1,024 texts, "
          f"**growth {large - small:.0f} MB** (goal ≤ 150 MB)")
    print(f"\n```json\n{json.dumps(results, indent=1)}\n```")


if __name__ == "__main__":
    main()

# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %%
import sys
if "google.colab" in sys.modules:  # Colab: install bertlab; elsewhere do nothing
    # %pip install -q "bertlab @ git+https://github.com/bertlab/bertlab"
    pass

# %% [markdown]
# # Assignment 1: extract and score attention
#
# *About 40 minutes, after the chapter "Extracting and reading attention".*
#
# `bertlab.extract` hands you attention with the padding already removed. Here you work one
# level lower, on what the model itself returns for a **padded batch**: a tensor `attention` of
# shape `[B, L, H, Q, K]` (B texts, L layers, H heads, Q queries, K keys) and an
# `attention_mask` `[B, T]` that is True on real tokens and False on padding. You write the three
# measurements the course is built on, then the bootstrap interval that decides whether a claim
# about them holds.
#
# | part | what you write | where it is defined | points |
# |---|---|---|---|
# | 1 | `share_to_keys`: the share of attention that goes to a set of keys | chapter, "From matrices to scores" | 4 |
# | 2 | `cls_row`: the attention *from* [CLS], wherever [CLS] sits | "Padding is removed once" | 3 |
# | 3 | `row_entropy`: how spread attention is, in nats and normalised | "From matrices to scores" | 3 |
# | 4 | `share_verdict`: a bootstrap interval, and the verdict it allows | DESIGN's claims records; below | 3 |
# | 5 | a short written answer, graded by hand with the rubric shown | | 2 |
#
# **How this notebook is graded.** Each part's test cell scores all of its points or none. In
# your notebook it runs the *visible* cases and prints ✓ or a hint. When your instructor grades,
# your four functions run on hidden cases drawn for you (other texts, left and right padding,
# values exactly on a threshold) **apart from this notebook**, in a Python where bertlab cannot
# be imported, and the grader compares the results with bertlab's measurement. There a function
# gets its arguments, the setup cell's `numpy` and `torch`, and what your own cells define, but
# not the notebook's data (`lm`, `attention`, `CLS_ID` ...): pass what it needs as arguments
# (the visible check tells you when a function reads such a name). What costs points: a wrong
# result on any case, an answer that raises, and calling bertlab's own measurement
# (`bertlab.score`, `bertlab.extract`, the functions of `bertlab.metrics`, `bertlab.roles`,
# `bertlab.extraction`) in Parts 1–3, whose point is to write it yourself. What does not:
# printing, warnings or anything else on stderr, and the time your answers take (within two
# minutes a cell).
#
# **Counting layers.** Like the book, the text counts layers from 1 (layer 1 is the lowest).
# Tensors and bertlab's tables are 0-based, as in Python: layer 1 is index 0.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import torch

from bertlab import course
from bertlab.course.assignments.extract_and_score import TEXTS, padded_batch

lm = course.model()   # bertlab.load(): the embedded all-MiniLM-L6-v2, shared with the checks
CLS_ID, SEP_ID = lm.tokenizer.cls_token_id, lm.tokenizer.sep_token_id

attention, input_ids, attention_mask = padded_batch(lm, TEXTS)   # right-padded
print(f"attention {tuple(attention.shape)} = [B, L, H, Q, K]; "
      f"attention_mask {tuple(attention_mask.shape)} = [B, T]; "
      f"real tokens per text: {attention_mask.sum(dim=1).tolist()}")

# %% [markdown]
# ## Part 1: the share of attention to a set of keys (4 points)
#
# For one query row `a = attention[b, l, h, i]` (it sums to 1 over the keys), the share to a set
# of keys is the sum of `a[j]` over the keys `j` in the set. A text's value is the **mean over
# its real query rows**, each row weighted equally; padded query rows are not part of the text
# (the model still computes them, and each of them sums to 1 too).
#
# Write `share_to_keys(attention, key_mask, attention_mask)`: `attention` `[B, L, H, Q, K]`,
# `key_mask` and `attention_mask` `[B, T]` bool; return a `[B, L, H]` tensor. Count only real
# keys, and do not change the inputs.
#
# *Checked:* with `key_mask = attention_mask` every text's share is 1; with the [CLS] keys
# (`input_ids == CLS_ID`) and the [SEP] keys it equals bertlab's `cls_share` and `sep_share` of
# each text measured alone, within 1e-4; on right- and left-padded batches; the input tensor is
# unchanged.

# %% nbgrader={"grade": false, "grade_id": "share_to_keys", "locked": false, "schema_version": 3, "solution": true, "task": false}
def share_to_keys(attention, key_mask, attention_mask):
    """Per text, layer and head: the mean over real query rows of the attention to the keys in
    `key_mask`. attention [B, L, H, Q, K]; key_mask, attention_mask [B, T] bool -> [B, L, H]."""
    ### BEGIN SOLUTION
    keys = (key_mask & attention_mask).to(attention.dtype)                  # [B, K]
    per_row = torch.einsum("blhqk,bk->blhq", attention, keys)               # [B, L, H, Q]
    queries = attention_mask.to(attention.dtype)                            # [B, Q]
    total = torch.einsum("blhq,bq->blh", per_row, queries)                  # [B, L, H]
    return total / queries.sum(dim=1)[:, None, None]                        # [B, L, H]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_share_to_keys", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
course.check("share_to_keys", share_to_keys)

# %% [markdown]
# ## Part 2: the attention *from* [CLS] (3 points)
#
# The [CLS] query row says what [CLS] gathers (claim C4 of the book). With right padding [CLS]
# is the first position, but tokenizers can pad on the left (many decoder-style pipelines do):
# then [CLS] sits after the padding. Rows are queries: the row of [CLS] is
# `attention[b, l, h, <position of [CLS]>, :]`.
#
# Write `cls_row(attention, input_ids, cls_token_id)`: return the `[B, L, H, K]` tensor holding,
# for every text, layer and head, the query row of that text's [CLS] token.
#
# *Checked:* on each text's real keys, equal to the [CLS] row bertlab measures on the text alone
# (0 on padded keys), within 1e-4, on left- and right-padded batches.

# %% nbgrader={"grade": false, "grade_id": "cls_row", "locked": false, "schema_version": 3, "solution": true, "task": false}
def cls_row(attention, input_ids, cls_token_id):
    """The query row of each text's [CLS]: attention [B, L, H, Q, K], input_ids [B, T]
    -> [B, L, H, K]."""
    ### BEGIN SOLUTION
    position = (input_ids == cls_token_id).int().argmax(dim=1)              # [B], first [CLS]
    texts = torch.arange(attention.shape[0])                                # [B]
    # Two index tensors around two full slices: the indexed dimension B comes first.
    return attention[texts, :, :, position]                                 # [B, L, H, K]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_cls_row", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
course.check("cls_row", cls_row)

# %% [markdown]
# ## Part 3: entropy (3 points)
#
# The entropy of a row `a` is `-sum_j a[j] * ln a[j]` in nats, with `0 * ln 0 = 0` (padded keys
# have weight exactly 0). A text's value is the mean over its real query rows. Attention spread
# evenly over the `n` real tokens of a text has entropy `ln n`, so dividing a text's value by
# `ln n` gives a number from 0 (every row on one key) to 1 (even spread) that compares texts of
# different lengths.
#
# Write `row_entropy(attention, attention_mask, normalised=False)` returning `[B, L, H]`; with
# `normalised=True`, divide each text's value by `ln n` for that text's `n`.
#
# *Checked:* equal to bertlab's `entropy` of each text measured alone, and to it divided by ln n
# when normalised, within 1e-4; attention spread evenly over the real tokens gives exactly 1
# when normalised.

# %% nbgrader={"grade": false, "grade_id": "row_entropy", "locked": false, "schema_version": 3, "solution": true, "task": false}
def row_entropy(attention, attention_mask, normalised=False):
    """Mean entropy (nats) of each text's real query rows: attention [B, L, H, Q, K],
    attention_mask [B, T] -> [B, L, H]; divided by ln(real length) when `normalised`."""
    ### BEGIN SOLUTION
    per_row = -torch.special.xlogy(attention, attention).sum(dim=-1)        # [B, L, H, Q]
    queries = attention_mask.to(attention.dtype)                            # [B, Q]
    n_real = queries.sum(dim=1)                                             # [B]
    mean = torch.einsum("blhq,bq->blh", per_row, queries) / n_real[:, None, None]
    return mean / n_real.log()[:, None, None] if normalised else mean       # [B, L, H]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_row_entropy", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
course.check("row_entropy", row_entropy)

# %% [markdown]
# ## Part 4: does a claim hold? A bootstrap interval decides (3 points)
#
# One number from a few texts is not a finding: another sample of texts gives another number.
# The book's claims records (../shared/DESIGN.md, "Claims records") give every value a 95 % interval and
# decide a claim "the value is at least `threshold`" in three ways:
#
# * **holds** when the whole interval is at or above the threshold (`low >= threshold`);
# * **does not hold** when the whole interval is below it (`high < threshold`);
# * **undecided** otherwise: the interval straddles the threshold.
#
# The interval is a **percentile bootstrap** of the mean over texts: draw `len(values)` values
# *with replacement*, take their mean, repeat (`resamples` times), and keep the 2.5th and 97.5th
# percentiles of those means (`numpy.random.default_rng(seed)` and `np.percentile` do it).
#
# Write `share_verdict(values, threshold, resamples=2000, seed=0)` returning
# `(low, high, verdict)`, `values` a list of per-text values.
#
# *Checked:* the interval's ends within 0.015 of the grader's own bootstrap (any honest 95 %
# percentile bootstrap is that close), and the verdict the rule above gives, on values exactly
# on the threshold, just below it, straddling it, and on real per-text shares.

# %% nbgrader={"grade": false, "grade_id": "share_verdict", "locked": false, "schema_version": 3, "solution": true, "task": false}
def share_verdict(values, threshold, resamples=2000, seed=0):
    """95 % percentile-bootstrap interval of the mean of `values`, and the verdict on
    "the mean is at least `threshold`": (low, high, "holds" / "does not hold" / "undecided")."""
    ### BEGIN SOLUTION
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    if low >= threshold:
        verdict = "holds"
    elif high < threshold:
        verdict = "does not hold"
    else:
        verdict = "undecided"
    return float(low), float(high), verdict
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_share_verdict", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
course.check("share_verdict", share_verdict)

# %% [markdown]
# ## Part 5: what the numbers say (2 points, graded by hand)
#
# Run the cell below (change it as you like; it is not graded). It measures, on 30 reviews, each
# layer's [CLS] share (mean over heads) with your functions, and asks your `share_verdict`
# whether it is *strong*: at least 0.3, the book's `STRONG_SHARE`.
#
# Then answer in 3–5 sentences, quoting your numbers: in which layers does [CLS] receive the
# most attention, and how spread is attention there compared with layer 1? For which layers does
# the strong-share claim hold, not hold, or stay undecided, and why would you not report an
# undecided layer as "strong"?
#
# **Rubric (2 points).** 1 point: names the layers (counted from 1) with the highest [CLS] share
# *from the printed numbers*, and compares their normalised entropy with layer 1's (lower:
# attention there is concentrated). 1 point: reports each layer's verdict from the intervals,
# and explains that "undecided" means the interval straddles 0.3, so another sample of texts
# could put the layer on either side: the claim is not supported, nor refuted, by these texts.

# %%
# Explore (not graded): per layer, the [CLS] share of 30 reviews and its verdict.
import bertlab

reviews = bertlab.load_reviews("test").sample(30, random_state=1).text.tolist()
batch, ids, mask = padded_batch(lm, reviews)
per_text = share_to_keys(batch, ids == CLS_ID, mask).mean(dim=2)            # [30, L]
spread = row_entropy(batch, mask, normalised=True).mean(dim=(0, 2))        # [L]
for layer in range(lm.n_layers):
    low, high, verdict = share_verdict(per_text[:, layer].tolist(), 0.3)
    print(f"layer {layer + 1}: [CLS] share {per_text[:, layer].mean():.3f} "
          f"[{low:.3f}, {high:.3f}] -> {verdict}; normalised entropy {spread[layer]:.3f}")

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# An answer that earns both points (all-MiniLM-L6-v2 on the 30 reviews of the cell above;
# other texts move these numbers a little): "[CLS] receives the most attention in layers 2, 3
# and 5 (shares 0.54-0.56), against 0.21 in layer 1, and attention is far more concentrated
# there: normalised entropy 0.44-0.54, against 0.75 in layer 1. The strong-share claim (at least
# 0.3) holds in layers 2-6, whose whole intervals lie above 0.3 (layer 6 the closest, from 0.35),
# and does not hold in layer 1 ([0.19, 0.22]). A layer whose interval straddled 0.3 would be
# undecided: these texts could not say on which side its share lies, and another sample could
# put it on either, so calling it strong would claim more than the data show."

# %% [markdown]
# ## Self-check
#
# Runs the visible checks of every part and prints what passes. It works anywhere (Colab too);
# the grade itself comes from the test cells, which add hidden cases.

# %% nbgrader={"grade": false, "grade_id": "self_check", "locked": true, "schema_version": 3, "solution": false, "task": false}
course.self_check({"share_to_keys": lambda: share_to_keys, "cls_row": lambda: cls_row,
                   "row_entropy": lambda: row_entropy, "share_verdict": lambda: share_verdict});

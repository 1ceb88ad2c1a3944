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
# # Assignment 3: [SEP] and sentence boundaries
#
# *About 40 minutes, after the chapter "[SEP] and boundaries".*
#
# BERT reads a sentence pair as `[CLS] first [SEP] second [SEP]`, with segment ids 0 for the
# first part (its [CLS] and [SEP] included) and 1 for the second. The seed claims that
# boundary-aware layers attend to [SEP] (C5) and that [SEP] attention shows where sentences break
# and how they relate (C9). You measure how much attention crosses the border, correct it for
# the sentences' lengths, compare the [SEP] share on pairs with the same first sentences alone,
# and then test C9 yourself: does the border look different when the second sentence really
# follows the first than when it is a random sentence?
#
# | part | what you write | where it is defined | points |
# |---|---|---|---|
# | 1 | `cross_segment_share`: attention to the other sentence | chapter, "Does attention see the border" | 3 |
# | 2 | `border_lift`: the same, against evenly spread attention | same section | 3 |
# | 3 | `sep_share_by_layer`: the [SEP] share of a corpus, per layer | "[SEP] share, single sentences against pairs" | 3 |
# | 4 | `BORDER`: where next and random pairs differ most, and by how much | "Does attention see the border"; below | 3 |
# | 5 | a short written answer, graded by hand with the rubric shown | | 2 |
#
# **How this notebook is graded.** Each part's test cell scores all of its points or none. In
# your notebook it runs the *visible* cases and prints ✓ or a hint (○ for Part 4, whose visible
# check can see only the answer's form). When your instructor grades, your functions (Parts 1–3)
# run on hidden pairs drawn for you **apart from this notebook**, in a Python where bertlab
# cannot be imported: there a function gets its arguments, the setup cell's `numpy` and
# `torch`, and what your own cells define, but not the notebook's data (`lm`, `PAIRS`,
# `pair_attention` ...); the visible check tells you when a function reads such a name. Part 4
# is judged only then, against bertlab's measurement of your pairs. What costs points: a wrong
# result, an answer that raises, and calling bertlab's own `bertlab.roles` or `bertlab.metrics`
# functions in Parts 1–3, whose point is to write them yourself. What does not: printing,
# warnings or anything else on stderr.
#
# **Counting layers.** Like the book, the text counts layers from 1 (layer 1 is the lowest);
# `BORDER["layer"]` is a layer number from 1. Tensors are 0-based, as in Python.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import torch

import bertlab
from bertlab import course
from bertlab.course.assignments.sep_boundaries import EFFECT_SIZES, student_pairs

lm = course.model()   # bertlab.load(): the embedded all-MiniLM-L6-v2, shared with the checks
PAIRS = student_pairs(course.current_key())     # 40 pairs drawn for you: 20 next, 20 random
FIRST, SECOND = PAIRS.text.tolist(), PAIRS.text_pair.tolist()
IS_NEXT = PAIRS.label.to_numpy() == 1           # True where SECOND really follows FIRST
pair_attention = bertlab.extract_batch(lm, FIRST, SECOND)   # [CLS] first [SEP] second [SEP]
single_attention = bertlab.extract_batch(lm, FIRST)         # [CLS] first [SEP]
# bertlab's measures of each pair, one row per (pair, layer, head), for Part 4
PER_PAIR = bertlab.roles.text_measures(lm, FIRST, SECOND)

example = pair_attention[0]
print(" ".join(example.tokens))
print("segment ids:", example.segment_ids.tolist())

# %% [markdown]
# ## Part 1: attention across the border (3 points)
#
# For a query `i` of a sentence pair, the cross-segment share of a row `a` is the sum of `a[j]`
# over the keys `j` whose segment id differs from the query's own. A head's value is the mean
# over the query rows. For a single sentence there is no border: return NaN.
#
# Write `cross_segment_share(att)`, `att` a `bertlab.Attention`, returning an `[L, H]` tensor.
#
# *Checked:* equal to bertlab's `cross_segment_share` within 1e-4 on pairs, NaN everywhere on a
# single sentence.

# %% nbgrader={"grade": false, "grade_id": "cross_segment_share", "locked": false, "schema_version": 3, "solution": true, "task": false}
def cross_segment_share(att):
    """Per layer and head, the mean over query rows of the attention to the other sentence:
    weights [L, H, Q, K] -> [L, H]; NaN for a single sentence."""
    ### BEGIN SOLUTION
    if not att.is_pair:
        return torch.full(att.weights.shape[:2], float("nan"))
    other = att.segment_ids[:, None] != att.segment_ids[None, :]            # [Q, K]
    return (att.weights * other).sum(dim=-1).mean(dim=-1)                   # [L, H]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_cross_segment_share", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
course.check("cross_segment_share", cross_segment_share)

# %% [markdown]
# ## Part 2: the border against evenly spread attention (3 points)
#
# A long first sentence and a short second one make the raw share small for most queries,
# whatever the model does. Attention spread evenly over all `n` tokens would send a query in one
# sentence the fraction `(tokens in the other sentence) / n` across; averaged over the query
# rows, that is the **even share**. The **lift** is the cross-segment share divided by the even
# share: 1 means attention ignores the border, below 1 means it keeps to its own sentence.
#
# Write `border_lift(att, cross)` where `cross` is the `[L, H]` cross-segment share of `att` (the
# checks hand you bertlab's, so this part is graded on its own); return the `[L, H]` lift.
#
# *Checked:* equal to bertlab's `cross_segment_lift` within 1e-3.

# %% nbgrader={"grade": false, "grade_id": "border_lift", "locked": false, "schema_version": 3, "solution": true, "task": false}
def border_lift(att, cross):
    """The cross-segment share `cross` [L, H] divided by that of evenly spread attention."""
    ### BEGIN SOLUTION
    other = (att.segment_ids[:, None] != att.segment_ids[None, :]).float()  # [Q, K]
    even = other.mean(dim=1).mean()      # per query: the fraction across; then the mean
    return cross / even                                                     # [L, H]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_border_lift", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
course.check("border_lift", border_lift)

# %% [markdown]
# ## Part 3: the [SEP] share per layer (3 points)
#
# Write `sep_share_by_layer(attentions)`: for a list of `Attention`s return a NumPy array with
# one value per layer, the share of attention to [SEP] keys, averaged over each text's query
# rows, over heads, then over texts (each text weighted equally). A pair has **two** [SEP]
# tokens.
#
# *Checked:* equal to bertlab's `sep_share` (mean over heads and texts) within 1e-4, on pairs and
# on single sentences.

# %% nbgrader={"grade": false, "grade_id": "sep_share_by_layer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sep_share_by_layer(attentions):
    """Per layer: the [SEP] share, mean over query rows, heads, then texts -> array [L]."""
    ### BEGIN SOLUTION
    per_text = [att.weights[..., att.sep_mask].sum(dim=-1).mean(dim=(1, 2))  # [L]
                for att in attentions]
    return torch.stack(per_text).mean(dim=0).numpy()                        # [L]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sep_share_by_layer", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
course.check("sep_share_by_layer", sep_share_by_layer)

# %% [markdown]
# ## Part 4: does the border tell a next sentence from a random one? (3 points)
#
# Claim C9 says [SEP]-attending layers show how two sentences relate. Half of `PAIRS` are a
# sentence and the one that followed it (`IS_NEXT`), half a sentence and an unrelated one. For
# each layer, take each pair's border lift averaged over heads (one number per pair: bertlab's
# `cross_segment_lift` in `PER_PAIR`, column `text` the pair's index, so that this part stands
# on its own; your Part 2 function gives the same), and
# compare the two groups with **Cohen's d**: (mean over next pairs − mean over random pairs)
# divided by the pooled standard deviation
# `sqrt(((n1 - 1) s1² + (n2 - 1) s2²) / (n1 + n2 - 2))`, `s` the groups' standard deviations
# (`ddof=1`). Cohen calls |d| from 0.2 small, from 0.5 medium, from 0.8 large (`EFFECT_SIZES`),
# and below 0.2 there is no effect worth the name (`"none"`).
#
# Set `BORDER = {"layer": <the layer, from 1, with the largest |d|>, "d": <its d>,
# "size": <"none", "small", "medium" or "large">}`, computed in this cell (the book's own
# `bertlab.claims.attention.border_effect` would answer it, so it does not count here).
#
# *Checked when grading:* the layer is one whose |d| is within 0.05 of the largest (40 pairs do
# not tell such layers apart), `d` within 0.01 of bertlab's measurement of that layer, and the
# size is Cohen's name for it (either name within 0.01 of a boundary).

# %% nbgrader={"grade": false, "grade_id": "border_effect", "locked": false, "schema_version": 3, "solution": true, "task": false}
### BEGIN SOLUTION
lifts = (PER_PAIR.groupby(["text", "layer"])["cross_segment_lift"].mean()
         .unstack().to_numpy())                                             # [40, L]


def cohens_d(a, b):
    pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1))
                     / (len(a) + len(b) - 2))
    return (a.mean() - b.mean()) / pooled


d_by_layer = [cohens_d(lifts[IS_NEXT, layer], lifts[~IS_NEXT, layer]) for layer in range(lm.n_layers)]
best = int(np.argmax(np.abs(d_by_layer)))
size = "none"
for name, start in EFFECT_SIZES.items():
    if abs(d_by_layer[best]) >= start:
        size = name
BORDER = {"layer": best + 1, "d": float(d_by_layer[best]), "size": size}
### END SOLUTION
BORDER

# %% nbgrader={"grade": true, "grade_id": "test_border_effect", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
course.check("border_effect", BORDER)

# %% [markdown]
# ## Part 5: which layers react to the boundary? (2 points, graded by hand)
#
# Run the cell below (change it freely; it is not graded). Then answer in 3–5 sentences,
# quoting your numbers: in which layers does the [SEP] share rise most from single sentences to
# pairs, and is the rise large? In which layers does attention keep to its own sentence most
# (lowest lift)? Given `BORDER`, do these numbers support claims C5 and C9, and how does the
# "no-op" reading of [SEP] attention (Clark et al. 2019) fit them?
#
# **Rubric (2 points).** 1 point: reads the [SEP] rise and the lowest-lift layers from the printed
# numbers (layers counted from 1) and judges the rise's size honestly (small in every layer on
# all-MiniLM-L6-v2, although a pair has two [SEP] tokens). 1 point: relates this to C5/C9 with
# `BORDER`: the border shows in the lift (attention keeps to its own sentence) more than in the
# [SEP] share, and whether next and random pairs differ is read from d and its size (an effect
# called "none" or "small" does not support C9); Clark et al.'s no-op reading says attention
# parked on [SEP] need not carry information at all.

# %%
# Explore (not graded): [SEP] share on singles and pairs, and the mean border lift per layer.
single_sep = sep_share_by_layer(single_attention)
pair_sep = sep_share_by_layer(pair_attention)
lift = torch.stack([border_lift(att, cross_segment_share(att)).mean(dim=1)
                    for att in pair_attention]).mean(dim=0)                 # [L]
for layer in range(lm.n_layers):
    print(f"layer {layer + 1}: [SEP] single {single_sep[layer]:.3f}, pair {pair_sep[layer]:.3f}, "
          f"rise {pair_sep[layer] - single_sep[layer]:+.3f}; border lift {lift[layer]:.2f}")

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# An answer that earns both points (all-MiniLM-L6-v2 on the practice key's 40 pairs; yours
# differ a little): the [SEP] share is small in every layer (at most 0.105, in layer 1) and rises
# by at most 0.02 from single sentences to pairs (layers 1 and 4), although a pair has two [SEP]
# tokens. Attention keeps to its own sentence most in layers 2 and 3 (lift 0.73-0.74) and hardly
# at all in layer 6 (0.97). So the border shows in the lift, not in the [SEP] share: C5's
# "boundary-aware layers attend to [SEP]" is not supported here. Next and random pairs differ
# most in layer 6 (BORDER: d = 0.62, medium: true next sentences cross the border more), which is
# some support for C9's "how they relate", but in the lift of a layer that barely attends to
# [SEP], not through [SEP]; Clark et al.'s no-op reading fits: attention parked on [SEP] need not
# carry anything.

# %% [markdown]
# ## Self-check
#
# Runs the visible checks of every part and prints what passes; the grade comes from the test
# cells, which add hidden pairs (and grade Part 4).

# %% nbgrader={"grade": false, "grade_id": "self_check", "locked": true, "schema_version": 3, "solution": false, "task": false}
course.self_check({"cross_segment_share": lambda: cross_segment_share,
                   "border_lift": lambda: border_lift,
                   "sep_share_by_layer": lambda: sep_share_by_layer,
                   "border_effect": lambda: BORDER});

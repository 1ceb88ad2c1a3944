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
# # Assignment 2: layer roles
#
# *About 40 minutes, after the chapter "Layer roles".*
#
# The chapter gives every layer a role by explicit rules. Here you measure a layer's profile
# yourself, write the rules, and then do what the chapter did for one model on three models
# nobody has labelled for you: the pretrained model, a fine-tuned model from the course's pool,
# and a BERT of the same shape with random weights. For each you decide every layer's role *and*
# whether that label is fragile: whether another sample of texts could change it.
#
# | part | what you do | where it is defined | points |
# |---|---|---|---|
# | 1 | `text_profile`: one row per layer of four signals | chapter, "Per-layer profiles" | 4 |
# | 2 | `layer_role`: the role of a layer from its profile | "Roles by rule" | 3 |
# | 3 | `ROLES`, `FRAGILE`: the roles of three models, and which are fragile | "Roles by rule"; below | 4 |
# | 4 | a prediction before you measure, and what you found (by hand, rubric shown) | | 3 |
#
# **How this notebook is graded.** Each part's test cell scores all of its points or none. In
# your notebook it runs the *visible* cases and prints ✓ or a hint. When your instructor grades,
# your functions (Parts 1–2) run on hidden cases drawn for you (other texts, sentence pairs, rows
# exactly on a threshold, layers of a measured model) **apart from this notebook**, in a Python
# where bertlab cannot be imported: there a function gets its arguments, the setup cell's
# modules and the constants it imports (`STRONG_SHARE`, `PROFILE` ...), and what your own cells
# define, but not the notebook's data (`lm`, `CORPUS`, `attentions` ...); the visible check
# tells you when a function reads such a name. Part 3's values are compared with what bertlab
# measures on your three models. What costs points: a wrong result on any case, an answer that
# raises, and calling bertlab's own `bertlab.roles` or `bertlab.metrics` functions in Parts 1–2,
# whose point is to write them yourself (Part 3 may use anything). What does not: printing,
# warnings or anything else on stderr.
#
# **Counting layers.** Like the book, the text counts layers from 1 (layer 1 is the lowest);
# `ROLES` lists layer 1 first and `FRAGILE` holds layer numbers from 1. Tensors and bertlab's
# tables are 0-based, as in Python: the `layer` column's 0 is layer 1.
#
# **Your models** come from your course key (`BERTLAB_COURSE_KEY`, which your instructor sets or
# sends you: in Colab run `%env BERTLAB_COURSE_KEY=<your key>` in a new cell above this one).
# Without a key you practise on public models; the grade always uses your own.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math

import numpy as np
import pandas as pd
import torch

import bertlab
from bertlab import course
from bertlab.course.assignments.layer_roles import (FRAGILE_SHARE, PROFILE, RESAMPLES, corpus,
                                                    course_models, profiles_per_text)
from bertlab.roles import BROAD_ENTROPY, LAYER_ROLES, LEAD_MARGIN, STRONG_SHARE

KEY = course.current_key()
CORPUS = corpus(KEY)                    # 24 training reviews, drawn for you
models = course_models(KEY)             # {"pretrained", "zoo", "random"}: LoadedModels
lm = models["pretrained"]
attentions = bertlab.extract_batch(lm, CORPUS)   # the pretrained model's, one per text
# bertlab's profile of each text alone, one row per (text, layer), for Part 3
PROFILES = {name: profiles_per_text(m, CORPUS) for name, m in models.items()}
print(f"key {KEY!r}; {len(CORPUS)} texts; {lm.n_layers} layers x {lm.n_heads} heads; "
      f"first text: {CORPUS[0]!r}")
print("roles:", ", ".join(LAYER_ROLES))

# %% [markdown]
# ## Part 1: a layer profile (4 points)
#
# `att = attentions[0]` is a `bertlab.Attention`: `att.weights` is `[L, H, Q, K]`
# with no padding (every row sums to 1), and `att.cls_mask`, `att.sep_mask` are bool tensors over
# positions. For one query row `a = att.weights[l, h, i]`:
#
# * `local_share` = `a[i-1] + a[i] + a[i+1]` (a neighbour off the edge counts 0);
# * `cls_share`, `sep_share` = the sum of `a` over the [CLS] keys, over the [SEP] keys;
# * `normalised_entropy` = `-sum_j a[j] ln a[j]` divided by `ln n` (n = the text's tokens).
#
# A head's value is the mean over the text's query rows; a layer's value is the **mean over its
# heads of those head values**. Write `text_profile(att)` returning a DataFrame with one row per
# layer: a `layer` column (0-based, like bertlab's tables) and the four columns in `PROFILE`.
#
# *Checked:* each text's profile equals bertlab's layer profile of that text (`bertlab.roles`)
# within 1e-4, on reviews and on sentence pairs (two [SEP]).

# %% nbgrader={"grade": false, "grade_id": "text_profile", "locked": false, "schema_version": 3, "solution": true, "task": false}
def text_profile(att):
    """One row per layer of one text: layer (0-based), then the PROFILE signals (mean over heads)."""
    ### BEGIN SOLUTION
    weights = att.weights                                                   # [L, H, Q, K]
    positions = torch.arange(att.n_tokens)
    band = (positions[:, None] - positions[None, :]).abs() <= 1             # [Q, K]
    rows = torch.stack([
        (weights * band).sum(dim=-1),                                       # [L, H, Q]
        weights[..., att.cls_mask].sum(dim=-1),
        weights[..., att.sep_mask].sum(dim=-1),
        -torch.special.xlogy(weights, weights).sum(dim=-1) / math.log(att.n_tokens),
    ], dim=-1)                                                              # [L, H, Q, 4]
    per_layer = rows.mean(dim=2).mean(dim=1)                                # [L, 4]
    table = pd.DataFrame(per_layer.double().numpy(), columns=list(PROFILE))
    table.insert(0, "layer", range(att.n_layers))
    return table
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_text_profile", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
course.check("text_profile", text_profile)

# %% [markdown]
# ## Part 2: the role of a layer (3 points)
#
# The chapter's rules, checked in order, on one row of a profile:
#
# 1. Of `local_share`, `cls_share` and `sep_share`, the largest names the role (`"local"`,
#    `"cls-aggregating"`, `"sep/boundary"`) when it is at least `STRONG_SHARE` **and** leads the
#    second largest by at least `LEAD_MARGIN`;
# 2. otherwise the layer is `"broad"` when `normalised_entropy` is at least `BROAD_ENTROPY`;
# 3. otherwise it is `"mixed"`.
#
# (The chapter, and `bertlab.label_layers`, read each share against what evenly spread attention
# would give on the same texts: its *excess*, from a table's `uniform_*` columns. The rows here
# have none, so that baseline is 0 and the rules read the shares as they are.)
#
# Write `layer_role(row)`: `row` is a pandas Series (one row of a profile); return the role as a
# string, one of `LAYER_ROLES`.
#
# *Checked:* hand-made rows (the visible ones below, and hidden ones exactly on `STRONG_SHARE`
# and on `BROAD_ENTROPY`, a strong leading share in a layer whose attention is also spread, two
# strong shares too close together), and the layers of a measured model; the expected role is
# `bertlab.roles.label_layers`'.

# %% nbgrader={"grade": false, "grade_id": "layer_role", "locked": false, "schema_version": 3, "solution": true, "task": false}
def layer_role(row):
    """The role of one layer (one of LAYER_ROLES) from its profile row."""
    ### BEGIN SOLUTION
    names = {"local_share": "local", "cls_share": "cls-aggregating", "sep_share": "sep/boundary"}
    shares = row[list(names)].astype(float).sort_values(ascending=False)
    leader, runner_up = shares.iloc[0], shares.iloc[1]
    if leader >= STRONG_SHARE and leader - runner_up >= LEAD_MARGIN:
        return names[shares.index[0]]
    return "broad" if row["normalised_entropy"] >= BROAD_ENTROPY else "mixed"
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_layer_role", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
course.check("layer_role", layer_role)

# %% [markdown]
# ## Part 4, first half: predict before you measure (graded by hand with Part 4)
#
# Before you run the measurement below, write in the Part 4 cell further down your prediction
# for the **zoo model** (fine-tuned from the pretrained one: which of its layers keep their role?)
# and for the **random** model (no training at all: what roles can its layers have, and why?).
# Give a reason for each; you are graded on the reasoning, not on being right.

# %% [markdown]
# ## Part 3: the roles of three models, and which labels are fragile (4 points)
#
# For each model, label every layer of its profile on `CORPUS` (the mean over texts of each
# text's profile, every text weighted equally) by the chapter's rules. Then decide which labels
# are **fragile**: resample the 24 texts with replacement `RESAMPLES` times
# (`np.random.default_rng(seed)`, any seed), label each layer of every resampled corpus's mean
# profile, and call a layer fragile when **at least `FRAGILE_SHARE` (5 %) of the resamples give
# it another role** than the full corpus does. A fragile label is one that another sample of
# texts could easily change: its deciding share or entropy sits close to a threshold.
#
# Use bertlab's per-text profiles in `PROFILES` and its rules (`bertlab.label_layers` labels a
# whole table of profile rows at once), so that this part stands on its own: a slip in Parts 1
# or 2 does not cost you here (using your own functions instead is fine too).
#
# Set `ROLES = {"pretrained": [...], "zoo": [...], "random": [...]}`, each a list of roles,
# layer 1 first, and `FRAGILE` likewise, each a list of the fragile layers' numbers (from 1).
#
# *Checked:* the pretrained model's answers visibly; the zoo and random models' only when
# grading. A layer whose share of changed resamples is within 2.5 points of 5 % may go either way.

# %% nbgrader={"grade": false, "grade_id": "roles", "locked": false, "schema_version": 3, "solution": true, "task": false}
### BEGIN SOLUTION
def labels(rows):
    """The chapter's roles of many profile rows at once: an array [R, 4] -> a list [R]."""
    return bertlab.label_layers(pd.DataFrame(rows, columns=list(PROFILE)))["role"].tolist()


ROLES, FRAGILE = {}, {}
rng = np.random.default_rng(0)
for name, per_text in PROFILES.items():
    values = np.stack([per_text[per_text.layer == layer][list(PROFILE)].to_numpy()
                       for layer in range(lm.n_layers)])                    # [L, N, 4]
    ROLES[name] = labels(values.mean(axis=1))                               # one per layer
    picks = rng.integers(0, values.shape[1], (RESAMPLES, values.shape[1]))  # [R, N]
    FRAGILE[name] = [layer + 1 for layer in range(lm.n_layers)
                     if np.mean(np.array(labels(values[layer][picks].mean(axis=1)))
                                != ROLES[name][layer]) >= FRAGILE_SHARE]
### END SOLUTION
for name in models:
    print(f"{name:>10}: " + ", ".join(f"{layer + 1} {role}" for layer, role in enumerate(ROLES[name]))
          + f"; fragile: {FRAGILE[name] or 'none'}")

# %% nbgrader={"grade": true, "grade_id": "test_roles", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
course.check("roles", (ROLES, FRAGILE))

# %% [markdown]
# ## Part 4: your prediction, and what you found (3 points, graded by hand)
#
# First (before Part 3's measurement) your prediction for the zoo and the random model, with a
# reason. Then, quoting `ROLES` and `FRAGILE` and the profiles (the cell below prints them):
# where was your prediction right or wrong, and why? Pick one fragile label (or, if none is
# fragile, the label closest to being so) and say which threshold it sits near.
#
# **Rubric (3 points).** 1 point: a prediction for both models, each with a reason that uses what
# the chapter says layers do (e.g. "random weights give near-uniform attention, so every layer
# is broad"). 1 point: compares the prediction with the measured roles honestly, layer by layer
# where they differ (counting layers from 1). 1 point: explains a fragile (or nearly fragile)
# label by the number that sits near a threshold (`STRONG_SHARE`, `LEAD_MARGIN` or
# `BROAD_ENTROPY`), quoting it from the profile.

# %%
# Explore (not graded): the mean profile of each model, layers counted from 1.
for name, per_text in PROFILES.items():
    mean = per_text.drop(columns="text").groupby("layer").mean()
    mean.index = mean.index + 1
    mean.index.name = "layer (from 1)"
    print(name)
    print(mean.round(3).assign(role=ROLES[name]))

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_answer", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# An answer that earns the points (all-MiniLM-L6-v2, a healthy zoo model and the practice key's
# 24 reviews; your texts and zoo model differ). *Prediction:* the zoo model was fine-tuned for a
# few epochs, so it should keep the pretrained roles, with at most its top layer changed; random
# weights relate no query to any key, so attention is near-uniform and every layer is broad.
# *Found:* the zoo model's roles equal the pretrained ones in all six layers (layer 1 local, 2-6
# cls-aggregating; its top layer's [CLS] share drops only from 0.39 to 0.36); the random model is
# broad in all six layers (normalised entropy 0.997), as predicted, and none of its labels is
# fragile. Layer 1 is fragile in both trained models: its local share (0.305) sits right on
# `STRONG_SHARE` (0.3), so resamples with fewer local-heavy texts drop it below and make the layer
# broad (its entropy, 0.75, is above `BROAD_ENTROPY`). I would report it as "local, barely".

# %% [markdown]
# ## Self-check
#
# Runs the visible checks of every part and prints what passes; the grade comes from the test
# cells, which add hidden cases.

# %% nbgrader={"grade": false, "grade_id": "self_check", "locked": true, "schema_version": 3, "solution": false, "task": false}
course.self_check({"text_profile": lambda: text_profile, "layer_role": lambda: layer_role,
                   "roles": lambda: (ROLES, FRAGILE)});

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
# # Assignment 4: detect the overfit model
#
# *About 45 minutes, after the chapters "Fine-tuned and overfit models" and "The fine-tuning
# experiment".*
#
# Four review-sentiment classifiers, **A** to **D**, were fine-tuned from the same model by
# recipes you are not told. Any of them may be healthy, overfit, broken, or something the
# evidence cannot settle; two of your four may well share a verdict. You get each model's
# accuracy on its own training data and its predictions on 100 held-out reviews (50 of each
# label) it never saw. You compute the evidence, set the thresholds yourself from the book's
# experiment, apply the chapter's rules, and decide, including where two signals disagree.
#
# | part | what you do | where it is defined | points |
# |---|---|---|---|
# | 1 | `held_out_evidence`: accuracy, chance, confidence, confidence gap, collapse | "Fine-tuned and overfit models", "`diagnose`" | 3 |
# | 2 | `THRESHOLDS`: four thresholds read off the experiment's models | "The fine-tuning experiment", "Which signals separate which variants?" | 3 |
# | 3 | `verdict`: the chapter's rules, in order | "`diagnose`"; below | 3 |
# | 4 | `ANSWERS`, `DISAGREE`: a verdict for each of your models, and where the signals disagree | below | 3 |
# | 5 | defend your thresholds and the verdict where the signals disagree (by hand, rubric shown) | | 3 |
#
# **How this notebook is graded.** Each part's test cell scores all of its points or none. In
# your notebook it runs the *visible* cases and prints ✓ or a hint (○ for Parts 2 and 4, whose
# visible check can see only the answer's form). When your instructor grades, your functions
# (Parts 1 and 3) run on hidden cases (three classes, unbalanced labels, values exactly on a
# threshold) **apart from this notebook**, in a Python where bertlab cannot be imported: there a
# function gets its arguments, the setup cell's `torch` and the constants it imports, and what
# your own cells define, but not the notebook's data (`models`, `probs`, `labels` ...); the
# visible check tells you when a function reads such a name. Parts 2 and 4 are judged only
# then: Part 2 against the experiment's tables, Part 4 against the evidence measured on *your*
# models, with *your* thresholds, so a mistake in one part does not cost another.
# What costs points: a wrong result, an answer that raises, calling `bertlab.diagnosis` in
# Parts 1 and 3, whose point is to write it yourself, taking Part 2's thresholds from bertlab,
# and having bertlab decide Part 4 (`diagnose`, `decide`). What does not: printing, warnings or
# anything else on stderr.
#
# **Your models** come from your course key (`BERTLAB_COURSE_KEY`, which your instructor sets or
# sends you: in Colab run `%env BERTLAB_COURSE_KEY=<your key>` in a new cell above this one).
# Without a key you practise on public models; the grade always uses your own.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import torch

from bertlab import course
from bertlab.course.assignments.detect_overfit import (THRESHOLD_KEYS, VERDICTS, evidence_table,
                                                       held_out, probabilities, reference_models)

models = course.my_models(course.current_key())     # {"A": CourseModel(letter, lm, train_accuracy)}
HELD_OUT = held_out()                                # 100 reviews none of the models saw
labels = torch.tensor(HELD_OUT.label.to_numpy())                               # [N]
probs = {letter: probabilities(m.lm) for letter, m in models.items()}          # [N, C] each
train_accuracy = {letter: m.train_accuracy for letter, m in models.items()}
print(f"{len(HELD_OUT)} held-out reviews; training accuracy: "
      + ", ".join(f"{letter} {accuracy:.3f}" for letter, accuracy in train_accuracy.items()))
print("verdicts:", ", ".join(VERDICTS), "| thresholds:", ", ".join(THRESHOLD_KEYS))

# %% [markdown]
# ## Part 1: held-out evidence (3 points)
#
# `probs[letter]` is `[N, C]`: each row the model's class probabilities for one held-out review.
# With `labels` `[N]`, write `held_out_evidence(probs, labels)` returning a dict with:
#
# * `accuracy`: the share of reviews whose most probable class is the label;
# * `chance`: the share of the most common label (what always answering it would score);
# * `confidence`: the mean, over reviews, of the *top* class probability (each row's largest);
# * `confidence_gap`: `confidence - accuracy` (a model sure of wrong answers has a large gap);
# * `top_prediction_share`: the share of reviews given the most often predicted class.
#
# *Checked:* a worked example (below: accuracy 0.5, chance 0.75, confidence 0.75, gap 0.25, top
# share 0.75), model A's evidence against `bertlab.diagnosis.classifier_evidence` within 1e-4,
# and hidden cases with three classes, unbalanced labels and your other models.

# %% nbgrader={"grade": false, "grade_id": "held_out_evidence", "locked": false, "schema_version": 3, "solution": true, "task": false}
def held_out_evidence(probs, labels):
    """Held-out numbers of a classifier from probs [N, C] and labels [N] (a dict)."""
    ### BEGIN SOLUTION
    predicted = probs.argmax(dim=1)                                         # [N]
    accuracy = (predicted == labels).float().mean().item()
    confidence = probs.max(dim=1).values.mean().item()
    return {
        "accuracy": accuracy,
        "chance": labels.bincount().max().item() / len(labels),
        "confidence": confidence,
        "confidence_gap": confidence - accuracy,
        "top_prediction_share": predicted.bincount().max().item() / len(labels),
    }
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_held_out_evidence", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
course.check("held_out_evidence", held_out_evidence)

# %% [markdown]
# ## Part 2: thresholds from the experiment (3 points)
#
# The chapter's rules (Part 3) need four thresholds. The book's experiment trained five recipes
# with several seeds; the table below holds its models of seeds 0 and 1 (the *rule seeds*), each
# measured on the whole test split (200 reviews, your 100 among them): `skill` is
# `(accuracy - chance) / (1 - chance)` (0 for always answering the most common label, 1 for
# perfect) and `accuracy_gap` is training accuracy minus held-out accuracy. Every rule fires **at or above** its threshold. Choose each
# threshold so that it separates the table's models as its rule intends:
#
# * `collapse` (top prediction share): catches `high-lr`, passes every other recipe;
# * `skill` (a model has learnt the task from here on): reached by `healthy`, not by `overfit`,
#   `low-diversity` or `overfit-frozen`;
# * `accuracy_gap`: catches `overfit`, `low-diversity` and `overfit-frozen`, passes `healthy`;
# * `confidence_gap`: catches `overfit` (trained far past fitting its data), passes `healthy`.
#
# Where several values separate, pick one you can defend (Part 5 asks you to). Set
# `THRESHOLDS = {"collapse": ..., "skill": ..., "accuracy_gap": ..., "confidence_gap": ...}`,
# from the table: a notebook that takes them from bertlab (`bertlab.diagnosis`'s constants, or
# this assignment's `threshold_ranges`, in any cell) loses this part.
#
# *Checked when grading:* each threshold lies above every value its rule must pass and at most
# the lowest value it must catch, in the experiment's tables as they are then.

# %%
reference = reference_models()
reference.round(3)

# %% nbgrader={"grade": false, "grade_id": "thresholds", "locked": false, "schema_version": 3, "solution": true, "task": false}
### BEGIN SOLUTION
def gap(column, passes, catches):
    """The separating gap: the highest value a rule must pass, the lowest it must catch."""
    return (reference[reference.recipe.isin(passes)][column].max(),
            reference[reference.recipe.isin(catches)][column].min())


others = ["healthy", "overfit", "low-diversity", "overfit-frozen"]
memorisers = ["overfit", "low-diversity", "overfit-frozen"]
THRESHOLDS = {
    # the middle of the gap: as far as can be from both sides, for models of other seeds
    "collapse": float(sum(gap("top_prediction_share", others, ["high-lr"])) / 2),
    "skill": float(sum(gap("skill", memorisers, ["healthy"])) / 2),
    "accuracy_gap": float(sum(gap("accuracy_gap", ["healthy"], memorisers)) / 2),
    # near the overfit end: a confidence gap below 0 is a model *less* sure than right, and
    # healthy fine-tuned models elsewhere are often a few points over-confident
    "confidence_gap": round(float(gap("confidence_gap", ["healthy"], ["overfit"])[1]) - 0.01, 3),
}
### END SOLUTION
THRESHOLDS

# %% nbgrader={"grade": true, "grade_id": "test_thresholds", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
course.check("thresholds", THRESHOLDS)

# %% [markdown]
# ## Part 3: the rules (3 points)
#
# The chapter's rules, checked **in order**, with `skill = (accuracy - chance) / (1 - chance)`:
#
# 1. `"degenerate"`: `top_prediction_share >= thresholds["collapse"]` and
#    `skill < thresholds["skill"]` (it gives one answer to nearly everything);
# 2. `"overfit"`: `train_accuracy - accuracy >= thresholds["accuracy_gap"]` **or**
#    `confidence_gap >= thresholds["confidence_gap"]` (much better on its training data than on
#    new texts, or far more certain than right);
# 3. `"healthy"`: `skill >= thresholds["skill"]`;
# 4. `"inconclusive"` otherwise.
#
# Write `verdict(evidence, train_accuracy, thresholds)`, `evidence` a dict like Part 1's and
# `thresholds` a dict like `THRESHOLDS`.
#
# *Checked:* hand-made cases with their own thresholds (visible ones include a value exactly on
# a threshold); hidden ones: a model both collapsed and over-confident, each value exactly on its
# threshold, skill measured against a chance of 0.7, one class for most texts but with skill.

# %% nbgrader={"grade": false, "grade_id": "verdict", "locked": false, "schema_version": 3, "solution": true, "task": false}
def verdict(evidence, train_accuracy, thresholds):
    """One of VERDICTS from held-out `evidence`, the train accuracy and the `thresholds`."""
    ### BEGIN SOLUTION
    skill = (evidence["accuracy"] - evidence["chance"]) / (1 - evidence["chance"])
    if evidence["top_prediction_share"] >= thresholds["collapse"] and skill < thresholds["skill"]:
        return "degenerate"
    if (train_accuracy - evidence["accuracy"] >= thresholds["accuracy_gap"]
            or evidence["confidence_gap"] >= thresholds["confidence_gap"]):
        return "overfit"
    return "healthy" if skill >= thresholds["skill"] else "inconclusive"
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_verdict", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
course.check("verdict", verdict)

# %% [markdown]
# ## Part 4: your models (3 points)
#
# Look at your four models' evidence side by side: the cell below prints it as bertlab measures
# it (`bertlab.diagnosis.classifier_evidence`'s definitions, which your Part 1 function must
# match), so that a slip in Part 1 does not cost you here. Decide a verdict for each, by the
# rules with your thresholds, and find the models on which the **two overfit signals disagree**:
# exactly one of them (the train − held-out accuracy gap, the confidence gap) is at or above its
# threshold. Set `ANSWERS = {"A": ..., "B": ..., "C": ..., "D": ...}` (each one of `VERDICTS`)
# and `DISAGREE` to the list of those letters.
#
# *Checked when grading:* against the evidence bertlab measures on your models with your own
# thresholds (right or wrong: Part 2 is graded there; the chapter's only if yours are not four
# numbers); where a deciding number is within 0.01 of a threshold, either side counts as right.

# %%
table = evidence_table(models)   # bertlab's held-out evidence of each model, and the gap and skill
table.round(3)

# %% nbgrader={"grade": false, "grade_id": "your_models", "locked": false, "schema_version": 3, "solution": true, "task": false}
### BEGIN SOLUTION
ANSWERS = {letter: verdict(table.loc[letter].to_dict(), train_accuracy[letter], THRESHOLDS)
           for letter in models}
DISAGREE = [letter for letter in models
            if (table.at[letter, "accuracy_gap"] >= THRESHOLDS["accuracy_gap"])
            != (table.at[letter, "confidence_gap"] >= THRESHOLDS["confidence_gap"])]
### END SOLUTION
ANSWERS, DISAGREE

# %% nbgrader={"grade": true, "grade_id": "test_your_models", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
course.check("your_models", (ANSWERS, DISAGREE, THRESHOLDS))

# %% [markdown]
# ## Part 5: defend your thresholds and your hardest verdict (3 points, graded by hand)
#
# In 5–8 sentences: for each threshold, why that value rather than another in its range (quote
# the table). Then take a model in `DISAGREE` (or, if you have none, the model whose verdict was
# closest to another): which of the two signals do you trust for it, and why? Would its training
# accuracy alone have told you?
#
# **Rubric (3 points).** 1 point: each threshold defended with the table's numbers (for example
# a value with room on both sides of the separating gap, or a stated reason to sit nearer one
# side), including what a threshold of the other sign would call a model. 1 point: for the
# model you chose, says what each of the two signals measures, which one decides its verdict
# and why, with its numbers. 1 point: says whether training accuracy alone would have ranked
# your four models rightly, with their numbers, and why.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_answer", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# An answer that earns the points: collapse, skill and the accuracy gap sit at the middle of
# their separating gaps, as far as possible from both groups, since new seeds move every number
# by a few points (collapse 0.83: 0.66 against 1.00; skill 0.555: healthy 0.67-0.69 against at
# most 0.44; gap 0.15: 0.02 against at least 0.28). The confidence gap's middle (-0.04) would
# call a model overfit while it is *less* sure than right, and flag the broken high-lr models
# (0.02-0.05) too; I put it just under the overfit recipe's lowest value (0.105), since healthy
# fine-tuned models are often a few points over-confident. Model B (the practice key's) disagrees:
# train − held-out gap 0.31, far over its threshold, but confidence gap -0.17, under-confident. I trust the gap: it
# measures directly that the model does far worse on new texts than on its training data, while
# the confidence gap only catches models *more* sure than right, and this one, trained on
# monotonous template texts, is unsure of reviews it cannot read. Its training accuracy (1.00)
# is the best of my four models: alone it would have ranked it first.

# %% [markdown]
# ## Self-check
#
# Runs the visible checks and prints what passes. Parts 2 and 4 are judged only when grading.

# %% nbgrader={"grade": false, "grade_id": "self_check", "locked": true, "schema_version": 3, "solution": false, "task": false}
course.self_check({"held_out_evidence": lambda: held_out_evidence,
                   "thresholds": lambda: THRESHOLDS, "verdict": lambda: verdict,
                   "your_models": lambda: (ANSWERS, DISAGREE, THRESHOLDS)});

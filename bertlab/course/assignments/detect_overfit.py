"""Assignment 4, "Detect the overfit model": held-out evidence, thresholds set from the book's
experiment, the rules in order, and verdicts on four anonymous classifiers of the student's own.

Book chapters: "Fine-tuned and overfit models" (sections "`diagnose`" and "What really separates
healthy from overfit") and "The fine-tuning experiment" (section "Which signals separate which
variants?"). Expected results are measured when grading: `bertlab.diagnosis.classifier_evidence`
on the student's models, and the experiment's tables (`bertlab.zoo.experiment.results`) for the
thresholds' ranges.

Shape letters: N texts, C classes.
"""

from __future__ import annotations

import functools
import math
import os
import random
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ...datasets import load_reviews
from ...diagnosis import class_probabilities, classifier_evidence
from ..parts import Case, Part, close

__all__ = ["SETUP_DATA", "VERDICTS", "EVIDENCE_KEYS", "THRESHOLD_KEYS", "held_out", "probabilities",
           "model_evidence", "evidence_table",
           "reference_models", "threshold_ranges", "decide", "PARTS"]

#: What the notebook's setup cell computes from the model and the data. Graded functions run
#: apart from the notebook (`bertlab.course.isolated`), where these names do not exist; the
#: notebook's check says so when a function reads one (a test compares this with the notebook).
SETUP_DATA = ("models", "HELD_OUT", "labels", "probs", "train_accuracy")

VERDICTS = ("healthy", "overfit", "degenerate", "inconclusive")
#: What `held_out_evidence` returns (Part 1).
EVIDENCE_KEYS = ("accuracy", "chance", "confidence", "confidence_gap", "top_prediction_share")
#: What THRESHOLDS holds (Part 2), each the threshold of one rule.
THRESHOLD_KEYS = ("collapse", "skill", "accuracy_gap", "confidence_gap")
#: The experiment's models the thresholds are read from: its rule seeds of the five recipes the
#: chapter compares (the held-out seeds and recipes are the experiment page's check on them).
REFERENCE_SEEDS = (0, 1)
REFERENCE_RECIPES = ("healthy", "overfit", "low-diversity", "high-lr", "overfit-frozen")
#: Which reference models each threshold must pass and which it must catch:
#: {threshold: (column of the reference table, recipes it must pass, recipes it must catch)}.
#: A rule fires at or above its threshold, so a threshold separates when it is above the highest
#: value it must pass and at most the lowest value it must catch. The skill rule is the other way
#: round (a model has learnt the task from the threshold on): it must be above the best skill of
#: the models that have not learnt it and at most the worst skill of the healthy ones.
SEPARATES = {
    "collapse": ("top_prediction_share", ("healthy", "overfit", "low-diversity", "overfit-frozen"),
                 ("high-lr",)),
    "skill": ("skill", ("overfit", "low-diversity", "overfit-frozen"), ("healthy",)),
    "accuracy_gap": ("accuracy_gap", ("healthy",), ("overfit", "low-diversity", "overfit-frozen")),
    "confidence_gap": ("confidence_gap", ("healthy",), ("overfit",)),
}
#: Where one of a model's deciding numbers is this close to the student's threshold, the grader
#: accepts the verdict of either side: a student may decide from the printed table's rounded
#: numbers (the notebook's and the grader's measurements themselves agree to about 1e-6).
DECISION_TOLERANCE = 0.01
#: Held-out reviews per label that each model is judged on: 100 in all, enough to measure
#: accuracy to about ±0.05 and half the work of the whole test split for every notebook.
HELD_OUT_PER_LABEL = 50
#: Where the grader hands the notebook the reference table (see `reference_models`).
REFERENCE_ENV = "BERTLAB_COURSE_REFERENCE"
#: What Parts 1 and 3 may not call: bertlab's diagnosis, and this module (whose helpers compute
#: the same evidence and verdicts).
_RULES = ("bertlab.diagnosis", __name__)


def held_out() -> pd.DataFrame:
    """The held-out reviews every model is judged on: the first `HELD_OUT_PER_LABEL` of each
    label in the reviews' test split (text, label)."""
    test = load_reviews("test")
    return test.groupby("label").head(HELD_OUT_PER_LABEL)[["text", "label"]].reset_index(drop=True)


def reference_models() -> pd.DataFrame:
    """The experiment's reference models (`REFERENCE_RECIPES` x `REFERENCE_SEEDS`), one row each:
    recipe, seed, train_accuracy, accuracy, accuracy_gap, skill, confidence_gap,
    top_prediction_share (held-out numbers on the whole test split).

    While grading, the grader hands the table over in a file (``$BERTLAB_COURSE_REFERENCE``), so
    that each notebook does not recompute the experiment's cache key; the grader's own judgement
    always uses the table it computed itself.
    """
    handed = os.environ.get(REFERENCE_ENV)
    if handed and Path(handed).is_file():
        return pd.read_csv(handed)
    return measured_reference_models()


@functools.cache
def measured_reference_models() -> pd.DataFrame:
    """`reference_models` from the experiment's cached tables (`bertlab.zoo.experiment`)."""
    from ...zoo import experiment

    models = experiment.results(progress=False).models
    models = models[models.recipe.isin(REFERENCE_RECIPES) & models.seed.isin(REFERENCE_SEEDS)]
    table = pd.DataFrame({
        "recipe": models.recipe, "seed": models.seed, "train_accuracy": models.train_accuracy,
        "accuracy": models.test_accuracy, "accuracy_gap": models.accuracy_gap,
        "skill": (models.test_accuracy - models.test_chance) / (1 - models.test_chance),
        "confidence_gap": models.test_confidence_gap,
        "top_prediction_share": models.test_top_prediction_share})
    return table.sort_values(["recipe", "seed"]).reset_index(drop=True)


def hand_over(folder: Path) -> dict[str, str]:
    """What the grader gives the notebook's kernel: the reference table, in a file."""
    path = folder / "reference_models.csv"
    measured_reference_models().to_csv(path, index=False)
    return {REFERENCE_ENV: str(path)}


def threshold_ranges() -> dict[str, tuple[float, float]]:
    """{threshold: (low, high)}: a threshold separates the reference models as `SEPARATES` asks
    when low < threshold <= high."""
    table = measured_reference_models()
    ranges = {}
    for name, (column, passes, catches) in SEPARATES.items():
        below = table[table.recipe.isin(passes)][column].max()
        above = table[table.recipe.isin(catches)][column].min()
        ranges[name] = (float(below), float(above))
    return ranges


def decide(evidence: dict, train_accuracy: float, thresholds: dict) -> str:
    """The chapter's rules, in order (book: "Fine-tuned and overfit models", "`diagnose`"):
    degenerate, then overfit, then healthy, else inconclusive."""
    return _decide_with(evidence, train_accuracy, thresholds)


def chapter_thresholds() -> dict[str, float]:
    """`bertlab.diagnosis`'s thresholds under this assignment's names."""
    from ... import diagnosis

    return {"collapse": diagnosis.COLLAPSED_PREDICTIONS, "skill": diagnosis.LEARNT_SKILL,
            "accuracy_gap": diagnosis.OVERFIT_ACCURACY_GAP,
            "confidence_gap": diagnosis.OVERFIT_CONFIDENCE_GAP}


def model_evidence(lm) -> dict:
    """`bertlab.diagnosis.classifier_evidence` of a classifier on the held-out reviews (plain
    numbers), measured once per process and model: what the grader judges Part 4 by."""
    return _once(lm, "evidence", lambda: {key: float(value) for key, value in
                                          classifier_evidence(lm, held_out()).items()})


def evidence_table(models: dict) -> pd.DataFrame:
    """The notebook's table of the student's models: one row per letter, the training accuracy
    and the held-out evidence (`EVIDENCE_KEYS`, as `classifier_evidence` defines them, from the
    probabilities the notebook already has), the accuracy gap and the skill."""
    labels = torch.tensor(held_out().label.to_numpy())
    table = pd.DataFrame({letter: {"train_accuracy": m.train_accuracy,
                                   **_evidence_by_definition(probabilities(m.lm), labels)}
                          for letter, m in models.items()}).T
    table["accuracy_gap"] = table.train_accuracy - table.accuracy
    table["skill"] = (table.accuracy - table.chance) / (1 - table.chance)
    return table


class HeldOutEvidence(Part):
    name, title = "held_out_evidence", "Part 1, held_out_evidence"
    forbidden = _RULES

    def visible(self, context):
        return [Case("v1", {"probs": [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]],
                            "labels": [0, 0, 0, 1]}, True, "the worked example"),
                Case("v2", {"model": "A"}, True, "model A on the held-out reviews")]

    def hidden(self, seed, context):
        draw = np.random.default_rng(seed)
        three = draw.dirichlet([1.0, 1.0, 1.0], size=12).round(4)
        three /= three.sum(axis=1, keepdims=True)
        skewed = draw.dirichlet([2.0, 1.0], size=10).round(4)
        skewed /= skewed.sum(axis=1, keepdims=True)
        return [Case("h1", {"probs": three.tolist(), "labels": draw.integers(0, 3, 12).tolist()},
                     False, "three classes"),
                Case("h2", {"probs": skewed.tolist(), "labels": [1] * 7 + [0] * 3}, False,
                     "labels 70 % one class (chance 0.7)"),
                *[Case(f"h{i}", {"model": letter}, False, f"model {letter}")
                  for i, letter in enumerate(("B", "C", "D"), start=3)]]

    def calls(self, case, context):
        return {"": (self._inputs(case, context), {})}

    def output(self, results, unchanged):
        return {key: float(value) for key, value in dict(results[""]).items()
                if key in EVIDENCE_KEYS}

    @staticmethod
    def _inputs(case, context):
        if "model" in case.spec:
            return _probabilities(context, case.spec["model"]), torch.tensor(held_out().label.to_numpy())
        return torch.tensor(case.spec["probs"]), torch.tensor(case.spec["labels"])

    def expected(self, case, context):
        if "model" in case.spec:
            measured = model_evidence(context.models[case.spec["model"]].lm)
            return {key: measured[key] for key in EVIDENCE_KEYS}
        return _evidence_by_definition(*self._inputs(case, context))

    def compare(self, output, expected, case):
        missing = [key for key in EVIDENCE_KEYS if key not in output]
        if missing:
            return f"the evidence lacks {missing}."
        wrong = [key for key in EVIDENCE_KEYS if not close(output[key], expected[key], 1e-4)]
        return None if not wrong else f"{', '.join(wrong)} differ(s) from the measurement."

    def mistakes(self, case, context):
        probs, labels = self._inputs(case, context)
        right = _evidence_by_definition(probs, labels)
        true_class = probs[torch.arange(len(labels)), labels].double().mean().item()
        yield ("confidence is the mean probability of the *predicted* class (each row's "
               "largest), not of the true class.",
               {**right, "confidence": true_class, "confidence_gap": true_class - right["accuracy"]})
        yield ("chance is the share of the most common *label* (what always answering it "
               "scores), not 1 / number of classes.",
               {**right, "chance": 1 / probs.shape[1]})
        yield ("top_prediction_share is the share of texts given the most often *predicted* "
               "class, not the share of the most common label.",
               {**right, "top_prediction_share": right["chance"]})
        yield ("confidence_gap is confidence − accuracy (positive for a model more sure than "
               "right).", {**right, "confidence_gap": right["accuracy"] - right["confidence"]})


def _evidence_by_definition(probs: torch.Tensor, labels: torch.Tensor) -> dict:
    predicted = probs.argmax(dim=1)                                             # [N]
    accuracy = (predicted == labels).double().mean().item()
    confidence = probs.max(dim=1).values.double().mean().item()
    return {"accuracy": accuracy, "chance": labels.bincount().max().item() / len(labels),
            "confidence": confidence, "confidence_gap": confidence - accuracy,
            "top_prediction_share": predicted.bincount().max().item() / len(labels)}


def _probabilities(context, letter: str) -> torch.Tensor:
    """Model `letter`'s class probabilities on the held-out reviews, ``[N, C]``."""
    return probabilities(context.models[letter].lm)


def probabilities(lm) -> torch.Tensor:
    """A classifier's class probabilities on the held-out reviews, ``[N, C]`` (once per process
    and model)."""
    return _once(lm, "probabilities", lambda: class_probabilities(
        lm.model, lm.tokenizer, held_out().text.tolist(), max_length=lm.max_length))


#: {(id of a torch model, what): (the model, the value)}: measurements of the classifiers, kept
#: for the process's life, whichever letter or name a student's copy of the model has.
_MEASURED: dict = {}


def _once(lm, what: str, measure):
    key = (id(lm.model), what)
    if key not in _MEASURED or _MEASURED[key][0] is not lm.model:
        _MEASURED[key] = (lm.model, measure())
    return _MEASURED[key][1]


class Thresholds(Part):
    name, title = "thresholds", "Part 2, THRESHOLDS"
    form_only = True
    is_value = True
    #: The point is to read them off the table, not to copy the chapter's constants or take the
    #: grader's own ranges.
    forbidden = ("bertlab.diagnosis", f"{__name__}.threshold_ranges",
                 f"{__name__}.chapter_thresholds")

    def visible(self, context):
        return [Case("v1", {}, True, "the thresholds' names and numbers")]

    def hidden(self, seed, context):
        return [Case("h1", {}, False, "each threshold against the experiment's ranges")]

    def run(self, answer, case, context):
        return {str(key): float(value) for key, value in dict(answer).items()}

    def expected(self, case, context):
        return threshold_ranges()

    def right(self, case, context):
        return {key: (low + high) / 2 for key, (low, high) in threshold_ranges().items()}

    def compare(self, output, expected, case):
        missing = [key for key in THRESHOLD_KEYS if key not in output]
        if missing or set(output) - set(THRESHOLD_KEYS):
            return f"THRESHOLDS needs exactly the keys {list(THRESHOLD_KEYS)}."
        if any(not math.isfinite(value) for value in output.values()):
            return "every threshold must be a finite number."
        if output == chapter_thresholds():
            return ("these are bertlab.diagnosis's own thresholds: this part asks you to read "
                    "yours off the experiment's table.")
        if case.visible:
            return None  # whether they separate the experiment's models is judged when grading
        wrong = [key for key in THRESHOLD_KEYS
                 if not expected[key][0] < output[key] <= expected[key][1]]
        if wrong:
            return (f"{', '.join(wrong)}: a threshold must separate the reference models the "
                    "table compares, above every value of the models its rule must pass and at "
                    "most the lowest value of those it must catch (a rule fires at or above its "
                    "threshold).")
        return None


class Verdict(Part):
    name, title = "verdict", "Part 3, verdict"
    forbidden = _RULES

    #: Thresholds of the rule cases: exact binary fractions, so a value "on" one is exactly on it.
    CASE_THRESHOLDS = {"collapse": 0.875, "skill": 0.5, "accuracy_gap": 0.25,
                       "confidence_gap": 0.125}

    def visible(self, context):
        fine = dict(accuracy=0.875, chance=0.5, confidence=0.8125, confidence_gap=-0.0625,
                    top_prediction_share=0.5625)
        rows = [
            (fine, 0.9, "skilled, small gaps"),
            ({**fine, "accuracy": 0.5, "confidence": 0.53125, "confidence_gap": 0.03125,
              "top_prediction_share": 1.0}, 0.5, "one answer for everything"),
            ({**fine, "accuracy": 0.625, "confidence": 0.6875, "confidence_gap": 0.0625}, 1.0,
             "train accuracy far above held-out accuracy"),
            ({**fine, "confidence": 1.0, "confidence_gap": 0.125}, 0.9,
             "confidence gap exactly on its threshold"),
            ({**fine, "accuracy": 0.6875, "confidence": 0.6875, "confidence_gap": 0.0}, 0.6875,
             "little skill, neither collapsed nor overconfident"),
        ]
        return [self._case(f"v{i}", evidence, train, about, True)
                for i, (evidence, train, about) in enumerate(rows, start=1)]

    def hidden(self, seed, context):
        draw = random.Random(seed)
        fine = dict(accuracy=0.875, chance=0.5, confidence=0.8125, confidence_gap=-0.0625,
                    top_prediction_share=0.5625)
        train = draw.choice([0.875, 0.9375])
        rows = [
            ({**fine, "accuracy": 0.5, "confidence": 0.96875, "confidence_gap": 0.46875,
              "top_prediction_share": 1.0}, 1.0, "collapsed *and* over-confident"),
            ({**fine, "accuracy": 0.75, "confidence": 0.75, "confidence_gap": 0.0}, train,
             "skill exactly on its threshold"),
            ({**fine, "accuracy": 0.625, "confidence": 0.625, "confidence_gap": 0.0,
              "top_prediction_share": 0.875}, 0.625, "collapse share exactly on its threshold"),
            ({**fine, "accuracy": 0.75, "confidence": 0.6875, "confidence_gap": -0.0625}, 1.0,
             "train - held-out gap exactly on its threshold"),
            ({"accuracy": 0.85, "chance": 0.7, "confidence": 0.8125, "confidence_gap": -0.0375,
              "top_prediction_share": 0.75}, 0.85, "skill measured against chance 0.7"),
            ({**fine, "top_prediction_share": 0.9375}, train,
             "one class for most texts, but with skill: not collapsed"),
        ]
        return [self._case(f"h{i}", evidence, train_accuracy, about, False)
                for i, (evidence, train_accuracy, about) in enumerate(rows, start=1)]

    def _case(self, case_id, evidence, train_accuracy, about, visible):
        return Case(case_id, {"evidence": evidence, "train_accuracy": train_accuracy,
                              "thresholds": self.CASE_THRESHOLDS}, visible, about)

    def calls(self, case, context):
        spec = case.spec
        return {"": ((dict(spec["evidence"]), spec["train_accuracy"], dict(spec["thresholds"])), {})}

    def output(self, results, unchanged):
        return str(results[""])

    def expected(self, case, context):
        return decide(case.spec["evidence"], case.spec["train_accuracy"], case.spec["thresholds"])

    def compare(self, output, expected, case):
        if output == expected:
            return None
        return (f"evidence {case.spec['evidence']} with train accuracy "
                f"{case.spec['train_accuracy']} and thresholds {case.spec['thresholds']} gets "
                f"{output!r} from your verdict; the rules, in order, give another verdict.")

    def mistakes(self, case, context):
        spec = case.spec
        for hint, variant in (
                ("the rules are checked in order: a collapsed model without skill is degenerate "
                 "even when it is also over-confident.", {"overfit_first": True}),
                ("'at or above' is >=: a value exactly on a threshold fires its rule.",
                 {"strict": True}),
                ("skill is measured from chance: (accuracy − chance) / (1 − chance), not the raw "
                 "accuracy.", {"raw_skill": True})):
            yield hint, _decide_with(spec["evidence"], spec["train_accuracy"], spec["thresholds"],
                                     **variant)


def _decide_with(evidence, train_accuracy, thresholds, *, overfit_first=False, strict=False,
                 raw_skill=False) -> str:
    """The chapter's rules, with one realistic mistake switched on when asked."""
    at_least = (lambda a, b: a > b) if strict else (lambda a, b: a >= b)
    chance = evidence["chance"]
    skill = evidence["accuracy"] if raw_skill else \
        (evidence["accuracy"] - chance) / (1 - chance) if chance < 1 else 0.0
    collapsed = at_least(evidence["top_prediction_share"], thresholds["collapse"]) and not \
        at_least(skill, thresholds["skill"])
    overfit = at_least(train_accuracy - evidence["accuracy"], thresholds["accuracy_gap"]) or \
        at_least(evidence["confidence_gap"], thresholds["confidence_gap"])
    order = (("overfit", overfit), ("degenerate", collapsed)) if overfit_first else \
        (("degenerate", collapsed), ("overfit", overfit))
    for verdict, fires in order:
        if fires:
            return verdict
    return "healthy" if at_least(skill, thresholds["skill"]) else "inconclusive"


class YourModels(Part):
    """Part 4: a verdict for each of the student's models, and where the overfit signals
    disagree."""

    name, title = "your_models", "Part 4, your models"
    form_only = True
    is_value = True
    #: The point is to decide, with the rules written in Part 3: not to have bertlab decide.
    forbidden = ("bertlab.diagnosis.diagnose", "bertlab.diagnosis.decide", f"{__name__}.decide",
                 f"{__name__}._decide_with")

    def visible(self, context):
        return [Case("v1", {}, True, "one verdict per model, disagreements among your letters")]

    def hidden(self, seed, context):
        return [Case("h1", {}, False, "your four models, measured")]

    def run(self, answer, case, context):
        answers, disagree, thresholds = answer
        return {"answers": {str(k): str(v) for k, v in dict(answers).items()},
                "disagree": sorted(str(letter) for letter in disagree),
                "thresholds": {str(k): float(v) for k, v in dict(thresholds).items()}}

    def expected(self, case, context):
        return {letter: {"evidence": model_evidence(m.lm),
                         "train_accuracy": m.train_accuracy}
                for letter, m in context.models.items()}

    def right(self, case, context):
        thresholds = chapter_thresholds()
        models = self.expected(case, context)
        return {"answers": {letter: decide(m["evidence"], m["train_accuracy"], thresholds)
                            for letter, m in models.items()},
                "disagree": sorted(letter for letter, m in models.items()
                                   if _disagree(m["evidence"], m["train_accuracy"], thresholds)),
                "thresholds": thresholds}

    def compare(self, output, expected, case):
        letters = sorted(expected)
        if sorted(output["answers"]) != letters or not set(output["answers"].values()) <= set(VERDICTS):
            return f"ANSWERS must give each of {letters} one of {list(VERDICTS)}."
        if not set(output["disagree"]) <= set(letters):
            return f"DISAGREE holds letters among {letters}."
        if case.visible:
            return None  # whether the verdicts are right is judged when grading
        thresholds = _usable(output["thresholds"])
        wrong = [letter for letter in letters if output["answers"][letter] not in
                 _acceptable(expected[letter], thresholds, _verdicts)]
        if wrong:
            return (f"the verdict on model(s) {', '.join(wrong)} does not follow from its measured "
                    "evidence by the rules with your thresholds.")
        wrong = [letter for letter in letters
                 if (letter in output["disagree"]) not in _acceptable(expected[letter], thresholds,
                                                                      _disagree)]
        if wrong:
            return (f"DISAGREE is wrong about model(s) {', '.join(wrong)}: the two overfit signals "
                    "disagree when exactly one of them (train − held-out accuracy, confidence "
                    "gap) is at or above its threshold.")
        return None


def _usable(thresholds: dict) -> dict:
    """The student's thresholds whenever they are four numbers, right or wrong (Part 4 judges
    the decisions that follow from them, so that a wrong Part 2 does not cost Part 4 again);
    the chapter's otherwise."""
    if set(thresholds) == set(THRESHOLD_KEYS) and all(map(math.isfinite, thresholds.values())):
        return thresholds
    return chapter_thresholds()


def _verdicts(evidence, train_accuracy, thresholds):
    return decide(evidence, train_accuracy, thresholds)


def _disagree(evidence, train_accuracy, thresholds):
    by_gap = train_accuracy - evidence["accuracy"] >= thresholds["accuracy_gap"]
    by_confidence = evidence["confidence_gap"] >= thresholds["confidence_gap"]
    return by_gap != by_confidence


def _acceptable(model: dict, thresholds: dict, judge) -> set:
    """What `judge` gives with every threshold moved by up to `DECISION_TOLERANCE` either way:
    near a threshold, both sides are right answers."""
    results = set()
    for steps in np.ndindex(*(3,) * len(thresholds)):
        moved = {key: value + (step - 1) * DECISION_TOLERANCE
                 for (key, value), step in zip(thresholds.items(), steps)}
        results.add(judge(model["evidence"], model["train_accuracy"], moved))
    return results


PARTS = (HeldOutEvidence(), Thresholds(), Verdict(), YourModels())

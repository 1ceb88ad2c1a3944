"""Assignment 3, "[SEP] and boundaries": attention across the border of a sentence pair, against
evenly spread attention, and whether it tells a true next sentence from a random one.

Book chapter: "[SEP] and boundaries" (sections "[SEP] share, single sentences against pairs" and
"Does attention see the border, and how the sentences relate?"). Expected results come from
`bertlab.roles.measure` and `bertlab.roles.text_measures` when grading.

Shape letters: L layers, H heads, Q queries, K keys, N pairs.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ... import extract_batch, roles
from ...datasets import load_pairs
from ...loading import LoadedModel
from ..keys import digest
from ..parts import Case, Part, close, describe_gap, in_order, layer_word, one_call_each

__all__ = ["SETUP_DATA", "PAIRS_SIZE", "EFFECT_SIZES", "student_pairs", "effect_size", "PARTS"]

#: What the notebook's setup cell computes from the model and the data. Graded functions run
#: apart from the notebook (`bertlab.course.isolated`), where these names do not exist; the
#: notebook's check says so when a function reads one (a test compares this with the notebook).
SETUP_DATA = ("lm", "PAIRS", "FIRST", "SECOND", "IS_NEXT", "pair_attention", "single_attention",
              "PER_PAIR", "example")

#: Sentence pairs each student measures: half true next sentences, half random ones.
PAIRS_SIZE = 40
#: Cohen's conventional names for |d| from these values up (below the first: "none").
EFFECT_SIZES = {"small": 0.2, "medium": 0.5, "large": 0.8}
#: Layers whose |d| is within this of the largest are accepted as "the layer with the largest
#: effect": 40 pairs cannot tell such layers apart.
LAYER_TOLERANCE = 0.05
#: How far Cohen's d may be from the grader's (float32 against float64 sums); near a size
#: boundary either name is accepted.
D_TOLERANCE = 0.01
#: What Parts 1-3 may not call: bertlab's measurements, and this module (whose helpers
#: compute them too).
_MEASUREMENTS = ("bertlab.roles", "bertlab.metrics", __name__)


def student_pairs(key: str):
    """The student's `PAIRS_SIZE` training pairs (columns text, text_pair, label; label 1 = the
    true next sentence), in file order."""
    return _student_pairs(key)


@functools.cache
def _student_pairs(key: str):
    frame = load_pairs("train")
    halves = [frame[frame.label == label].sample(PAIRS_SIZE // 2,
                                                 random_state=digest(key, f"sep/{label}") % 2**32)
              for label in (1, 0)]
    return frame.loc[sorted(halves[0].index.tolist() + halves[1].index.tolist())]


def effect_size(d: float) -> str:
    """Cohen's name for the size of an effect d: none, small, medium or large."""
    names = [name for name, start in EFFECT_SIZES.items() if abs(d) >= start]
    return names[-1] if names else "none"


@functools.lru_cache(maxsize=256)
def _measured(lm: LoadedModel, first: str, second: str | None):
    """bertlab's (layer, head) measures of one pair (or single sentence) and its Attention."""
    att = extract_batch(lm, [first], None if second is None else [second])[0]
    return att, roles.measure(att)


def _as_grid(table, column) -> list:
    return table.pivot(index="layer", columns="head", values=column).to_numpy().tolist()


def _attentions(case: Case, context):
    return [_measured(context.lm, first, second)[0] for first, second in _texts(case)]


def _visible_pairs(context, single: bool = False) -> list[Case]:
    pairs = student_pairs(context.key)
    cases = [Case("v1", {"first": pairs.text.tolist()[:6], "second": pairs.text_pair.tolist()[:6]},
                  True, "six of your pairs")]
    if single:
        cases.append(Case("v2", {"first": [pairs.text.iloc[0]], "second": [None]}, True,
                          "a single sentence"))
    return cases


def _hidden_pairs(seed: int) -> list[Case]:
    test = load_pairs("test").sample(6, random_state=seed % 2**32)
    return [Case("h1", {"first": test.text.tolist(), "second": test.text_pair.tolist()}, False,
                 "six other pairs, next and random")]


def _texts(case: Case):
    return zip(case.spec["first"], case.spec["second"])


class CrossSegmentShare(Part):
    name, title = "cross_segment_share", "Part 1, cross_segment_share"
    forbidden = _MEASUREMENTS

    def visible(self, context):
        return _visible_pairs(context, single=True)

    def hidden(self, seed, context):
        return _hidden_pairs(seed)

    def calls(self, case, context):
        return one_call_each(_attentions(case, context))

    def output(self, results, unchanged):
        return in_order(results)

    def expected(self, case, context):
        return [_as_grid(_measured(context.lm, a, b)[1], "cross_segment_share")
                for a, b in _texts(case)]

    def compare(self, output, expected, case):
        if close(output, expected):
            return None
        return f"the cross-segment share {describe_gap(output, expected)} against bertlab's."

    def mistakes(self, case, context):
        attentions = _attentions(case, context)
        if not attentions[0].is_pair:
            yield ("a single sentence has no border: return NaN for every layer and head, so that "
                   "it cannot be mistaken for 'no attention crosses'.",
                   [torch.zeros(att.weights.shape[:2]) for att in attentions])
            return
        yield ("a query in the second sentence crosses the border by attending to the *first*: "
               "compare each key's segment id with the query's own, not with 1.",
               [att.weights[..., att.segment_ids == 1].sum(-1).mean(-1) for att in attentions])


class BorderLift(Part):
    name, title = "border_lift", "Part 2, border_lift"
    forbidden = _MEASUREMENTS

    def visible(self, context):
        return _visible_pairs(context)

    def hidden(self, seed, context):
        return _hidden_pairs(seed)

    def calls(self, case, context):
        return one_call_each((att, torch.tensor(cross)) for att, cross in self._given(case, context))

    def output(self, results, unchanged):
        return in_order(results)

    @staticmethod
    def _given(case, context):
        """Per pair: its Attention and bertlab's cross-segment share ``[L, H]``."""
        for first, second in _texts(case):
            att, table = _measured(context.lm, first, second)
            yield att, _as_grid(table, "cross_segment_share")

    def expected(self, case, context):
        return [_as_grid(_measured(context.lm, a, b)[1], "cross_segment_lift")
                for a, b in _texts(case)]

    def compare(self, output, expected, case):
        if close(output, expected, tolerance=1e-3):
            return None
        return f"the lift {describe_gap(output, expected)} against bertlab's cross_segment_lift."

    def mistakes(self, case, context):
        lifts = [torch.tensor(cross, dtype=torch.float64) / (att.segment_ids == 1).double().mean()
                 for att, cross in self._given(case, context)]
        yield ("the even share is, per query, the fraction of tokens in the *other* sentence (for "
               "a query in the second sentence, the first sentence's length / n), averaged over "
               "the queries; not the second sentence's fraction for every query.", lifts)


class SepShareByLayer(Part):
    name, title = "sep_share_by_layer", "Part 3, sep_share_by_layer"
    forbidden = _MEASUREMENTS

    def visible(self, context):
        pairs = student_pairs(context.key).head(8)
        return [Case("v1", {"first": pairs.text.tolist(), "second": pairs.text_pair.tolist()}, True,
                     "eight of your pairs"),
                Case("v2", {"first": pairs.text.tolist(), "second": [None] * 8}, True,
                     "their first sentences alone")]

    def hidden(self, seed, context):
        test = load_pairs("test").sample(6, random_state=(seed + 1) % 2**32)
        return [Case("h1", {"first": test.text.tolist(), "second": test.text_pair.tolist()}, False,
                     "six other pairs"),
                Case("h2", {"first": test.text_pair.tolist(), "second": [None] * 6}, False,
                     "six single sentences")]

    def calls(self, case, context):
        return {"": ((list(_attentions(case, context)),), {})}

    def output(self, results, unchanged):
        return np.asarray(results[""], dtype=float).tolist()

    def expected(self, case, context):
        tables = [_measured(context.lm, a, b)[1] for a, b in _texts(case)]
        return np.mean([t.groupby("layer")["sep_share"].mean().to_numpy() for t in tables],
                       axis=0).tolist()

    def compare(self, output, expected, case):
        if close(output, expected):
            return None
        return f"the [SEP] share per layer {describe_gap(output, expected)} against bertlab's."

    def mistakes(self, case, context):
        attentions = _attentions(case, context)
        if attentions[0].is_pair:
            yield ("a pair has two [SEP] tokens: sum over every [SEP] key (att.sep_mask), not only "
                   "the last position.",
                   np.mean([att.weights[..., -1].double().mean(dim=(1, 2)).numpy()
                            for att in attentions], axis=0))


class BorderEffect(Part):
    """Part 4: in which layer does the border lift differ most between true next and random
    pairs, and how large is that difference?"""

    name, title = "border_effect", "Part 4, the border effect"
    form_only = True
    is_value = True
    #: The book's own Cohen's d of the border (`bertlab.claims.attention.border_effect`) answers
    #: it; the point is to compute it.
    forbidden = ("bertlab.claims.attention",)

    def visible(self, context):
        return [Case("v1", {}, True, "the form of BORDER")]

    def hidden(self, seed, context):
        return [Case("h1", {}, False, "your 40 pairs, measured")]

    def run(self, answer, case, context):
        return {"layer": int(answer["layer"]), "d": float(answer["d"]), "size": str(answer["size"])}

    def expected(self, case, context):
        if case.visible:  # the form only: whether it is right is judged when grading
            return {"n_layers": context.lm.n_layers}
        return {"n_layers": context.lm.n_layers, "d_by_layer": _cohens_d(context.lm, context.key)}

    def right(self, case, context):
        if case.visible:
            return {"layer": 1, "d": 0.0, "size": "none"}
        d_by_layer = self.expected(case, context)["d_by_layer"]
        layer = max(range(len(d_by_layer)), key=lambda index: abs(d_by_layer[index]))
        return {"layer": layer + 1, "d": d_by_layer[layer], "size": effect_size(d_by_layer[layer])}

    def compare(self, output, expected, case):
        if not 1 <= output["layer"] <= expected["n_layers"]:
            return f"BORDER['layer'] is a layer number from 1 to {expected['n_layers']}."
        if output["size"] not in ("none", *EFFECT_SIZES):
            return f"BORDER['size'] is one of {['none', *EFFECT_SIZES]}."
        if case.visible:
            return None
        d_by_layer = expected["d_by_layer"]
        largest = max(abs(d) for d in d_by_layer)
        near_largest = [layer + 1 for layer, d in enumerate(d_by_layer)
                        if abs(d) >= largest - LAYER_TOLERANCE]
        if output["layer"] not in near_largest:
            return ("BORDER['layer'] is not the layer (counted from 1) with the largest |d| "
                    "between next and random pairs.")
        d = d_by_layer[output["layer"] - 1]
        if abs(output["d"] - d) > D_TOLERANCE:
            return (f"BORDER['d'] is not Cohen's d of {layer_word(output['layer'] - 1)} (within "
                    f"{D_TOLERANCE}): (mean over next pairs − mean over random pairs) / pooled "
                    "standard deviation, every pair one value (its lift averaged over heads).")
        sizes = {effect_size(d + step) for step in (-D_TOLERANCE, 0.0, D_TOLERANCE)}
        if output["size"] not in sizes:
            return (f"BORDER['size'] {output['size']!r} is not Cohen's name for |d| = "
                    f"{abs(output['d']):.2f} (small from 0.2, medium from 0.5, large from 0.8).")
        return None


@functools.lru_cache(maxsize=32)
def _cohens_d(lm: LoadedModel, key: str) -> list[float]:
    """Per layer, Cohen's d of the border lift (mean over heads) between next and random pairs."""
    pairs = student_pairs(key)
    per_text = roles.text_measures(lm, pairs.text.tolist(), pairs.text_pair.tolist())
    lift = per_text.groupby(["text", "layer"])["cross_segment_lift"].mean().unstack("layer")  # [N, L]
    is_next = pairs.label.to_numpy() == 1
    d = []
    for layer in lift.columns:
        a, b = lift[layer].to_numpy()[is_next], lift[layer].to_numpy()[~is_next]
        pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1))
                         / (len(a) + len(b) - 2))
        d.append(float((a.mean() - b.mean()) / pooled))
    return d


PARTS = (CrossSegmentShare(), BorderLift(), SepShareByLayer(), BorderEffect())

"""Assignment 1, "Extract and score": shares, the [CLS] row and entropy on a raw padded batch, and
a bootstrap interval that decides a claim.

Book chapter: "Extracting and reading attention" (sections "Padding is removed once" and "From
matrices to scores"); the interval and its three verdicts are those of the claims records
(../shared/DESIGN.md, "Claims records"). Expected values come from `bertlab.extract` and `bertlab.score`
on each text alone, measured when grading.

Shape letters: B texts, L layers, H heads, Q queries, K keys, T padded length.
"""

from __future__ import annotations

import functools
import random

import numpy as np
import torch

from ... import extract, score
from ...datasets import load_reviews
from ...loading import LoadedModel
from ..context import Context
from ..parts import Case, Part, close, describe_gap

__all__ = ["SETUP_DATA", "TEXTS", "RESAMPLES", "padded_batch", "PARTS"]

#: What the notebook's setup cell computes from the model and the data. Graded functions run
#: apart from the notebook (`bertlab.course.isolated`), where these names do not exist; the
#: notebook's check says so when a function reads one (a test compares this with the notebook).
SETUP_DATA = ("lm", "CLS_ID", "SEP_ID", "attention", "input_ids", "attention_mask")

#: The texts of the visible checks: of different lengths, so a batch of them has padding.
TEXTS = ("The dog chased the cat.", "Rain again!",
         "I returned the blender because it leaked on the very first day.",
         "Friendly staff, hot soup, and a quiet table by the window.")
#: Bootstrap resamples of Part 4 (its intervals move by about 0.002 from one random stream to
#: another, far inside the part's tolerance).
RESAMPLES = 2000
#: How far an interval's ends may sit from the grader's: two random streams, or the normal
#: approximation instead of percentiles, differ by less than 0.01 on these cases; the realistic
#: mistakes (a standard deviation for the standard error, resampling without replacement) by more
#: than 0.05.
INTERVAL_TOLERANCE = 0.015
#: Attention modules an implementation part may not call: they are what the part rebuilds.
#: (and this module, whose helpers compute the same measurements).
_MEASUREMENTS = ("bertlab.metrics", "bertlab.roles", "bertlab.extraction", __name__)


def padded_batch(lm: LoadedModel, texts, padding_side: str = "right"):
    """Run the model once on a padded batch of `texts`.

    Returns attention ``[B, L, H, Q, K]`` (float32, CPU), input_ids ``[B, T]`` and
    attention_mask ``[B, T]`` (bool, True on real tokens). Position ids count real tokens only,
    so a left-padded text gets the same attention as a right-padded one, shifted.
    """
    return _padded_batch(lm, tuple(texts), padding_side)


@functools.lru_cache(maxsize=64)
def _padded_batch(lm: LoadedModel, texts: tuple[str, ...], padding_side: str):
    encoding = lm.tokenizer(list(texts), padding=True, padding_side=padding_side,
                            return_tensors="pt")
    mask = encoding["attention_mask"]                                       # [B, T]
    inputs = {**encoding, "position_ids": (mask.cumsum(dim=1) - 1).clamp(min=0)}
    with torch.inference_mode():
        outputs = lm.model(**{k: v.to(lm.device) for k, v in inputs.items()},
                           output_attentions=True)
    attention = torch.stack(outputs.attentions, dim=1).float().cpu()        # [B, L, H, Q, K]
    return attention, encoding["input_ids"], mask.bool()


def _batch(case: Case, context: Context):
    """A fresh copy of the case's padded batch (answers may write into what they are given)."""
    attention, input_ids, mask = padded_batch(context.lm, case.spec["texts"], case.spec["side"])
    return attention.clone(), input_ids.clone(), mask.clone()


@functools.lru_cache(maxsize=256)
def _measured(lm: LoadedModel, text: str):
    """bertlab's measurement of one text alone: its Attention and its score table."""
    att = extract(lm, text)
    return att, score(att)


def _reference(lm: LoadedModel, text: str, metric: str) -> torch.Tensor:
    """bertlab's `metric` of one text alone, ``[L, H]``."""
    table = _measured(lm, text)[1].pivot(index="layer", columns="head", values=metric)
    return torch.tensor(table.to_numpy(), dtype=torch.float64)


def _visible_batches(*sides: str) -> list[Case]:
    return [Case(f"v{i}", {"texts": list(TEXTS), "side": side}, True, f"{side}-padded")
            for i, side in enumerate(sides, start=1)]


def _hidden_batches(seed: int) -> list[Case]:
    """Reviews drawn with `seed`, each batch padded on both sides; one batch puts the shortest
    review beside three long ones (the most padding)."""
    reviews = load_reviews("test").text.tolist()
    draw = random.Random(seed)
    batches = [[min(reviews, key=len), *draw.sample(reviews, 3)], draw.sample(reviews, 5)]
    specs = [{"texts": texts, "side": side} for texts in batches for side in ("left", "right")]
    return [Case(f"h{i}", spec, False, f"{len(spec['texts'])} reviews, {spec['side']}-padded")
            for i, spec in enumerate(specs, start=1)]


class ShareToKeys(Part):
    name, title = "share_to_keys", "Part 1, share_to_keys"
    forbidden = _MEASUREMENTS

    def visible(self, context):
        return _visible_batches("right", "left")

    def hidden(self, seed, context):
        return _hidden_batches(seed)

    def calls(self, case, context):
        attention, input_ids, mask = _batch(case, context)
        tok = context.lm.tokenizer
        return {"all": ((attention, mask, mask), {}),
                "cls": ((attention, input_ids == tok.cls_token_id, mask), {}),
                "sep": ((attention, input_ids == tok.sep_token_id, mask), {})}

    def output(self, results, unchanged):
        return {**results, "unchanged": unchanged}

    def expected(self, case, context):
        texts, lm = case.spec["texts"], context.lm
        shape = (len(texts), lm.n_layers, lm.n_heads)
        return {"all": torch.ones(shape).tolist(),
                "cls": [_reference(lm, text, "cls_share").tolist() for text in texts],
                "sep": [_reference(lm, text, "sep_share").tolist() for text in texts],
                "unchanged": True}

    def compare(self, output, expected, case):
        if output["unchanged"] is not True:
            return "share_to_keys changed its input tensor: compute new tensors, never write into attention."
        for key, what in (("all", "with every real key in the set (each text's share must be 1)"),
                          ("cls", "the [CLS] share"), ("sep", "the [SEP] share")):
            if not close(output[key], expected[key]):
                return f"{what} {describe_gap(output[key], expected[key])}, against bertlab's measurement."
        return None

    def mistakes(self, case, context):
        attention, input_ids, mask = _batch(case, context)
        tok = context.lm.tokenizer

        def per_row(keys):                                                       # [B, L, H, Q]
            return torch.einsum("blhqk,bk->blhq", attention, (keys & mask).float())

        def every_row(keys):    # the padded query rows averaged in with the real ones
            return per_row(keys).mean(dim=-1)

        def padded_length(keys):  # the real rows summed, but divided by the padded length
            return torch.einsum("blhq,bq->blh", per_row(keys), mask.float()) / mask.shape[1]

        for hint, share in (
                ("the padded query rows are averaged in: a text's value is the mean over its real "
                 "query rows only (attention_mask), each weighted equally.", every_row),
                ("the sum over real query rows is divided by the padded length: divide by each "
                 "text's number of real tokens instead.", padded_length)):
            yield hint, {"all": share(mask), "cls": share(input_ids == tok.cls_token_id),
                         "sep": share(input_ids == tok.sep_token_id), "unchanged": True}


class ClsRow(Part):
    name, title = "cls_row", "Part 2, cls_row"
    forbidden = _MEASUREMENTS

    def visible(self, context):
        return _visible_batches("left", "right")

    def hidden(self, seed, context):
        return _hidden_batches(seed)

    def calls(self, case, context):
        attention, input_ids, _ = _batch(case, context)
        return {"": ((attention, input_ids, context.lm.tokenizer.cls_token_id), {})}

    def expected(self, case, context):
        """Per text: bertlab's [CLS] query row at the text's real key positions, 0 on padding."""
        attention, _, mask = _batch(case, context)
        rows = torch.zeros(attention.shape[0], attention.shape[1], attention.shape[2],
                           attention.shape[4], dtype=torch.float64)            # [B, L, H, K]
        for b, text in enumerate(case.spec["texts"]):
            att = _measured(context.lm, text)[0]
            rows[b][:, :, mask[b]] = att.weights[:, :, att.cls_positions[0]].double()
        return rows.tolist()

    def mistakes(self, case, context):
        attention, input_ids, _ = _batch(case, context)
        position = (input_ids == context.lm.tokenizer.cls_token_id).int().argmax(dim=1)  # [B]
        texts = torch.arange(attention.shape[0])
        if case.spec["side"] == "left":
            yield ("this is the row at index 0, which holds padding when the batch is padded on "
                   "the left: find each text's [CLS] with input_ids == cls_token_id.",
                   attention[:, :, :, 0])
        yield ("this is the attention *to* [CLS] (a column: every query's weight on [CLS]); the "
               "[CLS] row is what [CLS] attends to: index the query axis (Q), keep the key axis.",
               attention.permute(0, 1, 2, 4, 3)[texts, :, :, position])

    def compare(self, output, expected, case):
        if close(output, expected):
            return None
        return (f"{describe_gap(output, expected)} from the [CLS] query row that bertlab "
                f"measures on each text alone ({case.spec['side']}-padded batch).")


class RowEntropy(Part):
    name, title = "row_entropy", "Part 3, row_entropy"
    forbidden = _MEASUREMENTS

    def visible(self, context):
        return _visible_batches("right")

    def hidden(self, seed, context):
        return _hidden_batches(seed)

    def calls(self, case, context):
        attention, _, mask = _batch(case, context)
        n_real = mask.sum(dim=1)                                                # [B]
        even = (mask[:, None, None, None, :] / n_real[:, None, None, None, None]).expand_as(
            attention).float().clone()                              # [B, L, H, Q, K], rows even
        return {"entropy": ((attention, mask), {}),
                "normalised": ((attention, mask), {"normalised": True}),
                "even": ((even, mask), {"normalised": True})}

    def output(self, results, unchanged):
        return results

    def expected(self, case, context):
        texts, lm = case.spec["texts"], context.lm
        entropy = [_reference(lm, text, "entropy") for text in texts]
        lengths = [_measured(lm, text)[0].n_tokens for text in texts]
        return {"entropy": [e.tolist() for e in entropy],
                "normalised": [(e / np.log(n)).tolist() for e, n in zip(entropy, lengths)],
                "even": torch.ones(len(texts), lm.n_layers, lm.n_heads).tolist()}

    def compare(self, output, expected, case):
        for key, what in (("entropy", "the entropy"), ("normalised", "the normalised entropy"),
                          ("even", "evenly spread attention, normalised (it must give 1)")):
            if not close(output[key], expected[key]):
                return f"{what} {describe_gap(output[key], expected[key])}."
        return None

    def mistakes(self, case, context):
        attention, _, mask = _batch(case, context)
        even = (mask[:, None, None, None, :] / mask.sum(1)[:, None, None, None, None]
                ).expand_as(attention)                                           # [B, L, H, Q, K]
        for hint, mistake in (
                ("0 · ln 0 must count as 0 (padded keys have weight exactly 0): "
                 "torch.special.xlogy(a, a) computes a · ln a with that convention.",
                 {"zero_log_zero": "nan"}),
                ("the padded query rows are averaged in: average the row entropies over each "
                 "text's real query rows only.", {"every_row": True}),
                ("normalised by ln of the padded length: divide by ln n with n the number of "
                 "*real* tokens of each text.", {"padded_length": True}),
                ("the entropy is in bits: the course measures it in nats (natural logarithm).",
                 {"log": torch.log2})):
            entropy, normalised = _entropies(attention, mask, **mistake)
            yield hint, {"entropy": entropy, "normalised": normalised,
                         "even": _entropies(even, mask, **mistake)[1]}


def _entropies(attention, mask, *, zero_log_zero="zero", every_row=False, padded_length=False,
               log=torch.log):
    """Mean row entropy ``[B, L, H]`` and its normalised form, computed with one of the
    realistic mistakes switched on (the right computation when all are off)."""
    a = attention.double()
    terms = a * log(a)                                                           # [B, L, H, Q, K]
    if zero_log_zero == "zero":
        terms = terms.nan_to_num(nan=0.0)
    per_row = -terms.sum(dim=-1)                                                 # [B, L, H, Q]
    n_real = mask.sum(dim=1).double()                                            # [B]
    if every_row:
        mean = per_row.mean(dim=-1)
    else:
        mean = torch.einsum("blhq,bq->blh", per_row, mask.double()) / n_real[:, None, None]
    n = torch.full_like(n_real, mask.shape[1]) if padded_length else n_real
    return mean, mean / torch.log(n)[:, None, None]


class ShareVerdict(Part):
    """Part 4: a bootstrap interval for a mean share, and the verdict it supports."""

    name, title = "share_verdict", "Part 4, share_verdict"

    def visible(self, context):
        return [Case("v1", {"values": _uniform(30, 0.2, 0.6, 1), "threshold": 0.3}, True,
                     "a spread of values well above the threshold"),
                Case("v2", {"values": [_AT] * 12, "threshold": _AT}, True,
                     "every value exactly on the threshold")]

    def hidden(self, seed, context):
        centre = random.Random(seed).uniform(0.35, 0.5)
        specs = [
            ({"values": [_AT - 1 / 64] * 20, "threshold": _AT}, "every value just below the threshold"),
            ({"values": [_AT] * 29 + [_AT - 0.25], "threshold": _AT},
             "the interval's top end exactly on the threshold"),
            ({"values": _uniform(40, centre - 0.3, centre + 0.3, seed), "threshold": round(centre, 4)},
             "an interval around the threshold"),
            ({"values": _uniform(25, 0.0, 0.2, seed + 1), "threshold": 0.3},
             "a spread of values well below the threshold"),
            ({"values": _texts_cls_share(context, seed), "threshold": 0.3},
             "the [CLS] share of layer 3 on 30 reviews"),
        ]
        return [Case(f"h{i}", spec, False, about) for i, (spec, about) in enumerate(specs, start=1)]

    def calls(self, case, context):
        return {"": ((list(case.spec["values"]), case.spec["threshold"]), {})}

    def output(self, results, unchanged):
        low, high, verdict = results[""]
        return {"low": float(low), "high": float(high), "verdict": str(verdict)}

    def expected(self, case, context):
        values = np.asarray(case.spec["values"], dtype=float)
        means = values[np.random.default_rng(0).integers(0, len(values), (RESAMPLES, len(values)))
                       ].mean(axis=1)                                          # [RESAMPLES]
        low, high = np.percentile(means, [2.5, 97.5])
        return {"low": float(low), "high": float(high),
                "verdict": _verdict(float(low), float(high), case.spec["threshold"])}

    def compare(self, output, expected, case):
        threshold = case.spec["threshold"]
        for end in ("low", "high"):
            if abs(output[end] - expected[end]) > INTERVAL_TOLERANCE:
                return (f"the interval's {end} end is off by {abs(output[end] - expected[end]):.3f} "
                        "from a 95 % percentile bootstrap of the mean (resample the values with "
                        "replacement, take each resample's mean, then the 2.5th and 97.5th "
                        "percentiles of those means).")
        # Near the threshold the grader's own interval decides, so that Monte Carlo noise in
        # the student's cannot flip a verdict that is right for their interval.
        acceptable = {expected["verdict"], _verdict(output["low"], output["high"], threshold)}
        if output["verdict"] not in acceptable:
            return (f"the verdict {output['verdict']!r} does not follow from the interval "
                    f"[{output['low']:.3f}, {output['high']:.3f}] and the threshold {threshold}: "
                    "'holds' when the whole interval is at or above it, 'does not hold' when the "
                    "whole interval is below it, 'undecided' otherwise.")
        return None

    def mistakes(self, case, context):
        values = np.asarray(case.spec["values"], dtype=float)
        spread = 1.96 * values.std(ddof=1) if len(values) > 1 else 0.0
        mean = float(values.mean())
        yield ("the interval is as wide as the values' spread: the bootstrap resamples *texts* "
               "and takes each resample's *mean*; the spread of those means is much narrower.",
               {"low": mean - spread, "high": mean + spread, "verdict": _verdict(
                   mean - spread, mean + spread, case.spec["threshold"])})
        yield ("the interval has no width: resampling without replacement gives the same mean "
               "every time (draw with replacement: numpy's rng.integers or rng.choice(..., "
               "replace=True)).",
               {"low": mean, "high": mean, "verdict": _verdict(mean, mean, case.spec["threshold"])})


#: A threshold for the exact cases: 3/8 and every value made from it are exact binary fractions,
#: so sums and means of them are exact and a value "on the threshold" really is.
_AT = 0.375


def _verdict(low: float, high: float, threshold: float) -> str:
    """The verdict of a claim "the value is at least `threshold`" from its interval."""
    if low >= threshold:
        return "holds"
    if high < threshold:
        return "does not hold"
    return "undecided"


def _uniform(size: int, low: float, high: float, seed: int) -> list[float]:
    return np.random.default_rng(seed).uniform(low, high, size).round(4).tolist()


def _texts_cls_share(context: Context, seed: int) -> list[float]:
    """Per text, the [CLS] share of layer 3 (index 2), mean over heads, on 30 reviews."""
    texts = load_reviews("test").sample(30, random_state=seed % 2**32).text.tolist()
    return [round(float(_reference(context.lm, text, "cls_share")[2].mean()), 6) for text in texts]


PARTS = (ShareToKeys(), ClsRow(), RowEntropy(), ShareVerdict())

"""Assignment 2, "Layer roles": profile a layer, label it by the chapter's rules, and judge the
roles of three models nobody has labelled for you, fragile labels included.

Book chapter: "Layer roles" (sections "Per-layer profiles" and "Roles by rule"). The rules and
their thresholds are `bertlab.roles`' (`label_layers`, `STRONG_SHARE`, `LEAD_MARGIN`,
`BROAD_ENTROPY`); expected results come from `bertlab.roles` measurements when grading.

Shape letters: L layers, H heads, Q queries, K keys, N texts, R resamples.
"""

from __future__ import annotations

import copy
import functools
import random

import numpy as np
import pandas as pd
import torch
from transformers import BertModel

from ... import extract_batch, roles, wrap
from ...datasets import load_pairs, load_reviews
from ...loading import LoadedModel
from ..context import Context, model
from ..keys import digest
from ..parts import Case, Part, close, describe_gap, in_order, one_call_each

__all__ = ["SETUP_DATA", "PROFILE", "RESAMPLES", "FRAGILE_SHARE", "corpus", "course_models", "PARTS"]

#: What the notebook's setup cell computes from the model and the data. Graded functions run
#: apart from the notebook (`bertlab.course.isolated`), where these names do not exist; the
#: notebook's check says so when a function reads one (a test compares this with the notebook).
SETUP_DATA = ("KEY", "CORPUS", "models", "lm", "attentions", "PROFILES")

#: The profile's columns, as `bertlab.roles.layer_profile` names them.
PROFILE = ("local_share", "cls_share", "sep_share", "normalised_entropy")
#: Reviews each student profiles their three models on (drawn by their key).
CORPUS_SIZE = 24
#: Bootstrap resamples of the texts (Part 3).
RESAMPLES = 1000
#: A role is fragile when at least this share of resamples gives the layer another role: a
#: label that one text sample in twenty would change is not one to report without a caveat.
FRAGILE_SHARE = 0.05
#: Where a layer's share of changed resamples is this close to `FRAGILE_SHARE`, two honest
#: bootstraps (another random stream, 1000 against 4000 resamples) can fall on either side: the
#: grader accepts either answer for that layer.
FRAGILE_TOLERANCE = 0.025
#: What Parts 1 and 2 may not call: bertlab's measurements and rules, and this module (whose
#: helpers compute them too).
_MEASUREMENTS = ("bertlab.roles", "bertlab.metrics", __name__)


def corpus(key: str) -> list[str]:
    """The `CORPUS_SIZE` training reviews of the student with `key`."""
    return _sample(key, "roles/corpus", CORPUS_SIZE)


@functools.cache
def _sample(key: str, purpose: str, size: int) -> list[str]:
    texts = load_reviews("train")
    return texts.sample(n=size, random_state=digest(key, purpose) % 2**32).sort_index().text.tolist()


def course_models(key: str) -> dict[str, LoadedModel]:
    """The three models of Part 3: the pretrained model, one fine-tuned model of the course pool
    (drawn by `key`, shown as "zoo model"), and a BERT of the same shape with random weights
    (seeded by `key`)."""
    return _course_models(key)


@functools.cache
def _course_models(key: str) -> dict[str, LoadedModel]:
    pretrained = model()
    member = Context(key).pool.member(key, "roles/zoo").load()
    zoo_model = wrap(member.model, member.tokenizer, name="zoo model")
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(digest(key, "roles/random") % 2**31)
    random_bert = BertModel(copy.deepcopy(pretrained.model.config)).eval()  # same shape, eager
    torch.random.set_rng_state(generator_state)
    return {"pretrained": pretrained, "zoo": zoo_model,
            "random": wrap(random_bert, pretrained.tokenizer, name="random weights")}


def profiles_per_text(lm: LoadedModel, texts) -> pd.DataFrame:
    """bertlab's profile of each text alone: one row per (text, layer), the `PROFILE` columns
    averaged over heads."""
    return _profiles_per_text(lm, tuple(texts))


@functools.lru_cache(maxsize=16)
def _profiles_per_text(lm: LoadedModel, texts: tuple[str, ...]) -> pd.DataFrame:
    per_head = roles.text_measures(lm, list(texts))
    return per_head.groupby(["text", "layer"], as_index=False)[list(PROFILE)].mean()


def label(row: dict) -> str:
    """The chapter's role of one profile row (`bertlab.roles.label_layers`)."""
    return roles.label_layers(pd.DataFrame([row]))["role"].iloc[0]


class TextProfile(Part):
    name, title = "text_profile", "Part 1, text_profile"
    forbidden = _MEASUREMENTS

    def visible(self, context):
        return [Case("v1", {"texts": corpus(context.key)[:6]}, True, "six of your reviews")]

    def hidden(self, seed, context):
        draw = random.Random(seed)
        reviews = load_reviews("test").text.tolist()
        pairs = load_pairs("test").sample(3, random_state=seed % 2**32)
        return [Case("h1", {"texts": draw.sample(reviews, 6)}, False, "six other reviews"),
                Case("h2", {"texts": pairs.text.tolist(), "pairs": pairs.text_pair.tolist()},
                     False, "three sentence pairs (two [SEP] each)")]

    def calls(self, case, context):
        return one_call_each(self._attentions(case, context))

    def output(self, results, unchanged):
        return in_order(results)

    def expected(self, case, context):
        return [_profile_table(att) for att in self._attentions(case, context)]

    def compare(self, output, expected, case):
        for number, (mine, theirs) in enumerate(zip(output, expected), start=1):
            if not isinstance(mine, dict) or "layer" not in mine:
                return (f"text {number}: return a DataFrame with a 'layer' column and the "
                        f"columns {list(PROFILE)}.")
            if mine.get("layer") != theirs["layer"]:
                return (f"text {number}: expected one row per layer, 'layer' numbered "
                        f"{theirs['layer'][0]} to {theirs['layer'][-1]} (0-based, like bertlab's "
                        "tables).")
            for column in PROFILE:
                if column not in mine:
                    return f"text {number}: the profile lacks the column {column!r}."
                if not close(mine[column], theirs[column]):
                    return (f"text {number}: {column} {describe_gap(mine[column], theirs[column])} "
                            "against bertlab's layer profile.")
        return None if len(output) == len(expected) else "expected one profile per text."

    def mistakes(self, case, context):
        attentions = self._attentions(case, context)
        for hint, variant in (
                ("normalised_entropy: average the heads' entropies, not their maps (the entropy "
                 "of a map averaged over heads is larger than the heads' mean entropy).",
                 {"mean_maps": True}),
                ("local_share: the band is the token itself *and* both neighbours, |i - j| <= 1.",
                 {"band": "neighbours"}),
                ("sep_share: a sentence pair has two [SEP]; sum over every [SEP] key "
                 "(att.sep_mask), not only the last position.", {"sep": "last"})):
            yield hint, [_profile_table(att, **variant) for att in attentions]

    @staticmethod
    def _attentions(case, context):
        return extract_batch(context.lm, case.spec["texts"], case.spec.get("pairs"))


def _profile_table(att, *, mean_maps=False, band="both", sep="all") -> dict:
    """A text's layer profile computed from its Attention, with an optional realistic mistake.
    bertlab's own measurement when no mistake is switched on (checked in the tests)."""
    weights = att.weights.double()                                          # [L, H, Q, K]
    if mean_maps:
        weights = weights.mean(dim=1, keepdim=True)                         # [L, 1, Q, K]
    positions = torch.arange(att.n_tokens)
    offsets = (positions[:, None] - positions[None, :]).abs()               # [Q, K]
    near = (offsets <= 1) if band == "both" else (offsets == 1)
    sep_keys = att.sep_mask if sep == "all" else positions == att.n_tokens - 1
    rows = torch.stack([(weights * near).sum(-1), weights[..., att.cls_mask].sum(-1),
                        weights[..., sep_keys].sum(-1),
                        -torch.special.xlogy(weights, weights).sum(-1) / np.log(att.n_tokens)],
                       dim=-1)                                              # [L, H', Q, 4]
    per_layer = rows.mean(dim=2).mean(dim=1)                                # [L, 4]
    table = {"layer": list(range(att.n_layers))}
    table.update({column: per_layer[:, i].tolist() for i, column in enumerate(PROFILE)})
    return table


class LayerRole(Part):
    name, title = "layer_role", "Part 2, layer_role"
    forbidden = _MEASUREMENTS

    def visible(self, context):
        strong, lead, broad = roles.STRONG_SHARE, roles.LEAD_MARGIN, roles.BROAD_ENTROPY
        quiet = dict(local_share=0.05, cls_share=0.05, sep_share=0.05, normalised_entropy=0.2)
        rows = [
            ({**quiet, "local_share": strong + 0.2}, "a strong local share, well ahead"),
            ({**quiet, "cls_share": strong + 0.3}, "a strong [CLS] share, well ahead"),
            ({**quiet, "local_share": strong + 0.05, "cls_share": strong + 0.05 - lead / 2,
              "normalised_entropy": broad + 0.1}, "two strong shares too close, spread attention"),
            ({**quiet, "cls_share": strong - 0.05}, "no share strong, attention not spread"),
        ]
        return [Case(f"v{i}", {"row": row}, True, about) for i, (row, about) in
                enumerate(rows, start=1)]

    def hidden(self, seed, context):
        strong, lead, broad = roles.STRONG_SHARE, roles.LEAD_MARGIN, roles.BROAD_ENTROPY
        draw = random.Random(seed)
        low = lambda: round(draw.uniform(0.0, 0.08), 4)  # noqa: E731  (a weak share)
        shares = ["local_share", "cls_share", "sep_share"]
        leader, runner, third = draw.sample(shares, 3)
        rows = [
            ({leader: strong, runner: low(), third: low(), "normalised_entropy": 0.3},
             "the leading share exactly at STRONG_SHARE"),
            ({leader: low(), runner: low(), third: low(), "normalised_entropy": broad},
             "normalised entropy exactly at BROAD_ENTROPY"),
            ({leader: strong + 0.25, runner: low(), third: low(), "normalised_entropy": broad + 0.15},
             "a strong, leading share in a layer whose attention is also spread"),
            ({leader: strong + 0.1, runner: strong + 0.1 - lead / 2, third: low(),
              "normalised_entropy": broad - 0.2}, "two strong shares too close, attention not spread"),
            ({leader: strong + 0.1, runner: strong + 0.1 - lead - 0.02, third: low(),
              "normalised_entropy": broad + 0.1}, "a strong share leading by just over LEAD_MARGIN"),
        ]
        zoo_profile = _profiles_per_text(course_models(context.key)["zoo"], tuple(corpus(context.key)))
        for layer, layer_rows in zoo_profile.groupby("layer"):
            measured = {column: round(float(layer_rows[column].mean()), 6) for column in PROFILE}
            rows.append((measured, f"layer {layer + 1} of a measured profile"))
        return [Case(f"h{i}", {"row": row}, False, about) for i, (row, about) in
                enumerate(rows, start=1)]

    def calls(self, case, context):
        return {"": ((pd.Series(case.spec["row"], dtype=float),), {})}

    def expected(self, case, context):
        return label(case.spec["row"])

    def compare(self, output, expected, case):
        if output == expected:
            return None
        shown = {k: round(v, 4) for k, v in case.spec["row"].items()}
        return (f"a layer with {shown} gets {output!r} from your layer_role; the rules give "
                "another role. Check them in order, with 'at least' meaning >=.")

    def mistakes(self, case, context):
        row = case.spec["row"]
        yield ("'at least' is >=: a share exactly at STRONG_SHARE is strong, an entropy exactly "
               "at BROAD_ENTROPY is broad.", _role(row, strict=True))
        yield ("rule 1 comes first: a strong, leading share names the role even when attention "
               "is also spread.", _role(row, broad_first=True))
        yield ("the largest share must also lead the runner-up by at least LEAD_MARGIN to name "
               "the role.", _role(row, margin=False))


def _role(row: dict, *, strict=False, broad_first=False, margin=True) -> str:
    """The chapter's rules with one realistic mistake switched on."""
    names = {"local_share": "local", "cls_share": "cls-aggregating", "sep_share": "sep/boundary"}
    ranked = sorted(names, key=lambda column: row[column], reverse=True)
    at_least = (lambda a, b: a > b) if strict else (lambda a, b: a >= b)
    leader, runner = row[ranked[0]], row[ranked[1]]
    strong = at_least(leader, roles.STRONG_SHARE) and (
        not margin or leader - runner >= roles.LEAD_MARGIN)
    spread = at_least(row["normalised_entropy"], roles.BROAD_ENTROPY)
    if broad_first and spread:
        return "broad"
    if strong:
        return names[ranked[0]]
    return "broad" if spread else "mixed"


class RolesAndFragility(Part):
    """Part 3: the role of every layer of three models, and which of those labels are fragile."""

    name, title = "roles", "Part 3, roles and fragile labels"
    is_value = True

    def visible(self, context):
        return [Case("v1", {"model": "pretrained"}, True, "the pretrained model")]

    def hidden(self, seed, context):
        return [Case("h1", {"model": "zoo"}, False, "your zoo model"),
                Case("h2", {"model": "random"}, False, "the model with random weights")]

    def run(self, answer, case, context):
        found_roles, fragile = answer
        name = case.spec["model"]
        return {"roles": list(found_roles[name]), "fragile": sorted(int(layer) for layer in fragile[name])}

    def expected(self, case, context):
        lm = course_models(context.key)[case.spec["model"]]
        return _roles_and_changes(lm, tuple(corpus(context.key)))

    def right(self, case, context):
        expected = self.expected(case, context)
        return {"roles": expected["roles"], "fragile": [
            layer + 1 for layer, share in enumerate(expected["changed"]) if share >= FRAGILE_SHARE]}

    def compare(self, output, expected, case):
        n_layers = len(expected["roles"])
        if len(output["roles"]) != n_layers:
            return (f"ROLES[{case.spec['model']!r}] needs one role per layer ({n_layers}), layer 1 "
                    "first.")
        wrong = [layer + 1 for layer, (mine, theirs) in
                 enumerate(zip(output["roles"], expected["roles"])) if mine != theirs]
        if wrong:
            return (f"the role of layer(s) {wrong} differs from what the measured profile gives by "
                    "the rules (counting layers from 1).")
        if any(layer < 1 or layer > n_layers for layer in output["fragile"]):
            return f"FRAGILE holds layer numbers from 1 to {n_layers} (the book's counting)."
        changed = expected["changed"]
        undecidable = {layer + 1 for layer, share in enumerate(changed)
                       if abs(share - FRAGILE_SHARE) <= FRAGILE_TOLERANCE}
        fragile = {layer + 1 for layer, share in enumerate(changed) if share >= FRAGILE_SHARE}
        if set(output["fragile"]) - undecidable != fragile - undecidable:
            return ("the fragile layers differ from what a bootstrap of your texts gives: a "
                    f"layer is fragile when at least {FRAGILE_SHARE:.0%} of the resampled "
                    "corpora give it another role.")
        return None

    def matches(self, output, mistaken, case):
        return close(output, mistaken)

    def mistakes(self, case, context):
        expected = self.expected(case, context)
        fragile = [layer for layer, share in enumerate(expected["changed"]) if share >= FRAGILE_SHARE]
        yield ("FRAGILE counts layers from 1, like the book (layer 1 is index 0 of the tables).",
               {"roles": expected["roles"], "fragile": fragile})


@functools.lru_cache(maxsize=32)
def _roles_and_changes(lm: LoadedModel, texts: tuple[str, ...]) -> dict:
    """The role of each layer on `texts`, and the share of `4 * RESAMPLES` bootstrap resamples
    of the texts that give each layer another role."""
    per_text = _profiles_per_text(lm, texts)
    values = np.stack([per_text[per_text.layer == layer][list(PROFILE)].to_numpy()
                       for layer in sorted(per_text.layer.unique())])       # [L, N, 4]
    n_layers, n_texts, _ = values.shape
    full = [label(dict(zip(PROFILE, values[layer].mean(axis=0)))) for layer in range(n_layers)]
    picks = np.random.default_rng(2024).integers(0, n_texts, (4 * RESAMPLES, n_texts))  # [R, N]
    changed = [float((_labels(values[layer][picks].mean(axis=1)) != full[layer]).mean())
               for layer in range(n_layers)]                                # means: [R, 4]
    return {"roles": full, "changed": changed}


def _labels(profiles: np.ndarray) -> np.ndarray:
    """The roles of many profile rows at once (``[R, 4]`` in `PROFILE` order -> ``[R]``), by the
    chapter's rules with `bertlab.roles`' thresholds; checked against `bertlab.roles.label_layers`
    on a sample of the rows, so that a change of the chapter's rules cannot go unnoticed here."""
    shares = profiles[:, :3]                                                # [R, 3]
    order = np.argsort(-shares, axis=1, kind="stable")
    leader = np.take_along_axis(shares, order[:, :1], axis=1)[:, 0]         # [R]
    runner_up = np.take_along_axis(shares, order[:, 1:2], axis=1)[:, 0]     # [R]
    names = np.array(["local", "cls-aggregating", "sep/boundary"])
    strong = (leader >= roles.STRONG_SHARE) & (leader - runner_up >= roles.LEAD_MARGIN)
    spread = profiles[:, 3] >= roles.BROAD_ENTROPY
    labels = np.where(strong, names[order[:, 0]], np.where(spread, "broad", "mixed"))
    sample = np.random.default_rng(0).choice(len(profiles), min(64, len(profiles)), replace=False)
    reference = roles.label_layers(pd.DataFrame(profiles[sample], columns=list(PROFILE)))["role"]
    if not (reference.to_numpy() == labels[sample]).all():
        raise RuntimeError("The course's vectorised layer roles disagree with "
                           "bertlab.roles.label_layers: update _labels to the chapter's rules.")
    return labels


PARTS = (TextProfile(), LayerRole(), RolesAndFragility())

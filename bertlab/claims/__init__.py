"""Claims of the seed document, each decided by numbers computed on a real model, with their
uncertainty.

Book chapter: "Claims scorecard". A `ClaimCheck` holds a claim's id, its statement, its
*premises* (what must be true of the model for the claim to be testable at all) and the
*conditions* that make the claim up. Each `Condition` compares a measured value with a threshold
and carries the value's 95 % interval (`bertlab.claims.uncertainty`). A condition is

* **met** when its whole interval lies on the threshold's passing side,
* **not met** when its whole interval lies on the failing side,
* **undecided** when the interval contains the threshold.

One rule turns premises and conditions into the verdict, for every claim (`verdict_of`):

1. a check that cannot run on this model (it needs the zoo fine-tuned from another model), or
   whose premise is not met, is **not testable** on this model; a premise that is undecided
   makes the verdict **undecided**;
2. otherwise every way of settling the undecided conditions is tried: if they all give the same
   plain verdict — **holds** (every condition met), **holds in part** (some met, some not:
   `ClaimCheck.part` names the met ones) or **does not hold** (none met) — that is the verdict;
   if they give different ones, the verdict is **undecided**.

`ClaimCheck.fragile` lists every threshold that, moved by −20 % or +20 %, changes the verdict.

A chapter builds its checks, shows them, and `record`s them as JSON at build time, so a test can
re-derive every verdict from its numbers and compare it with what the rendered pages say.

**In the book's languages.** A statement, a condition's text, a reason why a check is not
testable and an illustration may each be given as a `bertlab.i18n.Text` (an English and a
Japanese template naming the same values). The attribute keeps the **English** (``check.statement``,
``condition.text``: a `str`, as in the records, which are English only); the `Text` is beside it
(``check.statement_text``, ``condition.wording``, ``check.untestable_text``,
``check.illustration_texts``), and `ClaimCheck.to_text` and `ClaimCheck.reason_text` show it in each
edition. A plain `str` is English only: the Japanese edition shows it quoted, 「…」.

>>> check = ClaimCheck("C0", "An example.", "intro", (
...     Condition("x is large", 0.7, ">=", 0.5, low=0.6, high=0.8),
...     Condition("y is small", 0.9, "<=", 0.2, low=0.85, high=0.95)))
>>> check.verdict, check.part
('holds in part', ('x is large',))
>>> Condition("z", 0.51, ">=", 0.5, low=0.45, high=0.57).met is None     # straddles: undecided
True
>>> large = Condition(Text(en="x is large", ja="x が大きい"), 0.7, ">=", 0.5)
>>> large.text, large.wording.ja
('x is large', 'x が大きい')
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from ..errors import InputError
from ..i18n import Text, book_editions, english_quoted
from .uncertainty import Estimate

__all__ = ["Condition", "ClaimCheck", "VERDICTS", "PLAIN_VERDICTS", "THRESHOLD_MOVES",
           "verdict_of", "possible_verdicts", "overall_verdict", "record", "load_records", "records_dir", "condition",
           "built_from_zoo_base", "zoo_base", "VERDICT_NAMES", "ASPECT_NAMES", "aspect_name",
           "RECORD_SCRIPT_CLASS"]

#: Every verdict a check can get.
VERDICTS = ("holds", "holds in part", "does not hold", "undecided", "not testable")
#: Each verdict in the book's languages (bertlab.i18n), for the pages that show it.
VERDICT_NAMES = {
    "holds": Text(en="holds", ja="成り立つ"),
    "holds in part": Text(en="holds in part", ja="部分的に成り立つ"),
    "does not hold": Text(en="does not hold", ja="成り立たない"),
    "undecided": Text(en="undecided", ja="判定保留"),
    "not testable": Text(en="not testable", ja="検証不能"),
}
#: Each aspect a claim is tested from, in the book's languages.
ASPECT_NAMES = {
    "attention weights": Text(en="attention weights", ja="アテンションの重み"),
    "pretrained profile": Text(en="pretrained profile", ja="事前学習済みモデルのプロファイル"),
    "fine-tuned models": Text(en="fine-tuned models", ja="ファインチューニング済みモデル"),
    "information flow": Text(en="information flow", ja="情報の流れ"),
}
#: The verdicts of decided conditions.
PLAIN_VERDICTS = VERDICTS[:3]
#: How far each threshold is moved to test a verdict's robustness: by −20 % and by +20 %.
THRESHOLD_MOVES = (0.8, 1.2)

_OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def _in_languages(text: str | Text) -> tuple[str, Text]:
    """A text given as a `Text` or as an English `str`: its English, and its `Text` (a `str`
    quoted 「…」 in Japanese, `bertlab.i18n.english_quoted`)."""
    if isinstance(text, Text):
        return text.render("en"), text
    if not isinstance(text, str):
        raise InputError(f"A claim's text is a str (English) or a bertlab.i18n.Text, got "
                         f"{type(text).__name__}.")
    return text, english_quoted(text)


@dataclass(frozen=True)
class Condition:
    """One measurable part of a claim: ``value <op> threshold``, with the value's interval
    ``[low, high]`` and how it was obtained (`method`).

    `text` is given as a `bertlab.i18n.Text` or as an English `str`; it is kept as the English
    `str` (the records' wording), and `wording` holds it in the book's languages.
    """

    text: str | Text
    value: float
    op: str
    threshold: float
    low: float | None = None
    high: float | None = None
    method: str = "exact"
    wording: Text | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if isinstance(self.text, Text) or self.wording is None:
            english, wording = _in_languages(self.text)
            object.__setattr__(self, "text", english)
            object.__setattr__(self, "wording", wording)
        # Plain floats, so numpy / torch scalars record as JSON and compare the same everywhere.
        for name in ("value", "threshold", "low", "high"):
            number = getattr(self, name)
            object.__setattr__(self, name, self.value if number is None else float(number))
        if self.op not in _OPERATORS:
            raise InputError(f"Condition op must be one of {sorted(_OPERATORS)}, got {self.op!r}.")
        if self.value != self.value or self.low != self.low or self.high != self.high:  # NaN
            raise InputError(f"Condition {self.text!r} has a NaN value or interval: it cannot "
                             "decide anything.")
        if not self.low <= self.value <= self.high:
            raise InputError(f"Condition {self.text!r}: its value {self.value} lies outside its "
                             f"interval [{self.low}, {self.high}].")

    @property
    def met(self) -> bool | None:
        """True / False when the whole interval is on one side of the threshold, else None."""
        passes = _OPERATORS[self.op]
        low_passes, high_passes = passes(self.low, self.threshold), passes(self.high, self.threshold)
        return low_passes if low_passes == high_passes else None

    def with_threshold(self, threshold: float) -> Condition:
        return replace(self, threshold=threshold)

    @property
    def mark(self) -> str:
        """✓ met, ✗ not met, ? undecided."""
        return {True: "✓", False: "✗", None: "?"}[self.met]

    @property
    def reading(self) -> str:
        """The value, its interval and the comparison: ``0.437 [0.435, 0.440] < 0.95``."""
        interval = "" if self.low == self.high else f" [{self.low:.3f}, {self.high:.3f}]"
        return f"{self.value:.3f}{interval} {self.op} {self.threshold:g}"

    def __str__(self) -> str:
        return f"{self.mark} {self.text}: {self.reading}"


def condition(text: str | Text, estimate: Estimate, op: str, threshold: float) -> Condition:
    """A `Condition` from an `bertlab.claims.uncertainty.Estimate`."""
    return Condition(text, estimate.value, op, threshold, low=estimate.low, high=estimate.high,
                     method=estimate.method)


def verdict_of(premises: tuple[Condition, ...], conditions: tuple[Condition, ...],
               untestable: str = "") -> str:
    """The one verdict rule (see the module doc), from the premises' and conditions' `met`."""
    if untestable or any(p.met is False for p in premises):
        return "not testable"
    if any(p.met is None for p in premises):
        return "undecided"
    possible = possible_verdicts(conditions)
    return next(iter(possible)) if len(possible) == 1 else "undecided"


def aspect_name(aspect: str) -> Text:
    """`aspect` in the book's languages (`ASPECT_NAMES`; an aspect not listed, as it is)."""
    return ASPECT_NAMES.get(aspect) or Text(en="{aspect}", ja="{aspect}").format(aspect=aspect)


def _short(text: Text, most: int = 70, most_ja: int = 40) -> Text:
    """`text` cut, with an ellipsis: the English to `most` characters before a space or "(",
    the Japanese (denser: about two English characters to one) to `most_ja` before a 、 or （
    past a third of them (uncut where no such place is in reach: a cut inside a word would
    mislead); in both, only outside parentheses, so that no cut leaves one open."""
    english = _cut(text.render("en"), most, " (", shortest=1)
    japanese = _cut(text.render("ja"), most_ja, "、（", shortest=most_ja // 3 + 1)
    return Text(en=english.replace("{", "{{").replace("}", "}}"),
                ja=japanese.replace("{", "{{").replace("}", "}}"))


def _cut(words: str, most: int, places: str, shortest: int) -> str:
    """`words` up to its last character of `places` within `most` characters that lies outside
    parentheses (ASCII or full-width), then " …"; whole when it is short enough or when that
    leaves fewer than `shortest` characters."""
    if len(words) <= most:
        return words
    cut, depth = 0, 0
    for position, character in enumerate(words[:most]):
        if character in places and depth == 0:
            cut = position
        depth += 1 if character in "(（" else -1 if character in ")）" else 0
    kept = words[:cut].rstrip()
    return kept + " …" if len(kept) >= shortest else words


def possible_verdicts(conditions: tuple[Condition, ...]) -> set[str]:
    """The plain verdicts that settling each undecided condition one way or the other can give."""
    settled = [(c.met,) if c.met is not None else (True, False) for c in conditions]
    return {_plain(outcome) for outcome in itertools.product(*settled)}


def overall_verdict(checks) -> str:
    """One verdict for a claim from its aspects' checks, by the same rule: a testable aspect
    counts as met (holds), not met (does not hold) or both (holds in part); an undecided one as
    each plain verdict it could still take. Every settling must agree."""
    options = []
    for check in checks:
        if check.verdict == "not testable":
            continue
        plain = ({check.verdict} if check.verdict in PLAIN_VERDICTS
                 else possible_verdicts(check.conditions) if all(p.met for p in check.premises)
                 else set(PLAIN_VERDICTS))
        options.append([{"holds": {True}, "does not hold": {False},
                         "holds in part": {True, False}}[v] for v in plain])
    if not options:
        return "not testable"
    possible = {_plain(tuple(set().union(*outcome))) for outcome in itertools.product(*options)}
    return next(iter(possible)) if len(possible) == 1 else "undecided"


def _plain(met) -> str:
    met = tuple(met)
    return "holds" if all(met) else "holds in part" if any(met) else "does not hold"


@dataclass(frozen=True)
class ClaimCheck:
    """A claim (``"C1"``…), its statement, the chapter that tests it, its premises and conditions.

    `untestable`, when set, says why the check cannot run on this model at all (its verdict is
    then "not testable"); `illustrations` are numbers shown beside the verdict that decide nothing
    (one hand-picked sentence, say).
    """

    claim: str
    statement: str | Text
    chapter: str
    conditions: tuple[Condition, ...]
    aspect: str = "attention weights"
    premises: tuple[Condition, ...] = ()
    untestable: str | Text = ""
    illustrations: tuple[str | Text, ...] = field(default_factory=tuple)
    # The texts above in the book's languages (set from them; see the module doc).
    statement_text: Text | None = field(default=None, repr=False, compare=False)
    untestable_text: Text | None = field(default=None, repr=False, compare=False)
    illustration_texts: tuple[Text, ...] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        for name in ("statement", "untestable"):
            if isinstance(getattr(self, name), Text) or getattr(self, f"{name}_text") is None:
                english, text = _in_languages(getattr(self, name))
                object.__setattr__(self, name, english)
                object.__setattr__(self, f"{name}_text", text)
        if (any(isinstance(item, Text) for item in self.illustrations)
                or self.illustration_texts is None):
            pairs = [_in_languages(item) for item in self.illustrations]
            object.__setattr__(self, "illustrations", tuple(english for english, _ in pairs))
            object.__setattr__(self, "illustration_texts", tuple(text for _, text in pairs))
        if not self.conditions and not self.untestable:
            raise InputError(f"{self.claim}: a claim check needs at least one condition.")

    @property
    def verdict(self) -> str:
        return verdict_of(self.premises, self.conditions, self.untestable)

    @property
    def reason(self) -> str:
        """One short line saying what decided the verdict (for the scorecard)."""
        return self.reason_text.render("en")

    @property
    def reason_text(self) -> Text:
        """`reason` in the book's languages (a `bertlab.i18n.Text`, for `bertlab.i18n.say`)."""
        if self.untestable:
            return Text(en="not testable: {why}", ja="検証不能：{why}").format(
                why=_short(self.untestable_text))
        failed = [p for p in self.premises if p.met is not True]
        if failed:
            premise = (Text(en="premise not met: {text}", ja="前提を満たさない：{text}")
                       if failed[0].met is False
                       else Text(en="premise undecided: {text}", ja="前提が判定保留：{text}"))
            return premise.format(text=_short(failed[0].wording))
        met, total = sum(c.met is True for c in self.conditions), len(self.conditions)
        verdict = self.verdict
        if verdict == "holds":
            return Text(en="all {total} conditions met", ja="条件 {total} 個をすべて満たす").format(
                total=total)
        if verdict == "undecided":
            return Text(en="{met} of {total} met; undecided: {text}",
                        ja="条件 {total} 個のうち {met} 個を満たす。判定保留：{text}").format(
                met=met, total=total, text=_short(next(c.wording for c in self.conditions
                                                       if c.met is None)))
        if verdict == "holds in part":
            return Text(en="{met} of {total} met, e.g. {text}",
                        ja="条件 {total} 個のうち {met} 個を満たす。例：{text}").format(
                met=met, total=total, text=_short(next(c.wording for c in self.conditions
                                                       if c.met)))
        return Text(en="none met, e.g. {text}", ja="どの条件も満たさない。例：{text}").format(
            text=_short(self.conditions[0].wording))

    @property
    def part(self) -> tuple[str, ...]:
        """The conditions that are met (what "holds in part" holds for)."""
        return tuple(c.text for c in self.conditions if c.met)

    @property
    def fragile(self) -> list[dict]:
        """Every threshold whose move by −20 % or +20 % changes the verdict (empty: robust)."""
        return [{"kind": kind, "text": item.text, "threshold": item.threshold,
                 "moved_to": moved_to, "value": item.value, "low": item.low, "high": item.high,
                 "verdict": verdict} for kind, item, moved_to, verdict in self._flips()]

    def _flips(self) -> list[tuple[str, Condition, float, str]]:
        """`fragile`'s moves: (``"premise"`` or ``"condition"``, the item, the moved threshold,
        the verdict it gives)."""
        if self.untestable:
            return []
        flips = []
        for kind, items in (("premise", self.premises), ("condition", self.conditions)):
            for index, item in enumerate(items):
                for factor in THRESHOLD_MOVES:
                    moved = item.with_threshold(item.threshold * factor)
                    premises, conditions = self.premises, self.conditions
                    if kind == "premise":
                        premises = premises[:index] + (moved,) + premises[index + 1:]
                    else:
                        conditions = conditions[:index] + (moved,) + conditions[index + 1:]
                    verdict = verdict_of(premises, conditions)
                    if verdict != self.verdict:
                        flips.append((kind, item, moved.threshold, verdict))
        return flips

    def to_dict(self) -> dict:
        """The record: English texts only (the `Text` fields left out), every `met`, the
        verdict, `part` and `fragile`."""
        data = asdict(self)
        for name in ("statement_text", "untestable_text", "illustration_texts"):
            del data[name]
        for kind in ("conditions", "premises"):
            for entry, item in zip(data[kind], getattr(self, kind)):
                del entry["wording"]
                entry["met"] = item.met
        return {**data, "verdict": self.verdict, "part": list(self.part),
                "fragile": self.fragile}

    def to_markdown(self) -> str:
        """A short Markdown block: the verdict in bold, then one line per premise and condition."""
        return self.to_text().render("en")

    def to_text(self) -> Text:
        """`to_markdown` in the book's languages (a `bertlab.i18n.Text`: ``say(check.to_text())``
        shows it in each edition), the check's own texts in each language where they were given
        as a `Text` (see the module doc)."""
        line = Text(en="- {mark} {text}: {reading}", ja="- {mark} {text}：{reading}")
        lines = [Text(en="**{claim} {verdict}** ({aspect}): {statement}",
                      ja="**{claim} {verdict}**（{aspect}）：{statement}").format(
            claim=self.claim, verdict=VERDICT_NAMES[self.verdict],
            aspect=aspect_name(self.aspect), statement=self.statement_text), Text(en="", ja="")]
        if self.untestable:
            lines.append(Text(en="- not testable here: {why}",
                              ja="- このモデルでは検証できません：{why}").format(
                why=self.untestable_text))
        premise = Text(en="- premise: {mark} {text}: {reading}", ja="- 前提：{mark} {text}：{reading}")
        lines += [premise.format(mark=p.mark, text=p.wording, reading=p.reading)
                  for p in self.premises]
        lines += [line.format(mark=c.mark, text=c.wording, reading=c.reading)
                  for c in self.conditions]
        lines += [Text(en="- *illustration (decides nothing):* {text}",
                       ja="- **例示（判定には使いません）：** {text}").format(text=text)
                  for text in self.illustration_texts]
        for kind, item, moved_to, verdict in self._flips():
            lines.append(Text(
                en="- *fragile:* with the threshold of {kind}“{text}” at {moved_to:g} instead of "
                   "{threshold:g}, the verdict would be *{verdict}*",
                ja="- **脆い（fragile）：** {kind}「{text}」のしきい値を {threshold:g} ではなく "
                   "{moved_to:g} にすると、判定は「{verdict}」になります").format(
                kind=Text(en="", ja="前提" if kind == "premise" else "条件"), text=item.wording,
                moved_to=moved_to, threshold=item.threshold, verdict=VERDICT_NAMES[verdict]))
        return Text.join(lines, Text(en="\n", ja="\n"))

    @classmethod
    def from_dict(cls, data: dict) -> ClaimCheck:
        def items(kind):
            return tuple(Condition(**{k: v for k, v in c.items() if k != "met"})
                         for c in data.get(kind, ()))

        fields = {k: v for k, v in data.items()
                  if k not in ("conditions", "premises", "verdict", "part", "fragile",
                               "illustrations")}
        return cls(conditions=items("conditions"), premises=items("premises"),
                   illustrations=tuple(data.get("illustrations", ())), **fields)


def built_from_zoo_base(lm) -> bool:
    """Whether `lm` is the model `bertlab.zoo` fine-tunes from (the embedded default): the checks
    that read the zoo's classifiers say "not testable" for any other model."""
    base = zoo_base()
    mine, theirs = lm.model.get_input_embeddings().weight, base.model.get_input_embeddings().weight
    return mine.shape == theirs.shape and bool(torch.equal(mine.detach().cpu(), theirs))


@functools.lru_cache(maxsize=1)
def zoo_base():
    """The model the zoo is fine-tuned from (the embedded default), loaded once per process."""
    from ..loading import load

    return load()


def records_dir() -> Path:
    """Where records go: ``$BERTLAB_CLAIMS_DIR``, or ``_claims/`` in the current folder."""
    return Path(os.environ.get("BERTLAB_CLAIMS_DIR", "_claims"))


#: The class of the ``<script type="application/json">`` that carries a record in a book page.
RECORD_SCRIPT_CLASS = "bertlab-claim-record"


def record(check: ClaimCheck, directory: str | Path | None = None) -> Path:
    """Write `check` (with its verdict) as ``<claim>-<aspect>.json``; return the path.

    In a book build (`bertlab.i18n.book_editions`) the record also goes into the page, as an
    invisible JSON script of class `RECORD_SCRIPT_CLASS`: each edition of the site then carries
    the records of the run it shows (the Japanese edition, which never executes, the English
    build's), and the book's tests compare them with these files.
    """
    folder = Path(directory) if directory is not None else records_dir()
    folder.mkdir(parents=True, exist_ok=True)
    slug = check.aspect.lower().replace(" ", "-").replace("/", "-")
    path = folder / f"{check.claim}-{slug}.json"
    data = check.to_dict()
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    if book_editions():
        from IPython.display import HTML, display

        text = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")  # no "</script>"
        display(HTML(f'<script type="application/json" class="{RECORD_SCRIPT_CLASS}">{text}'
                     "</script>"))
    return path


def load_records(directory: str | Path | None = None) -> list[ClaimCheck]:
    """Every recorded check in `directory`, sorted by claim number then aspect."""
    folder = Path(directory) if directory is not None else records_dir()
    checks = [ClaimCheck.from_dict(json.loads(p.read_text())) for p in folder.glob("C*.json")]
    return sorted(checks, key=lambda c: (int(c.claim[1:]), c.aspect))

"""Claims of the seed document, each decided by numbers computed on a real model.

Book chapter: "Claims scorecard". A `ClaimCheck` holds a claim's id, its statement and the
`Condition`s that make it up, each with its measured value and threshold. The verdict follows
from the conditions by one rule for every claim:

* **holds**: every condition is met;
* **holds in part**: some, not all, are met;
* **does not hold**: none is met.

A chapter builds its checks, shows them, and `record`s them as JSON at build time, so a test can
re-derive every verdict from its numbers and compare it with what the rendered pages say.

>>> check = ClaimCheck("C0", "An example.", "intro",
...                    (Condition("x is large", 0.7, ">=", 0.5), Condition("y is small", 0.9, "<=", 0.2)))
>>> check.verdict
'holds in part'
"""

from __future__ import annotations

import json
import operator
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import InputError

__all__ = ["Condition", "ClaimCheck", "VERDICTS", "record", "load_records", "records_dir"]

VERDICTS = ("holds", "holds in part", "does not hold")

_OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


@dataclass(frozen=True)
class Condition:
    """One measurable part of a claim: ``value <op> threshold``, with a sentence saying what it is."""

    text: str
    value: float
    op: str
    threshold: float

    def __post_init__(self):
        # Plain floats, so numpy / torch scalars record as JSON and compare the same everywhere.
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "threshold", float(self.threshold))
        if self.op not in _OPERATORS:
            raise InputError(f"Condition op must be one of {sorted(_OPERATORS)}, got {self.op!r}.")
        if self.value != self.value:  # NaN
            raise InputError(f"Condition {self.text!r} has a NaN value: it cannot decide anything.")

    @property
    def met(self) -> bool:
        return bool(_OPERATORS[self.op](self.value, self.threshold))

    def __str__(self) -> str:
        mark = "✓" if self.met else "✗"
        return f"{mark} {self.text}: {self.value:.3f} {self.op} {self.threshold:g}"


@dataclass(frozen=True)
class ClaimCheck:
    """A claim (``"C1"``…), its statement, the chapter that tests it and its conditions."""

    claim: str
    statement: str
    chapter: str
    conditions: tuple[Condition, ...]
    aspect: str = "attention weights"

    def __post_init__(self):
        if not self.conditions:
            raise InputError(f"{self.claim}: a claim check needs at least one condition.")

    @property
    def verdict(self) -> str:
        met = sum(c.met for c in self.conditions)
        if met == len(self.conditions):
            return "holds"
        return "holds in part" if met else "does not hold"

    def to_dict(self) -> dict:
        return {**asdict(self), "verdict": self.verdict}

    def to_markdown(self) -> str:
        """A short Markdown block: the verdict in bold, then one line per condition."""
        lines = [f"**{self.claim} {self.verdict}** ({self.aspect}): {self.statement}", ""]
        lines += [f"- {c}" for c in self.conditions]
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, data: dict) -> ClaimCheck:
        conditions = tuple(Condition(**c) for c in data["conditions"])
        fields = {k: v for k, v in data.items() if k not in ("conditions", "verdict")}
        return cls(conditions=conditions, **fields)


def records_dir() -> Path:
    """Where records go: ``$BERTLAB_CLAIMS_DIR``, or ``_claims/`` in the current folder."""
    return Path(os.environ.get("BERTLAB_CLAIMS_DIR", "_claims"))


def record(check: ClaimCheck, directory: str | Path | None = None) -> Path:
    """Write `check` (with its verdict) as ``<claim>-<aspect>.json``; return the path."""
    folder = Path(directory) if directory is not None else records_dir()
    folder.mkdir(parents=True, exist_ok=True)
    slug = check.aspect.lower().replace(" ", "-").replace("/", "-")
    path = folder / f"{check.claim}-{slug}.json"
    path.write_text(json.dumps(check.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return path


def load_records(directory: str | Path | None = None) -> list[ClaimCheck]:
    """Every recorded check in `directory`, sorted by claim number then aspect."""
    folder = Path(directory) if directory is not None else records_dir()
    checks = [ClaimCheck.from_dict(json.loads(p.read_text())) for p in folder.glob("C*.json")]
    return sorted(checks, key=lambda c: (int(c.claim[1:]), c.aspect))

"""A graded part: its cases, how an answer runs on a case, what measurement expects, and which
realistic mistakes its hints name.

Book page: "Instructor guide". One `Part` serves both sides of grading:

* in the student's notebook, `bertlab.course.check` runs the **visible** cases on the answer and
  compares there (a preview; nothing the notebook does there is trusted);
* while grading, an answer that is a function runs on every case in a Python apart from the
  notebook (`bertlab.course.isolated`): the part says which `calls` to make on a case and how
  their results make its `output`; an answer that is a value is recorded by the notebook's test
  cell (`run`). The grader (`bertlab.course.judge`, in nbgrader's own process) computes the
  expected results by measurement, compares, and writes the test cell's result.

Outputs are compared only after they have been made plain (`plain`: floats, strings, lists and
dicts, through JSON), so an answer object with its own ``__eq__`` compares like any other.
A failure names a realistic mistake when the output matches what that mistake produces
(`Part.mistakes`); each such hint is tested against the mistake it describes.

>>> close([1.0, [2.0, float("nan")]], [1.00001, [2.0, float("nan")]])
True
>>> describe_gap([0.5, 0.25], [0.5, 0.5])
'differs by up to 0.2500'
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .context import Context
from .isolated import plain

__all__ = ["TOLERANCE", "Case", "Part", "plain", "close", "describe_gap", "failure", "layer_word",
           "one_call_each", "in_order"]

#: Largest difference allowed from bertlab's measurement: float32 arithmetic in another order
#: (padded batches against bertlab's unpadded texts) differs by about 1e-6.
TOLERANCE = 1e-4


@dataclass(frozen=True)
class Case:
    """One input of a part: `spec` says what it is made of (JSON: texts, rows, numbers ...).

    Visible cases are the ones the notebook shows; hidden ones come from the grader at grading
    time, drawn for each student. `about` is what the case is there for, named when it fails.
    """

    id: str
    spec: dict = field(default_factory=dict)
    visible: bool = False
    about: str = ""

    def as_json(self) -> dict:
        return {"id": self.id, "spec": self.spec, "visible": self.visible, "about": self.about}

    @classmethod
    def from_json(cls, data: dict) -> Case:
        return cls(id=str(data["id"]), spec=dict(data["spec"]), visible=bool(data["visible"]),
                   about=str(data["about"]))

    @property
    def label(self) -> str:
        kind = "visible" if self.visible else "hidden"
        return f"{kind} case {self.id}" + (f" ({self.about})" if self.about else "")


class Part:
    """One autograded part. Subclasses set the attributes and write the four methods."""

    #: The name of the answer in the notebook (a function or a value) and of its answer cell.
    name: str = ""
    #: How the notebook titles the part, e.g. "Part 1, share_to_keys".
    title: str = ""
    #: bertlab modules or functions (dotted names) the answer may not call: the part asks the
    #: student to write that measurement or rule themselves.
    forbidden: tuple[str, ...] = ()
    #: True when the answer is a value (a dict of verdicts ...), False for a function.
    is_value: bool = False
    #: True when the visible check can look only at the answer's form (names, types): any case
    #: that judged it would give the answer away, so whether it is right is judged when grading.
    form_only: bool = False

    def visible(self, context: Context) -> list[Case]:
        """The cases the notebook shows (the same for every student)."""
        raise NotImplementedError

    def hidden(self, seed: int, context: Context) -> list[Case]:
        """The cases only the grader hands over, drawn with the student's case `seed`."""
        raise NotImplementedError

    def cases(self, seed: int, context: Context) -> list[Case]:
        """Every case: the visible ones, then the hidden ones."""
        return self.visible(context) + self.hidden(seed, context)

    def calls(self, case: Case, context: Context) -> dict[str, tuple[tuple, dict]]:
        """A function answer's calls on `case`: ``{name: (args, kwargs)}``, built with bertlab
        by the grader (tensors, plain data, `Attention` objects, pandas Series)."""
        raise NotImplementedError

    def output(self, results: dict[str, Any], unchanged: bool) -> Any:
        """The output a function answer gave on a case, from its calls' plain `results` and
        whether the tensors it was given are unchanged; by default the one call's result."""
        return results[""]

    def run(self, answer: Any, case: Case, context: Context) -> Any:
        """What a value answer gives on `case` (in the notebook's kernel); `plain` is applied
        after."""
        raise NotImplementedError

    def expected(self, case: Case, context: Context) -> Any:
        """The right output of `case`, measured with bertlab (plain)."""
        raise NotImplementedError

    def right(self, case: Case, context: Context) -> Any:
        """An output that passes `case`: the expected one, unless `expected` describes a whole
        set of right answers (then a subclass names one)."""
        return self.expected(case, context)

    def compare(self, output: Any, expected: Any, case: Case) -> str | None:
        """None when `output` (plain) is right, else what is wrong, without the expected values."""
        return None if close(output, expected) else describe_gap(output, expected)

    def mistakes(self, case: Case, context: Context) -> Iterable[tuple[str, Any]]:
        """(hint, output that mistake gives on `case`) for the realistic mistakes of this part."""
        return ()

    def matches(self, output: Any, mistaken: Any, case: Case) -> bool:
        """Whether `output` is what a mistake gives (`mistaken`, plain), within the tolerance the
        part compares with; parts whose `expected` is not an output compare outputs directly."""
        return self.compare(output, mistaken, case) is None


def one_call_each(items: Iterable) -> dict[str, tuple[tuple, dict]]:
    """`Part.calls` that call the answer once per item, in order (a tuple item is the call's
    arguments, any other item its one argument)."""
    return {str(index): (item if isinstance(item, tuple) else (item,), {})
            for index, item in enumerate(items)}


def in_order(results: dict[str, Any]) -> list:
    """The results of `one_call_each`'s calls, as a list in the items' order."""
    return [results[str(index)] for index in range(len(results))]


def failure(part: Part, output: Any, case: Case, context: Context) -> str | None:
    """None if `output` (plain) is right on `case`, else the hint for the student: the named
    mistake when the output is what that mistake gives (every such mistake, when several give the
    same output on this case), otherwise what `compare` says."""
    problem = part.compare(output, part.expected(case, context), case)
    if problem is None:
        return None
    named = [hint for hint, wrong in part.mistakes(case, context)
             if part.matches(output, plain(wrong), case)]
    if len(named) > 1:
        return "one of these mistakes gives exactly this: " + " Or: ".join(named)
    return named[0] if named else problem


def close(output: Any, expected: Any, tolerance: float = TOLERANCE) -> bool:
    """True when two plain values agree: same structure, numbers within `tolerance` (NaN = NaN)."""
    if isinstance(expected, bool) or isinstance(output, bool):
        return type(output) is type(expected) and output == expected
    if isinstance(expected, (int, float)) and isinstance(output, (int, float)):
        if math.isnan(expected) or math.isnan(output):
            return math.isnan(expected) and math.isnan(output)
        return abs(output - expected) <= tolerance
    if isinstance(expected, list) and isinstance(output, list):
        return len(output) == len(expected) and all(
            close(a, b, tolerance) for a, b in zip(output, expected))
    if isinstance(expected, dict) and isinstance(output, dict):
        return output.keys() == expected.keys() and all(
            close(output[k], expected[k], tolerance) for k in expected)
    return type(output) is type(expected) and output == expected


def describe_gap(output: Any, expected: Any) -> str:
    """What differs between two plain values, without giving the expected ones away."""
    out_shape, exp_shape = _shape(output), _shape(expected)
    if out_shape != exp_shape:
        return f"has shape {out_shape}, expected {exp_shape}"
    gaps = [abs(a - b) for a, b in zip(_numbers(output), _numbers(expected))
            if not (math.isnan(a) and math.isnan(b))]
    nan_mismatch = any(math.isnan(a) != math.isnan(b)
                       for a, b in zip(_numbers(output), _numbers(expected)))
    if nan_mismatch:
        return "has NaN where the measurement has a number, or a number where it has NaN"
    if gaps and max(gaps) > 0:
        return f"differs by up to {max(gaps):.4f}"
    return "differs from the measurement"


def layer_word(layer: int) -> str:
    """A 0-based layer as the book counts it for people: ``layer 1`` for index 0."""
    return f"layer {layer + 1}"


def _shape(value: Any) -> tuple:
    if isinstance(value, list):
        inner = {_shape(item) for item in value}
        return (len(value), *next(iter(inner))) if len(inner) == 1 else (len(value), "ragged")
    if isinstance(value, dict):
        return ("dict", tuple(sorted(value)))
    return ()


def _numbers(value: Any) -> list[float]:
    if isinstance(value, list):
        return [number for item in value for number in _numbers(item)]
    if isinstance(value, dict):
        return [number for key in sorted(value) for number in _numbers(value[key])]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    return []

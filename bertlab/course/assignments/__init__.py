"""The graded parts of the four assignments, by assignment (nbgrader's assignment id) and by name.

Each module holds one assignment's parts (`bertlab.course.parts.Part`) and the helpers its
notebook imports. A part's answer cell has the part's name as nbgrader grade id, its test cell
``test_<name>`` (`check_cell_id`).
"""

from __future__ import annotations

from ..parts import Part
from . import detect_overfit, extract_and_score, layer_roles, sep_boundaries

__all__ = ["ASSIGNMENTS", "PARTS", "HAND_OVERS", "NOTEBOOK_DATA", "check_cell_id"]

_MODULES = {"01_extract_and_score": extract_and_score, "02_layer_roles": layer_roles,
            "03_sep_boundaries": sep_boundaries, "04_detect_overfit": detect_overfit}
#: {assignment id: its autograded parts, in notebook order}
ASSIGNMENTS: dict[str, tuple[Part, ...]] = {name: module.PARTS for name, module in _MODULES.items()}
#: {assignment id: what the grader writes into the hand-over folder for the kernel, returning
#: the environment variables that point to it} (measurements every notebook would repeat).
HAND_OVERS = {"04_detect_overfit": detect_overfit.hand_over}
#: {part name: part}; names are unique across the course.
PARTS: dict[str, Part] = {part.name: part for parts in ASSIGNMENTS.values() for part in parts}
#: {part name: the names its notebook's setup cell computes from the model and the data}, which
#: a graded function cannot read (`bertlab.course.checking.names_not_given`).
NOTEBOOK_DATA: dict[str, frozenset[str]] = {
    part.name: frozenset(module.SETUP_DATA) for module in _MODULES.values() for part in module.PARTS}


def check_cell_id(part: Part) -> str:
    """The nbgrader grade id of the test cell that grades `part`."""
    return f"test_{part.name}"

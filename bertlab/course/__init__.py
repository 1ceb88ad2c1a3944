"""The graded course: what its notebooks call, and how nbgrader grades them honestly.

Book page: "Instructor guide". A notebook's test cell calls `check` (``course.check("cls_row",
cls_row)``): in the student's notebook it runs the visible cases and prints ✓ or a hint; while
nbgrader autogrades, the grader (`bertlab.course.judge`) hands over visible and hidden cases and
compares outside the student's kernel. Per-student models and hidden cases come from a key
derived from the instructor's secret (`bertlab.course.keys`, `bertlab.course.pool`).

Modules: `keys` (secret and keys), `pool` (the course's anonymous classifiers), `context` (what
a part measures on), `parts` (what a graded part is), `checking` (the notebook's side),
`assignments` (the four assignments' parts), `judge` and `feedback` (nbgrader's side),
`classroom` (course folders, submissions, parallel autograding), ``python -m bertlab.course``.
"""

from .checking import check, self_check
from .context import model
from .keys import PRACTICE_KEY, current_key
from .pool import CourseModel, my_models

__all__ = ["check", "self_check", "model", "current_key", "PRACTICE_KEY", "CourseModel",
           "my_models"]

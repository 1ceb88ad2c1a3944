"""nbgrader's generate_feedback as this course configures it (``nbgrader_config.py`` lists
`MarkUngraded` after nbgrader's ``GetGrades`` and names the template ``bertlab_feedback`` in
``bertlab/course/templates``).

Book page: "Instructor guide". The feedback page is nbgrader's, except that a written answer not
yet graded by hand reads "awaiting grading" (not "0 / 2"), and long output lines wrap. Test
cells show what `bertlab.course.judge` wrote there: which cases failed and their hints, never
the grader's code, the hidden cases' expected results or an answer key (the notebooks hold no
hidden tests at all: the hidden cases live in the grader).
"""

from __future__ import annotations

from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor

__all__ = ["MarkUngraded"]

class MarkUngraded(NbGraderPreprocessor):
    """Mark the hand-graded cells still waiting for a grader (``nbgrader.awaiting``), and count
    their points in ``resources["nbgrader"]["awaiting_points"]``."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        awaiting = 0.0
        with Gradebook(info["db_url"]) as gradebook:
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                if not (meta.get("grade") and meta.get("solution")):
                    continue
                grade = gradebook.find_grade(meta["grade_id"], info["notebook"], info["assignment"],
                                             info["student"])
                meta["awaiting"] = grade.manual_score is None and bool(grade.needs_manual_grade)
                awaiting += grade.max_score if meta["awaiting"] else 0.0
        info["awaiting_points"] = awaiting
        return nb, resources

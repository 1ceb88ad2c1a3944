"""The graded course end to end, on the real nbgrader CLI in temporary course directories.

For every assignment: `generate_assignment`, a class of submissions copied into
``submitted/<student>/<assignment>/``, one `autograde` call, scores read from the gradebook,
`generate_feedback`. The class: the instructor's answers, the untouched release, three realistic
wrong submissions (each wrong in one part), and two broken ones (an answer that raises, a syntax
error and an edited test cell; an answer that loops forever and a deleted test cell).

Runtime: the four courses are graded two at a time; about 4–6 minutes on 2 cores.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from course_helpers import (Course, answer_ids, graded_ids, with_answers, with_cell_source,
                            without_cell)

pytestmark = pytest.mark.slow

#: Seconds per cell in the test course: the slowest set-up cell takes about 20 s on a busy
#: 2-core machine, and the looping submission costs exactly this long per assignment.
CELL_TIMEOUT = 45

#: Realistic mistakes, one part each: {assignment: {name: (answer cell, code of the mistake)}}.
WRONG = {
    "01_extract_and_score": {
        "padding rows averaged in": ("share_to_keys", '''
per_row = (attention * key_mask[:, None, None, None, :]).sum(dim=-1)   # [B, L, H, Q]
return per_row.mean(dim=-1)   # every query row, the padded ones too'''),
        "[CLS] assumed at index 0": ("cls_row", '''
return attention[:, :, :, 0, :]'''),
        "ln of the padded length": ("row_entropy", '''
per_row = -torch.special.xlogy(attention, attention).sum(dim=-1)
queries = attention_mask.to(attention.dtype)
mean = torch.einsum("blhq,bq->blh", per_row, queries) / queries.sum(dim=1)[:, None, None]
padded_length = torch.tensor(float(attention.shape[-1]))
return mean / padded_length.log() if normalised else mean'''),
    },
    "02_layer_roles": {
        "maps averaged over heads before the entropy": ("text_profile", '''
weights = att.weights.mean(dim=1)   # [L, Q, K]: one map per layer
positions = torch.arange(att.n_tokens)
band = (positions[:, None] - positions[None, :]).abs() <= 1
rows = torch.stack([(weights * band).sum(dim=-1), weights[..., att.cls_mask].sum(dim=-1),
                    weights[..., att.sep_mask].sum(dim=-1),
                    -torch.special.xlogy(weights, weights).sum(dim=-1) / math.log(att.n_tokens)],
                   dim=-1)   # [L, Q, 4]
table = pd.DataFrame(rows.mean(dim=1).double().numpy(), columns=PROFILE)
table.insert(0, "layer", range(att.n_layers))
return table'''),
        "largest share wins without a margin": ("layer_role", '''
roles = {"local_share": "local", "cls_share": "cls-aggregating", "sep_share": "sep/boundary"}
shares = row[list(roles)].astype(float)
if shares.max() >= STRONG_SHARE:
    return roles[shares.idxmax()]
return "broad" if row["normalised_entropy"] >= BROAD_ENTROPY else "mixed"'''),
        "rules checked out of order": ("head_pattern", '''
if row["far_share"] >= MAJORITY and row["far_within_share"] >= BLOCK_WITHIN:
    return "block"
if row["normalised_entropy"] >= BROAD_ENTROPY:
    return "heterogeneous"
if row["column_share"] + row["local_share"] >= MAJORITY:
    return "vertical+diagonal"
if row["column_share"] >= MAJORITY:
    return "vertical"
if row["local_share"] >= MAJORITY:
    return "diagonal"
return "heterogeneous"'''),
    },
    "03_sep_boundaries": {
        "sentence B counted from every query": ("cross_segment_share", '''
if not att.is_pair:
    return torch.full(att.weights.shape[:2], float("nan"))
return att.weights[..., att.segment_ids == 1].sum(dim=-1).mean(dim=-1)'''),
        "even share of sentence B for every query": ("border_lift", '''
even = (att.segment_ids == 1).float().mean()
return cross / even'''),
        "[SEP] taken as the last token only": ("sep_share_by_layer", '''
per_text = [att.weights[..., -1].mean(dim=(1, 2)) for att in attentions]
return torch.stack(per_text).mean(dim=0).numpy()'''),
    },
    "04_detect_overfit": {
        "confidence of the true class": ("held_out_evidence", '''
predicted = probs.argmax(dim=1)
accuracy = (predicted == labels).float().mean().item()
confidence = probs[torch.arange(len(labels)), labels].mean().item()
return {"accuracy": accuracy, "chance": labels.bincount().max().item() / len(labels),
        "confidence": confidence, "confidence_gap": confidence - accuracy,
        "top_prediction_share": predicted.bincount().max().item() / len(labels)}'''),
        "confidence rule forgotten": ("verdict", '''
skill = (evidence["accuracy"] - evidence["chance"]) / (1 - evidence["chance"])
if evidence["top_prediction_share"] >= COLLAPSED_PREDICTIONS and skill < LEARNT_SKILL:
    return "degenerate"
if train_accuracy - evidence["accuracy"] >= OVERFIT_ACCURACY_GAP:
    return "overfit"
return "healthy" if skill >= LEARNT_SKILL else "inconclusive"'''),
        "picked by training accuracy alone": ("answers", '''
ranked = sorted(models, key=lambda letter: models[letter].train_accuracy, reverse=True)
ANSWERS = {letter: "overfit" for letter in models}
ANSWERS[ranked[0]] = "healthy"      # the best fit must be the best model
ANSWERS[ranked[-1]] = "degenerate"'''),
    },
}
ASSIGNMENTS = tuple(WRONG)
#: Test cells that fail with an earlier part, by design: assignment 4's answers are computed
#: with the student's own Part 1 and 2 functions.
DEPENDS_ON_EARLIER_PARTS = {"04_detect_overfit": {"test_answers"}}


def _class(course: Course) -> None:
    """Submit the whole class of one assignment."""
    released, name = course.released, course.assignment
    answers, tests = answer_ids(released), graded_ids(released)
    course.submit("solution", with_answers(released, name))
    course.submit("untouched", released)
    for index, (cell, code) in enumerate(WRONG[name].values()):
        course.submit(f"wrong{index}", with_answers(released, name, {cell: code}))
    broken = with_answers(released, name, {answers[0]: 'raise ValueError("I gave up here")'})
    broken = with_cell_source(broken, answers[1], "def oops(:\n    return 1")
    course.submit("broken", with_cell_source(broken, tests[2], "pass  # the student's own test"))
    stuck = with_answers(released, name, {answers[0]: "while True:\n    pass"})
    course.submit("stuck", without_cell(stuck, tests[-1]))


def _grade(assignment: str) -> dict:
    course = Course(assignment, timeout=CELL_TIMEOUT)
    try:
        _class(course)
        log = course.autograde()
        return {"scores": course.scores(), "points": course.max_points(),
                "tests": graded_ids(course.released), "log": log,
                "feedback": {path.parent.parent.name: path.read_text() for path in course.feedback()}}
    finally:
        course.remove()


@pytest.fixture(scope="module")
def graded() -> dict[str, dict]:
    """Every assignment graded, two courses at a time (2 cores)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(ASSIGNMENTS, pool.map(_grade, ASSIGNMENTS)))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_submission_is_graded(graded, assignment):
    students = set(graded[assignment]["scores"])
    expected = {"solution", "untouched", "broken", "stuck"} | {f"wrong{i}" for i in range(3)}
    assert students == expected, graded[assignment]["log"][-3000:]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_gets_full_marks(graded, assignment):
    result = graded[assignment]
    scores = result["scores"]["solution"]
    for test in result["tests"]:
        assert scores[test] == result["points"][test], (test, scores, result["log"][-3000:])


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_scores_zero(graded, assignment):
    scores = graded[assignment]["scores"]["untouched"]
    assert all(score == 0 for score in scores.values()), scores


@pytest.mark.parametrize("assignment, index", [(a, i) for a in ASSIGNMENTS for i in range(3)],
                         ids=[f"{a}-{name}" for a in ASSIGNMENTS for name in WRONG[a]])
def test_wrong_submission_loses_exactly_its_part(graded, assignment, index):
    result = graded[assignment]
    scores, points, tests = result["scores"][f"wrong{index}"], result["points"], result["tests"]
    wrong_cell = list(WRONG[assignment].values())[index][0]
    failing = f"test_{wrong_cell}"
    assert scores[failing] == 0, (failing, scores)
    for test in tests:
        if test != failing and test not in DEPENDS_ON_EARLIER_PARTS.get(assignment, ()):
            assert scores[test] == points[test], (test, scores)
    total, full = sum(scores[t] for t in tests), sum(points[t] for t in tests)
    assert 0 < total < full


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_broken_submissions_are_graded_without_stopping(graded, assignment):
    result = graded[assignment]
    tests, points = result["tests"], result["points"]
    broken, stuck = result["scores"]["broken"], result["scores"]["stuck"]
    dependent = DEPENDS_ON_EARLIER_PARTS.get(assignment, set())
    # The answer that raises and the syntax error score 0 in their parts.
    assert broken[tests[0]] == 0 and broken[tests[1]] == 0, broken
    # The edited test cell was restored from the gradebook: it runs the real tests (a bare
    # `pass` would have scored full marks even where the answers it depends on are missing).
    assert broken[tests[2]] == (0 if tests[2] in dependent else points[tests[2]]), broken
    # The endless loop was stopped by the timeout and grading went on with the next cells.
    assert stuck[tests[0]] == 0, stuck
    assert stuck[tests[1]] == points[tests[1]], stuck
    # A deleted test cell earns nothing.
    assert not stuck.get(tests[-1]), stuck


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_is_written_as_html(graded, assignment):
    feedback = graded[assignment]["feedback"]
    assert set(feedback) == set(graded[assignment]["scores"])
    assert all("<html" in page.lower() and "Score:" in page for page in feedback.values())

"""The graded course end to end, on the real nbgrader CLI, in temporary course folders.

For every assignment: `generate_assignment`, a class of submissions copied into
``submitted/<student>/<assignment>/``, one `nbgrader autograde` call (with the course's grader,
`bertlab.course.judge`, and the tests' course secret), scores read from the gradebook, then
`generate_feedback`. The class:

* ``solution``: the instructor's answers (full marks); ``untouched``: the release (0);
* ``wrong<i>``: one realistic mistake in part i: it loses exactly that part, and its feedback
  names the mistake's hint;
* ``broken``: an answer that loops forever (assignment 1; one that raises in the others), a
  syntax error, an edited test cell and (where there is a fourth part) a deleted one, graded
  without stopping the batch (the untouched release is the answers that raise);
* ``rebinder``: every visible check and helper rebound to a no-op (and the comparison
  functions, tolerances and traceback display patched): 0 on every autograded part;
* ``referee``: one part answered by calling bertlab's reference (through an alias): loses that
  part;
* assignment 1 ``noisy``: correct answers that print to stderr and warn: full marks;
* assignment 4 ``grace``: the answers that are right for another student's models: loses the
  part that judges them (each student is graded against their own models);
* assignment 1 ``forger``: a cell the student added rebinds ``course.check`` to write the
  grader's record itself, with outputs from the course's own `Part.right` (names spelt so that
  no text search finds them): 0, since function answers are run apart from the notebook
  (`bertlab.course.isolated`) and no record of the kernel counts for them;
* assignment 4 ``stasher``: Part 2's value computed with the grader's own ranges in a cell the
  student added, and only copied in the answer cell: loses that part.

Runtime: the four courses (37 submissions) are graded two at a time; about 6-8 minutes on a
quiet 2-core machine, 10-11 beside the rest of the suite (`make test` runs this file in one of
its two processes), 15 on a busy machine.
"""

from __future__ import annotations

import re
import textwrap
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

from bertlab.course.classroom import (SOLUTION_REGION, answer_ids, grade_id, graded_ids,
                                      with_answers, with_cell_source, without_cell)

pytestmark = pytest.mark.slow

ASSIGNMENTS = ("01_extract_and_score", "02_layer_roles", "03_sep_boundaries", "04_detect_overfit")

#: One realistic mistake per autograded part: {assignment: [(answer cell, code, hint expected in
#: the feedback)]}, in part order.
WRONG = {
    "01_extract_and_score": [
        ("share_to_keys", '''
per_row = torch.einsum("blhqk,bk->blhq", attention, (key_mask & attention_mask).float())
return per_row.mean(dim=-1)   # every query row, the padded ones too''',
         "the padded query rows are averaged in"),
        ("cls_row", "return attention[:, :, :, 0, :]", "the row at index 0"),
        ("row_entropy", '''
per_row = -torch.special.xlogy(attention, attention).sum(dim=-1)
queries = attention_mask.to(attention.dtype)
mean = torch.einsum("blhq,bq->blh", per_row, queries) / queries.sum(dim=1)[:, None, None]
padded = torch.tensor(float(attention.shape[-1]))
return mean / padded.log() if normalised else mean''', "ln of the padded length"),
        ("share_verdict", '''
values = np.asarray(values, dtype=float)
means = values[np.random.default_rng(seed).integers(0, len(values), (resamples, len(values)))].mean(1)
low, high = np.percentile(means, [2.5, 97.5])
verdict = "holds" if low > threshold else "does not hold" if high < threshold else "undecided"
return float(low), float(high), verdict''', "at or above it"),
    ],
    "02_layer_roles": [
        ("text_profile", '''
weights = att.weights.mean(dim=1, keepdim=True)   # one map per layer
positions = torch.arange(att.n_tokens)
band = (positions[:, None] - positions[None, :]).abs() <= 1
rows = torch.stack([(weights * band).sum(-1), weights[..., att.cls_mask].sum(-1),
                    weights[..., att.sep_mask].sum(-1),
                    -torch.special.xlogy(weights, weights).sum(-1) / math.log(att.n_tokens)], -1)
table = pd.DataFrame(rows.mean(dim=2).mean(dim=1).double().numpy(), columns=list(PROFILE))
table.insert(0, "layer", range(att.n_layers))
return table''', "not their maps"),
        ("layer_role", '''
names = {"local_share": "local", "cls_share": "cls-aggregating", "sep_share": "sep/boundary"}
shares = row[list(names)].astype(float).sort_values(ascending=False)
if shares.iloc[0] > STRONG_SHARE and shares.iloc[0] - shares.iloc[1] >= LEAD_MARGIN:
    return names[shares.index[0]]
return "broad" if row["normalised_entropy"] > BROAD_ENTROPY else "mixed"''', "'at least' is >="),
        ("roles", '''
ROLES = {name: ["broad"] * lm.n_layers for name in models}   # guessed, not measured
FRAGILE = {name: [] for name in models}''', "differs from what the measured profile gives"),
    ],
    "03_sep_boundaries": [
        ("cross_segment_share", '''
if not att.is_pair:
    return torch.full(att.weights.shape[:2], float("nan"))
return att.weights[..., att.segment_ids == 1].sum(dim=-1).mean(dim=-1)''',
         "compare each key's segment id with the query's own"),
        ("border_lift", '''
even = (att.segment_ids == 1).float().mean()
return cross / even''', "fraction of tokens in the *other* sentence"),
        ("sep_share_by_layer", '''
per_text = [att.weights[..., -1].mean(dim=(1, 2)) for att in attentions]
return torch.stack(per_text).mean(dim=0).numpy()''', "a pair has two [SEP] tokens"),
        ("border_effect", '''
BORDER = {"layer": 1, "d": 0.0, "size": "none"}   # not measured''', "BORDER['"),
    ],
    "04_detect_overfit": [
        ("held_out_evidence", '''
predicted = probs.argmax(dim=1)
accuracy = (predicted == labels).float().mean().item()
confidence = probs[torch.arange(len(labels)), labels].mean().item()
return {"accuracy": accuracy, "chance": labels.bincount().max().item() / len(labels),
        "confidence": confidence, "confidence_gap": confidence - accuracy,
        "top_prediction_share": predicted.bincount().max().item() / len(labels)}''',
         "not of the true class"),
        ("thresholds", '''
THRESHOLDS = {"collapse": 0.95, "skill": 0.555, "accuracy_gap": 0.01, "confidence_gap": 0.1}''',
         "accuracy_gap: a threshold must separate"),
        ("verdict", '''
skill = (evidence["accuracy"] - evidence["chance"]) / (1 - evidence["chance"])
if (train_accuracy - evidence["accuracy"] >= thresholds["accuracy_gap"]
        or evidence["confidence_gap"] >= thresholds["confidence_gap"]):
    return "overfit"
if evidence["top_prediction_share"] >= thresholds["collapse"] and skill < thresholds["skill"]:
    return "degenerate"
return "healthy" if skill >= thresholds["skill"] else "inconclusive"''', "checked in order"),
        ("your_models", '''
ranked = sorted(models, key=lambda letter: train_accuracy[letter], reverse=True)
ANSWERS = {letter: "overfit" for letter in models}
ANSWERS[ranked[0]] = "healthy"          # the best fit must be the best model
DISAGREE = []''', "does not follow from its measured evidence"),
    ],
}

#: Every check and helper a student could rebind, and the comparisons and displays they could
#: patch, in the first answer cell; every answer then left as released.
REBIND_ALL = '''
import math, sys, torch, numpy, pandas
import bertlab
from bertlab import course
from bertlab.course import checking, parts
noop = lambda *args, **kwargs: None
course.check = course.self_check = checking.check = checking.self_check = noop
checking.visible_problems = lambda *args, **kwargs: []
parts.failure = noop
parts.close = lambda *args, **kwargs: True
parts.TOLERANCE = float("inf")
torch.allclose = torch.equal = lambda *args, **kwargs: True
math.isclose = lambda *args, **kwargs: True
pandas.testing.assert_frame_equal = noop
get_ipython().showtraceback = noop
class Anything(str):
    def __eq__(self, other):
        return True
    __hash__ = str.__hash__
'''

#: One part answered with bertlab's (or the course's) own reference, through an alias that a
#: search of the cell's text would not find: {assignment: (answer cell, code)}.
REFERENCE = {
    "01_extract_and_score": ("row_entropy", '''
import importlib
reference = getattr(importlib.import_module("bertlab.course.assignments." + "extract_and_score"),
                    "_entr" + "opies")
entropy, scaled = reference(attention, attention_mask)
return scaled.float() if normalised else entropy.float()'''),
    "02_layer_roles": ("layer_role", '''
import importlib
rules = importlib.import_module("bertlab." + "roles")
return getattr(rules, "label_" + "layers")(pd.DataFrame([row]))["role"].iloc[0]'''),
    "03_sep_boundaries": ("cross_segment_share", '''
import importlib
measure = getattr(importlib.import_module("bertlab." + "roles"), "meas" + "ure")
table = measure(att)
return torch.tensor(table.pivot(index="layer", columns="head",
                                values="cross_segment_share").to_numpy())'''),
    "04_detect_overfit": ("verdict", '''
import importlib
rules = importlib.import_module("bertlab.course.assignments." + "detect_overfit")
return getattr(rules, "dec" + "ide")(evidence, train_accuracy, thresholds)'''),
}

#: A cell that forges the grader's record: every case's right output, computed in the kernel by
#: the course's own parts, written where the grader reads it, the hand-over's names spelt in
#: pieces.
FORGER = """import importlib, json, os
_dir = next(value for name, value in os.environ.items()
            if name.startswith("BERTLAB_") and name.endswith("_DIR"))
_course = importlib.import_module("bertlab.course")
_parts = importlib.import_module("bertlab.course.assignments").PARTS
_core = importlib.import_module("bertlab.course.parts")
_context = importlib.import_module("bertlab.course.context").Context(_course.current_key())

def _forged(name, answer=None):
    with open(os.path.join(_dir, "cases" + ".json")) as handed:
        cases = [_core.Case.from_json(case) for case in json.load(handed)["cases"]]
    with open(os.path.join(_dir, "record" + ".jsonl"), "a") as record:
        for case in cases:
            output = _core.plain(_parts[name].right(case, _context))
            record.write(json.dumps({"part": name, "case": case.id, "output": output,
                                    "error": None, "calls": []}) + "\\n")

_course.check = _forged
"""

#: Correct code that writes to stderr and warns in every function of assignment 1.
NOISE = '''import sys, warnings, logging
print("debugging", file=sys.stderr)
warnings.warn("a warning from a correct answer")
logging.getLogger("student").warning("logged")
torch.tensor(torch.ones(1))   # torch's UserWarning
'''


def _class(course) -> dict[str, list[str]]:
    """Submit the whole class of one assignment; return the expected hints per student."""
    released, solution, name = course.released, course.solution, course.assignment
    answers, tests = answer_ids(released), graded_ids(released)
    course.submit("solution", with_answers(released, solution))
    course.submit("untouched", released)
    hints = {}
    for index, (cell, code, hint) in enumerate(WRONG[name]):
        course.submit(f"wrong{index}", with_answers(released, solution, {cell: code}))
        hints[f"wrong{index}"] = [hint]
    # The endless loop costs the cell timeout; nbgrader's timeout is the same in every
    # assignment, so one assignment loops and the others raise.
    never = "while True:\n    pass" if name == ASSIGNMENTS[0] else "raise RuntimeError('not done')"
    broken = with_answers(released, solution, {answers[0]: never})
    broken = with_cell_source(broken, answers[1], "def oops(:\n    return 1")
    broken = with_cell_source(broken, tests[2], "pass  # the student's own test")
    if len(tests) > 3:  # a fourth part: its test cell deleted (assignment 2 has three)
        broken = without_cell(broken, tests[3])
    course.submit("broken", broken)
    first = next(c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade_id") == answers[0])
    course.submit("rebinder", with_cell_source(released, answers[0], REBIND_ALL + first.source))
    cell, code = REFERENCE[name]
    course.submit("referee", with_answers(released, solution, {cell: code}))
    hints["referee"] = ["which this part asks you to write yourself"]
    if name == "01_extract_and_score":
        course.submit("noisy", with_answers(released, solution, _with_noise(solution)))
        forger = nbformat.from_dict(released)
        forger.cells.insert(1, nbformat.v4.new_code_cell(FORGER))
        course.submit("forger", forger)
    if name == "04_detect_overfit":
        course.submit("stasher", _with_stashed_thresholds(with_answers(released, solution)))
    return hints


def _with_stashed_thresholds(nb):
    """`nb` with a cell added before Part 2's answer that takes the grader's ranges, and an
    answer cell that only copies their middles."""
    nb = with_cell_source(nb, "thresholds", "THRESHOLDS = {name: (low + high) / 2 for name, "
                          "(low, high) in RANGES.items()}")
    at = next(index for index, cell in enumerate(nb.cells) if grade_id(cell) == "thresholds")
    nb.cells.insert(at, nbformat.v4.new_code_cell(
        "from bertlab.course.assignments.detect_overfit import threshold_ranges\n"
        "RANGES = threshold_ranges()"))
    return nb


def _with_noise(solution) -> dict[str, str]:
    """Every answer of `solution`, with `NOISE` run first."""
    noisy = {}
    for cell in solution.cells:
        region = SOLUTION_REGION.search(cell.source)
        if cell.metadata.get("nbgrader", {}).get("solution") and region:
            body = "\n".join(region.group(0).splitlines()[1:-1])
            noisy[cell.metadata["nbgrader"]["grade_id"]] = NOISE + textwrap.dedent(body)
    return noisy


def _grade(make_course, secret: bytes, assignment: str) -> dict:
    course = make_course(assignment)
    try:
        hints = _class(course)
        if assignment == "04_detect_overfit":
            _submit_grace(course, secret)
        log = course.autograde()
        return {"scores": course.scores(), "points": course.max_points(), "hints": hints,
                "tests": graded_ids(course.released), "log": log, "feedback": course.feedback(),
                "answers": answer_ids(course.released), "solution": course.solution}
    finally:
        course.remove()


def _submit_grace(course, secret: bytes) -> None:
    """``grace`` hands in the answers that are right for ``solution``'s models (computed here the
    way the grader does), typed in by hand."""
    from bertlab.course.assignments import detect_overfit
    from bertlab.course.context import Context
    from bertlab.course.keys import student_key

    context = Context(student_key(secret, "solution"))
    thresholds = detect_overfit.chapter_thresholds()
    answers = {letter: detect_overfit.decide(detect_overfit.model_evidence(m.lm),
                                             m.train_accuracy, thresholds)
               for letter, m in context.models.items()}
    code = f"THRESHOLDS = {thresholds!r}\nANSWERS = {answers!r}\nDISAGREE = []"
    course.submit("grace", with_answers(course.released, course.solution, {"your_models": code}))


@pytest.fixture(scope="module")
def graded(make_course, secret_bytes) -> dict[str, dict]:
    """Every assignment graded, two courses at a time (2 cores)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(ASSIGNMENTS, pool.map(lambda a: _grade(make_course, secret_bytes, a),
                                              ASSIGNMENTS)))


def _total(result, student) -> float:
    scores = result["scores"][student]
    return sum(scores[test] or 0 for test in result["tests"])


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_submission_is_graded(graded, assignment):
    students = set(graded[assignment]["scores"])
    expected = {"solution", "untouched", "broken", "rebinder", "referee"}
    expected |= {f"wrong{i}" for i in range(len(WRONG[assignment]))}
    assert expected <= students, graded[assignment]["log"][-3000:]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_gets_full_marks(graded, assignment):
    result = graded[assignment]
    for student in ("solution", *(("noisy",) if assignment == "01_extract_and_score" else ())):
        scores = result["scores"][student]
        for test in result["tests"]:
            assert scores[test] == result["points"][test], (student, test, scores,
                                                            result["log"][-3000:])


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_scores_zero(graded, assignment):
    scores = graded[assignment]["scores"]["untouched"]
    assert all(score == 0 for score in scores.values()), scores


@pytest.mark.parametrize("assignment, index", [(a, i) for a in ASSIGNMENTS for i in range(4)
                                               if i < len(WRONG[a])])
def test_wrong_submission_loses_exactly_its_part_and_is_told_why(graded, assignment, index):
    result = graded[assignment]
    student = f"wrong{index}"
    scores, points, tests = result["scores"][student], result["points"], result["tests"]
    failing = f"test_{WRONG[assignment][index][0]}"
    for test in tests:
        assert scores[test] == (0 if test == failing else points[test]), (test, scores)
    assert WRONG[assignment][index][2] in _feedback_text(result["feedback"][student])


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_rebinding_every_check_and_helper_scores_zero(graded, assignment):
    result = graded[assignment]
    scores = result["scores"]["rebinder"]
    assert all(scores[test] == 0 for test in result["tests"]), scores


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_calling_the_reference_where_forbidden_loses_that_part(graded, assignment):
    result = graded[assignment]
    scores, points = result["scores"]["referee"], result["points"]
    cheated = f"test_{REFERENCE[assignment][0]}"
    for test in result["tests"]:
        assert scores[test] == (0 if test == cheated else points[test]), (test, scores)
    assert "which this part asks you to write yourself" in _feedback_text(result["feedback"]["referee"])


def test_a_value_computed_in_an_added_cell_loses_its_part(graded):
    result = graded["04_detect_overfit"]
    scores, points = result["scores"]["stasher"], result["points"]
    for test in result["tests"]:
        assert scores[test] == (0 if test == "test_thresholds" else points[test]), (test, scores)
    feedback = _feedback_text(result["feedback"]["stasher"])
    assert "which this part asks you to find yourself" in feedback


def test_a_forged_record_scores_zero(graded):
    result = graded["01_extract_and_score"]
    scores = result["scores"]["forger"]
    assert all(scores[test] == 0 for test in result["tests"]), scores


def test_each_student_is_graded_against_their_own_models(graded):
    """``grace`` typed in the answers right for ``solution``'s models: on her own models they are
    wrong, so Part 4 scores 0, while ``solution`` (who computed them) scores full."""
    result = graded["04_detect_overfit"]
    assert result["scores"]["solution"]["test_your_models"] == result["points"]["test_your_models"]
    assert result["scores"]["grace"]["test_your_models"] == 0, result["scores"]["grace"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_broken_submissions_are_graded_without_stopping(graded, assignment):
    result = graded[assignment]
    tests, points = result["tests"], result["points"]
    broken = result["scores"]["broken"]
    # The endless loop was stopped by the timeout (or the answer raised), the syntax error failed
    # to define its answer: both parts score 0, and grading went on with the next cells.
    assert broken[tests[0]] == 0 and broken[tests[1]] == 0, broken
    # The edited test cell was restored from the gradebook and graded as the course wrote it.
    assert broken[tests[2]] == points[tests[2]], broken
    # A deleted test cell earns nothing.
    if len(tests) > 3:
        assert not broken.get(tests[3]), broken


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_shows_no_hidden_case_source_or_answer(graded, assignment):
    result = graded[assignment]
    solution_lines = {" ".join(line.split()) for cell in result["solution"].cells
                      if cell.metadata.get("nbgrader", {}).get("solution")
                      for region in SOLUTION_REGION.findall(cell.source)
                      for line in region.splitlines()[1:-1] if len(line.strip()) > 30}
    assert solution_lines
    for student, page in result["feedback"].items():
        assert "HIDDEN TESTS" not in page and "BEGIN SOLUTION" not in page, student
        if student != "forger":   # the forger's own output names the files it goes looking for
            assert "cases.json" not in page and "record.jsonl" not in page, student
        if student in ("untouched", "rebinder"):  # nothing of the solution was handed in
            text = _feedback_text(page)
            leaked = [line for line in solution_lines if line in text]
            assert not leaked, (student, leaked[:3])
    if assignment == "04_detect_overfit":
        # which models are judged wrong is said by letter; what would have been right is not
        verdict = _feedback_text(result["feedback"]["grace"]).split("✗ Part 4, your models")[1][:400]
        assert "does not follow from its measured evidence" in verdict
        assert not re.search(r"healthy|overfit|degenerate|inconclusive", verdict), verdict


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_written_answers_await_grading_in_the_feedback(graded, assignment):
    page = graded[assignment]["feedback"]["solution"]
    assert "awaiting grading" in page
    assert not re.search(r"Written response</a> \(Score: 0\.0", page)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_checksums_change_only_where_a_test_cell_was_edited(graded, assignment):
    """nbgrader warns "checksum ... has changed" when a locked cell differs from the release; the
    notebooks hold no hidden tests, so that happens only where a student edited one."""
    warned, student = set(), None
    for line in graded[assignment]["log"].splitlines():
        found = re.search(r"submitted/([^/]+)/", line)
        student = found.group(1) if found else student
        if "has changed!" in line:
            warned.add(student)
    assert warned <= {"broken"}, warned


def _feedback_text(page: str) -> str:
    """A feedback page's text, tags and entities removed, whitespace collapsed."""
    import html

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())

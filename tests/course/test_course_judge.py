"""The grader's rules, without nbgrader: plain values, the watch on forbidden calls, the reading
of answer cells, and hints that name exactly the mistake they describe.

Runtime: about 30-60 s (every part's cases are measured once, on the embedded and zoo models).
"""

from __future__ import annotations

import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook

from bertlab.course import judge
from bertlab.course.assignments import ASSIGNMENTS, PARTS
from bertlab.course.checking import run_case
from bertlab.course.context import Context
from bertlab.course.parts import failure, plain
from bertlab.course.keys import PRACTICE_KEY


@pytest.fixture(scope="module")
def context() -> Context:
    return Context(PRACTICE_KEY)


class AlwaysEqual(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


class Lying(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return torch.ones(3).tolist() if func is torch.Tensor.tolist else super().__torch_function__(
            func, types, args, kwargs or {})


def test_plain_values_keep_no_spoofed_equality_or_tensor_disguise():
    spoof = plain({"verdict": AlwaysEqual("healthy")})
    assert type(spoof["verdict"]) is str and spoof["verdict"] != "overfit"
    lying = torch.zeros(3).as_subclass(Lying)
    assert plain(lying) == [0.0, 0.0, 0.0]


def test_a_call_into_the_reference_is_caught_through_an_alias(context):
    import importlib

    part = PARTS["layer_role"]
    rules = importlib.import_module("bertlab." + "roles")
    alias = getattr(rules, "label_" + "layers")

    def answer(row):
        import pandas as pd
        return alias(pd.DataFrame([row]))["role"].iloc[0]

    entry = run_case(part, answer, part.visible(context)[0], context)
    assert "bertlab.roles.label_layers" in entry["calls"]


def test_answer_cells_are_read_for_forbidden_names_but_thresholds_stay_usable():
    layer_role, thresholds = PARTS["layer_role"], PARTS["thresholds"]
    assert judge._forbidden_names_in("from bertlab.roles import label_layers as f", layer_role)
    assert not judge._forbidden_names_in("x = row['cls_share'] >= STRONG_SHARE", layer_role)
    copied = "from bertlab import diagnosis\nT = {'collapse': diagnosis.COLLAPSED_PREDICTIONS}"
    assert judge._forbidden_names_in(copied, thresholds)
    assert judge._forbidden_names_in("T = getattr(x, 'y')", thresholds)


def test_a_value_computed_in_another_cell_is_caught_but_the_students_own_names_are_not():
    thresholds = PARTS["thresholds"]
    ranges = ("from bertlab.course.assignments.detect_overfit import threshold_ranges\n"
              "R = threshold_ranges()")
    assert judge._forbidden_names_in("T = threshold_ranges()", thresholds)
    assert judge._forbidden_names_in(ranges, thresholds, qualified_only=True)
    assert judge._forbidden_names_in("from bertlab import diagnosis\nC = diagnosis.LEARNT_SKILL",
                                     thresholds, qualified_only=True)
    own = ("from bertlab.course.assignments.detect_overfit import VERDICTS\n"
           "def decide(evidence):\n    return VERDICTS[0]\nMETRICS = [decide({})]")
    assert not judge._forbidden_names_in(own, thresholds, qualified_only=True)
    assert not judge._forbidden_names_in("x = getattr(row, 'cls_share')", thresholds,
                                         qualified_only=True)


def test_part_4_may_not_have_bertlab_decide_but_may_name_its_own_helper_decide():
    your_models = PARTS["your_models"]
    diagnosed = ("from bertlab.diagnosis import diagnose\n"
                 "ANSWERS = {l: diagnose(m.lm).verdict for l, m in models.items()}")
    assert judge._forbidden_names_in(diagnosed, your_models)
    assert judge._forbidden_names_in("ANSWERS = {l: detect_overfit.decide(e, t, T) for l in 'AB'}",
                                     your_models)
    own = "def decide(row):\n    return verdict(row, 1.0, THRESHOLDS)\nANSWERS = {'A': decide({})}"
    assert not judge._forbidden_names_in(own, your_models)
    assert not judge._forbidden_names_in("ok = all(v in VERDICTS for v in ANSWERS.values())",
                                         your_models)


def test_a_notebook_reaching_into_the_grader_fails_every_part():
    nb = new_notebook(cells=[new_code_cell("open(os.environ['BERTLAB_GRADING_DIR'] + '/record.jsonl')")])
    assert judge._grader_names_in(nb)
    assert not judge._grader_names_in(new_notebook(cells=[new_code_cell("print('fine')")]))


@pytest.mark.parametrize("name", [part.name for parts in ASSIGNMENTS.values() for part in parts])
def test_each_hint_names_the_mistake_it_describes_and_no_other(name, context):
    """For every realistic mistake a part knows, on a case where it makes a difference, the
    failure message is that mistake's hint (and the right output passes)."""
    part = PARTS[name]
    for case in part.cases(12345, context):
        assert failure(part, plain(part.right(case, context)), case, context) is None, case.id
        for hint, wrong in part.mistakes(case, context):
            wrong = plain(wrong)
            if failure(part, wrong, case, context) is None:
                continue  # this mistake makes no difference on this case
            message = failure(part, wrong, case, context)
            assert message == hint or (message.startswith("one of these mistakes") and hint in message), (
                case.id, hint, message)


#: For each part whose visible check can see only the form: an answer of the right form that is
#: wrong (verdicts and thresholds nobody measured).
WELL_FORMED_BUT_WRONG = {
    "thresholds": {"collapse": 0.5, "skill": 0.99, "accuracy_gap": 0.9, "confidence_gap": -0.5},
    "your_models": ({"A": "overfit", "B": "healthy", "C": "healthy", "D": "healthy"}, ["A", "C"],
                    {"collapse": 0.5, "skill": 0.99, "accuracy_gap": 0.9, "confidence_gap": -0.5}),
    "border_effect": {"layer": 1, "d": 0.0, "size": "none"},
}


def test_a_check_that_sees_only_the_form_says_so_instead_of_a_tick(capsys):
    """A student reads ✓ as "right": a part whose visible check cannot judge the answer prints ○
    and says the answer is judged only when grading."""
    from bertlab.course import checking

    form_only = {name for name, part in PARTS.items() if part.form_only}
    assert form_only == set(WELL_FORMED_BUT_WRONG)
    for name, answer in WELL_FORMED_BUT_WRONG.items():
        checking.check(name, answer)
        printed = capsys.readouterr().out
        assert printed.startswith("○") and "only when grading" in printed, (name, printed)
        assert "✓" not in printed, (name, printed)


def test_the_preview_fails_a_right_function_that_reads_the_setups_data(context):
    """`cls_row` that reads the setup's `CLS_ID` instead of its argument gives the right rows in
    the notebook, and raises NameError where the grader runs it: the preview says so first."""
    from bertlab.course.checking import visible_problems

    source = ("def cls_row(attention, input_ids, cls_token_id):\n"
              "    position = (input_ids == CLS_ID).int().argmax(dim=1)\n"
              "    return attention[torch.arange(attention.shape[0]), :, :, position]\n")
    namespace = {"__name__": "__main__", "torch": torch,
                 "CLS_ID": context.lm.tokenizer.cls_token_id}
    exec(source, namespace)
    part = PARTS["cls_row"]
    for case in part.visible(context):
        output = run_case(part, namespace["cls_row"], case, context)["output"]
        assert failure(part, output, case, context) is None
    problems = visible_problems(part, namespace["cls_row"], context)
    assert len(problems) == 1 and "CLS_ID (the setup cell's data)" in problems[0], problems

"""The one verdict rule of bertlab.claims, its intervals and its robustness test, on hand-made
conditions with known answers (no model)."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bertlab
from bertlab.claims import VERDICTS, ClaimCheck, Condition, load_records, record, verdict_of
from bertlab.claims.bertviz import check_c11, choose_layers
from bertlab.claims.uncertainty import (N_RESAMPLES, bootstrap, exact, resample_counts, t_interval,
                                        weighted_mean, welch_interval)
from bertlab.i18n import Text


def cond(low, high, op=">=", threshold=0.5, text="x"):
    return Condition(text, (low + high) / 2, op, threshold, low=low, high=high)


@pytest.mark.parametrize("low, high, op, met", [
    (0.6, 0.8, ">=", True), (0.2, 0.4, ">=", False), (0.4, 0.6, ">=", None),
    (0.5, 0.7, ">=", True),     # the interval's lower end exactly on the threshold: met for >=
    (0.5, 0.7, ">", None),      # ... but not for >: the value 0.5 itself fails
    (0.3, 0.5, "<=", True), (0.3, 0.5, "<", None), (0.5, 0.5, ">", False),
])
def test_a_condition_is_decided_only_when_its_whole_interval_is_on_one_side(low, high, op, met):
    assert cond(low, high, op).met is met


MET, NOT, OPEN = cond(0.6, 0.8), cond(0.1, 0.2), cond(0.4, 0.6)


@pytest.mark.parametrize("conditions, verdict", [
    ((MET, MET), "holds"), ((NOT, NOT), "does not hold"), ((MET, NOT), "holds in part"),
    ((MET, OPEN), "undecided"),             # holds, or holds in part: the data cannot decide
    ((NOT, OPEN), "undecided"),             # does not hold, or holds in part
    ((MET, NOT, OPEN), "holds in part"),    # either way of settling it gives holds in part
    ((OPEN,), "undecided"),
])
def test_the_verdict_is_what_every_settling_of_the_undecided_conditions_agrees_on(conditions, verdict):
    assert verdict_of((), conditions) == verdict


def test_premises_come_first():
    assert verdict_of((NOT,), (MET, MET)) == "not testable"
    assert verdict_of((OPEN,), (MET, MET)) == "undecided"
    assert verdict_of((MET,), (MET, MET)) == "holds"
    assert verdict_of((), (MET,), untestable="no zoo for this model") == "not testable"
    check = ClaimCheck("C0", "s", "intro", (), untestable="no zoo for this model")
    assert check.verdict == "not testable" and check.fragile == []


def test_holds_in_part_says_which_part():
    check = ClaimCheck("C0", "s", "intro", (cond(0.6, 0.8, text="first"), cond(0.1, 0.2, text="second")))
    assert check.verdict == "holds in part" and check.part == ("first",)


def test_a_verdict_that_a_twenty_percent_move_of_a_threshold_flips_is_fragile():
    near = Condition("near", 0.29, ">=", 0.3, low=0.287, high=0.294)   # C4's lower third, say
    check = ClaimCheck("C0", "s", "intro", (MET, near))
    assert check.verdict == "holds in part"
    flips = check.fragile
    assert [(f["text"], f["moved_to"], f["verdict"]) for f in flips] == [("near", pytest.approx(0.24), "holds")]
    robust = ClaimCheck("C0", "s", "intro", (cond(0.9, 0.95), cond(0.0, 0.05)))
    assert robust.fragile == []


def test_a_premise_can_be_fragile_too():
    premise = Condition("premise", 0.28, ">=", 0.3, low=0.27, high=0.29)
    check = ClaimCheck("C0", "s", "intro", (MET,), premises=(premise,))
    assert check.verdict == "not testable"
    assert [f["kind"] for f in check.fragile] == ["premise"]


def test_conditions_refuse_nan_and_a_value_outside_its_interval():
    with pytest.raises(bertlab.InputError, match="NaN"):
        Condition("x", float("nan"), ">=", 0.5)
    with pytest.raises(bertlab.InputError, match="outside its interval"):
        Condition("x", 0.9, ">=", 0.5, low=0.1, high=0.2)
    with pytest.raises(bertlab.InputError, match="op"):
        Condition("x", 0.9, "=>", 0.5)


def test_records_hold_interval_met_verdict_part_and_fragile(tmp_path):
    near = Condition("near", 0.29, ">=", 0.3, low=0.287, high=0.294)
    check = ClaimCheck("C0", "s", "intro", (MET, near, OPEN), premises=(MET,),
                       illustrations=("one sentence",))
    path = record(check, tmp_path)
    data = json.loads(path.read_text())
    assert [c["met"] for c in data["conditions"]] == [True, False, None]
    assert {"low", "high", "method"} <= set(data["conditions"][0])
    assert data["verdict"] == check.verdict and data["part"] == ["x"]
    assert data["premises"][0]["met"] is True and isinstance(data["fragile"], list)
    loaded = load_records(tmp_path)[0]
    assert loaded == check and loaded.verdict in VERDICTS


# --- intervals ---------------------------------------------------------------------------------

def test_t_and_welch_intervals_match_scipy():
    values = [0.80, 0.83, 0.78]
    estimate = t_interval(values)
    low, high = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert (estimate.low, estimate.high) == (pytest.approx(low), pytest.approx(high))
    a, b = [0.7, 0.75, 0.72], [0.6, 0.55, 0.62, 0.58]
    welch = welch_interval(a, b)
    result = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (welch.low, welch.high) == (pytest.approx(result.low), pytest.approx(result.high))
    assert "Welch" in welch.method and "3 and 4 seeds" in welch.method


def test_weighted_means_skip_nan_and_follow_their_weights():
    values = np.array([1.0, 3.0, np.nan, 5.0])
    assert weighted_mean(np.ones(4), values) == pytest.approx(3.0)
    assert weighted_mean(np.array([[2, 0, 0, 0], [0, 1, 1, 1]]), values).tolist() == [1.0, 4.0]
    assert weighted_mean(np.ones(4), values, where=np.array([1, 1, 0, 0], bool)) == pytest.approx(2.0)


def test_resamples_draw_every_text_as_often_as_there_are_texts_and_keep_strata():
    counts = resample_counts(10, n_resamples=50)
    assert counts.shape == (50, 10) and (counts.sum(axis=1) == 10).all()
    strata = [0] * 4 + [1] * 6
    kept = resample_counts(10, n_resamples=50, strata=strata)
    assert (kept[:, :4].sum(axis=1) == 4).all() and (kept[:, 4:].sum(axis=1) == 6).all()


def test_a_bootstrap_of_a_mean_agrees_with_the_normal_interval():
    rng = np.random.default_rng(1)
    values = rng.normal(0.4, 0.1, size=400)
    estimate = bootstrap(lambda w: weighted_mean(w, values), len(values))
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert estimate.value == pytest.approx(values.mean())
    assert estimate.low == pytest.approx(values.mean() - half, abs=0.003)
    assert estimate.high == pytest.approx(values.mean() + half, abs=0.003)
    assert f"{N_RESAMPLES} resamples" in estimate.method


def test_an_exact_number_has_no_interval_and_says_why():
    estimate = exact(2.0, "a count of the model's own layers")
    assert estimate.low == estimate.value == estimate.high and "exact" in estimate.method


# --- C11's layer choice (hand-built profiles) -----------------------------------------------------

def hand_profile(cls_shares, sep_shares) -> pd.DataFrame:
    return pd.DataFrame({"layer": range(len(cls_shares)), "cls_share": cls_shares,
                         "sep_share": sep_shares})


def test_c11_picks_the_layers_by_their_shares():
    choice = choose_layers(hand_profile([0.2, 0.7, 0.3, 0.1], [0.1, 0.1, 0.2, 0.6]))
    assert (choice.cls_layer, choice.structural_layer, choice.is_structural) == (1, 3, True)
    assert check_c11(choice).verdict == "holds"
    weak = choose_layers(hand_profile([0.2, 0.7, 0.3, 0.1], [0.1, 0.05, 0.2, 0.15]))
    met = [c.met for c in check_c11(weak).conditions]
    assert (weak.structural_layer, weak.is_structural, met) == (2, False, [True, False, True, True])


def test_c11_a_layer_exactly_at_the_strong_bar_is_structural():
    choice = choose_layers(hand_profile([0.7, 0.1], [0.0, 0.3]))
    assert choice.is_structural and check_c11(choice).conditions[1].met


def test_c11_one_layer_for_both_roles_is_no_comparison():
    choice = choose_layers(hand_profile([0.1, 0.6], [0.1, 0.5]))
    check = check_c11(choice)
    assert choice.cls_layer == choice.structural_layer == 1
    assert [c.met for c in check.conditions] == [True, True, False, False]
    assert check.verdict == "holds in part"


def test_c11_rejects_a_table_without_the_shares():
    with pytest.raises(bertlab.InputError, match="sep_share"):
        choose_layers(hand_profile([0.1], [0.2]).drop(columns="sep_share"))


# --- a claim's overall verdict from its aspects ------------------------------------------------

def aspect(*conditions, premises=()):
    return ClaimCheck("C0", "s", "intro", conditions, premises=premises)


@pytest.mark.parametrize("aspects, overall", [
    ((aspect(MET), aspect(MET)), "holds"),
    ((aspect(MET), aspect(NOT)), "holds in part"),
    ((aspect(NOT), aspect(NOT, premises=(NOT,))), "does not hold"),   # the untestable one drops out
    ((aspect(MET), aspect(MET, OPEN)), "undecided"),                   # holds, or holds in part
    ((aspect(MET, NOT), aspect(NOT, OPEN)), "holds in part"),          # in part whatever settles
    ((aspect(NOT, premises=(NOT,)),), "not testable"),
])
def test_a_claims_overall_verdict_follows_the_same_rule(aspects, overall):
    from bertlab.claims import overall_verdict

    assert overall_verdict(aspects) == overall


def test_the_reason_names_what_decided_and_stays_short():
    long = Condition("a condition with a very long description " * 3, 0.7, ">=", 0.5, low=0.6, high=0.8)
    assert aspect(MET, MET).reason == "all 2 conditions met"
    assert aspect(NOT, premises=(NOT,)).reason.startswith("premise not met: ")
    assert "undecided: " in aspect(MET, OPEN).reason
    assert len(aspect(long, NOT).reason) < 100 and aspect(long, NOT).reason.endswith("…")


# --- in the book's languages -------------------------------------------------------------------

def test_a_text_given_in_both_languages_keeps_its_english_where_callers_and_records_read_it(tmp_path):
    large = Condition(Text(en="x above {bar:g}", ja="x が {bar:g} を超える").format(bar=0.5),
                      0.7, ">=", 0.5, low=0.6, high=0.8)
    assert large.text == "x above 0.5" and large.wording.ja == "x が 0.5 を超える"
    assert large.with_threshold(0.4).wording == large.wording       # a moved threshold keeps it
    check = ClaimCheck("C0", Text(en="An example.", ja="例です。"), "intro", (large,),
                       illustrations=(Text(en="one sentence", ja="一文"), "plain"))
    assert check.statement == "An example." and check.illustrations == ("one sentence", "plain")
    data = json.loads(record(check, tmp_path).read_text())       # the record: English only
    assert data["statement"] == "An example." and data["conditions"][0]["text"] == "x above 0.5"
    assert not {"statement_text", "untestable_text", "illustration_texts"} & set(data)
    assert "wording" not in data["conditions"][0]
    assert load_records(tmp_path)[0] == check
    japanese = check.to_text().render("ja")
    assert "例です。" in japanese and "x が 0.5 を超える" in japanese and "一文" in japanese
    assert "「plain」" in japanese                                    # a plain str: quoted English
    assert check.to_text().render("en") == check.to_markdown()
    assert "x above 0.5" in check.to_markdown() and "例" not in check.to_markdown()


def test_a_plain_str_is_english_only_and_quoted_in_japanese():
    plain = Condition("y is small", 0.1, "<=", 0.2)
    assert plain.wording.en == "y is small" and plain.wording.ja == "「y is small」"
    with pytest.raises(bertlab.InputError, match="str .English. or a bertlab.i18n.Text"):
        Condition(42, 0.1, "<=", 0.2)


def test_the_scorecard_reason_names_the_deciding_condition_in_each_language():
    japanese = "あ" * 20 + "、" + "い" * 30        # 51 characters: cut at its 、 (21st)
    long_ = Condition(Text(en="a long condition " * 6, ja=japanese), 0.1, ">=", 0.5)
    check = ClaimCheck("C0", "s", "intro", (long_,))
    reason = check.reason_text
    assert reason.render("en").startswith("none met, e.g. a long condition") and reason.render(
        "en").endswith(" …") and len(reason.render("en")) <= len("none met, e.g. ") + 72
    assert reason.render("ja") == "どの条件も満たさない。例：" + "あ" * 20 + " …"
    short = Condition(Text(en="short", ja="い" * 40), 0.1, ">=", 0.5)    # 40: not cut
    assert ClaimCheck("C0", "s", "intro", (short,)).reason_text.render("ja").endswith("い" * 40)
    uncut = Condition(Text(en="short", ja="い" * 50), 0.1, ">=", 0.5)    # no 、 in reach: whole
    assert ClaimCheck("C0", "s", "intro", (uncut,)).reason_text.render("ja").endswith("い" * 50)
    nested = Condition(Text(en="short", ja="あ" * 15 + "（い、う）" + "え" * 30), 0.1, ">=", 0.5)
    assert ClaimCheck("C0", "s", "intro", (nested,)).reason_text.render("ja").endswith(
        "あ" * 15 + " …")                  # the 、 inside the parentheses is no place to cut
    english = Condition("overfit recipes (overfit, overfit-frozen and overfit-reinit, three seeds "
                        "each) against the healthy ones", 0.1, ">=", 0.5)   # ")" past 70
    assert ClaimCheck("C0", "s", "intro", (english,)).reason == "none met, e.g. overfit recipes …"

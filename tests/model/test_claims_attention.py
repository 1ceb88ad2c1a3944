"""bertlab.claims.attention: every attention claim check, on the real model and a tiny one."""

import math

import pytest

from bertlab.claims import VERDICTS, ClaimCheck, load_records, record
from bertlab.claims import attention

CLAIMS = ["C1", "C2", "C4", "C5", "C6", "C7", "C8", "C9"]


def rule(check: ClaimCheck) -> str:
    """The verdict rule of bertlab.claims, re-derived from the conditions."""
    met = [c.met for c in check.conditions]
    return "holds" if all(met) else "holds in part" if any(met) else "does not hold"


@pytest.fixture(scope="module")
def real_checks(lm):
    return attention.checks(lm)


def test_every_claim_is_checked_once_in_order(real_checks):
    assert [check.claim for check in real_checks] == CLAIMS
    assert next(c for c in real_checks if c.claim == "C6").aspect == "pretrained profile"


def test_conditions_are_finite_and_verdicts_follow_the_rule(real_checks):
    for check in real_checks:
        assert check.conditions
        for condition in check.conditions:
            assert math.isfinite(condition.value) and math.isfinite(condition.threshold)
        assert check.verdict in VERDICTS and check.verdict == rule(check)


def test_checks_agree_with_their_evidence(lm, real_checks):
    ev = attention.evidence(lm)
    c1 = next(c for c in real_checks if c.claim == "C1")
    assert c1.conditions[0].value == pytest.approx(ev.profile["cls_share"].max())
    c9 = next(c for c in real_checks if c.claim == "C9")
    peak = int(ev.pairs.groupby("layer")["sep_share"].mean().idxmax())
    d = attention.border_effect(ev).set_index("layer").loc[peak, "cohens_d"]
    assert c9.conditions[1].value == pytest.approx(abs(d))


def test_records_round_trip(real_checks, tmp_path):
    for check in real_checks:
        record(check, tmp_path)
    loaded = load_records(tmp_path)
    assert [(c.claim, c.verdict) for c in loaded] == [(c.claim, c.verdict) for c in real_checks]


def test_dog_sentence_rows(lm):
    shares = attention.token_cls_shares(lm)
    assert len(shares) == lm.n_layers
    assert ((shares[list(attention.DOG_WORDS)] >= 0) & (shares[list(attention.DOG_WORDS)] <= 1)).all().all()
    with pytest.raises(Exception, match="single tokens"):
        attention.token_cls_shares(lm, words=("giraffe",))


def test_checks_run_on_a_model_of_another_depth(tiny_lm):
    checks = attention.checks(tiny_lm)
    assert [check.claim for check in checks] == CLAIMS
    for check in checks:
        assert all(math.isfinite(c.value) for c in check.conditions)
        assert check.verdict == rule(check)

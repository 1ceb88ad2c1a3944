"""bertlab.claims on real models: the attention checks on the embedded model, re-derived from the
per-text tables by hand; the placebo (random BERTs decide nothing); other depths run cleanly."""

import math
import re

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

import bertlab
from bertlab.claims import VERDICTS, ClaimCheck
from bertlab.claims import attention, bertviz
from bertlab.claims.registry import CLAIMS, run_all
from bertlab.claims.uncertainty import bootstrap, weighted_mean
from bertlab.roles import STRONG_SHARE

ATTENTION_CLAIMS = ["C1", "C2", "C4", "C5", "C6", "C7", "C8", "C9"]
# Three Latin words in a row: an English phrase left in a Japanese text.
LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z'\-]*(?:[ ,;:.!?]+[A-Za-z][A-Za-z'\-]*){2,}")


def english_in_japanese(text: str) -> list[str]:
    """The English phrases of a Japanese claim text, leaving out code (model names), [CLS]-style
    tokens and C1's example sentence, which the Japanese quotes as it is."""
    text = re.sub(r"`[^`]*`|\[[A-Z]+\]", " ", text.replace(attention.DOG_SENTENCE, " "))
    return LATIN_RUN.findall(text)


def japanese_of(check: ClaimCheck) -> str:
    """Everything a Japanese page shows of `check`: its box and its scorecard reason."""
    return check.to_text().render("ja") + "\n" + check.reason_text.render("ja")


def rule(check: ClaimCheck) -> str:
    """The verdict rule, written again: premises first, then every settling of the undecided."""
    if check.untestable or any(p.met is False for p in check.premises):
        return "not testable"
    if any(p.met is None for p in check.premises):
        return "undecided"
    met = [c.met for c in check.conditions]
    if None not in met:
        return "holds" if all(met) else "holds in part" if any(met) else "does not hold"
    decided = [m for m in met if m is not None]
    return "holds in part" if True in decided and False in decided else "undecided"


@pytest.fixture(scope="module")
def ev(lm):
    return attention.evidence(lm)


@pytest.fixture(scope="module")
def real_checks(ev):
    return [check(ev) for check in (attention.check_c1, attention.check_c2, attention.check_c4,
                                    attention.check_c5, attention.check_c6, attention.check_c7,
                                    attention.check_c8, attention.check_c9)]


def test_every_attention_claim_is_checked_once_in_order(real_checks):
    assert [check.claim for check in real_checks] == ATTENTION_CLAIMS
    assert next(c for c in real_checks if c.claim == "C6").aspect == "pretrained profile"


def test_every_number_has_an_interval_from_resampling_and_the_verdict_follows(real_checks):
    for check in real_checks:
        for item in (*check.premises, *check.conditions):
            assert math.isfinite(item.low) and item.low <= item.value <= item.high
            assert "bootstrap over" in item.method, (check.claim, item.text, item.method)
        assert check.verdict in VERDICTS and check.verdict == rule(check)


def test_the_english_phrase_scan_catches_a_quoted_english_condition():
    assert english_in_japanese("- ✓ 「share of such heads」：0.9") == ["share of such heads"]
    assert english_in_japanese("`zoo:healthy/seed0` の [CLS] と BertViz、high-lr レシピ") == []


def test_every_check_reads_in_japanese_in_the_japanese_edition(lm, real_checks):
    for check in (*real_checks, *bertviz.checks(lm)):
        assert not english_in_japanese(japanese_of(check)), (check.claim, japanese_of(check))
        assert check.to_text().render("en") == check.to_markdown()


def test_c1_is_the_corpus_statistic_computed_by_hand(ev, real_checks):
    """C1's first number, from the per-text table with pandas: the layer mean over heads and
    texts of the ordinary tokens' [CLS] share minus its uniform value, at its highest layer."""
    table = ev.review_texts.table
    excess = table["content_cls_share"] - table["uniform_content_cls_share"]
    by_layer = excess.groupby(table["layer"]).mean()
    c1 = real_checks[0]
    assert c1.conditions[0].value == pytest.approx(by_layer.max())
    assert c1.conditions[0].threshold == STRONG_SHARE
    assert len(c1.illustrations) == 1 and "dog" in c1.illustrations[0]   # shown, not deciding


def test_intervals_have_two_stable_decimals(ev):
    """Another bootstrap seed moves the interval's ends by less than 0.005."""
    from bertlab.claims import uncertainty

    excess = ev.review_texts.excess("content_cls_share")
    statistic = lambda w: weighted_mean(w, excess).mean(-1).max(-1)   # noqa: E731
    first = bootstrap(statistic, ev.review_texts.n_texts)
    counts = uncertainty.resample_counts(ev.review_texts.n_texts, seed=uncertainty.SEED + 1)
    other = np.percentile(statistic(counts), [2.5, 97.5])
    assert abs(first.low - other[0]) < 0.005 and abs(first.high - other[1]) < 0.005


def test_c9_without_attention_on_sep_is_not_testable_and_says_why(ev, real_checks):
    c9 = real_checks[-1]
    sep_peak = ev.pair_texts.excess("sep_share").mean(axis=(0, 2)).max()
    assert (c9.verdict == "not testable") == (sep_peak < STRONG_SHARE - 0.05)
    assert any("[SEP]" in p.text for p in c9.premises)


def test_c11_reads_the_pairs_and_chooses_again_in_every_resample(lm):
    sample = bertviz.pair_texts(lm)
    profile = bertviz.pair_profile(lm)
    choice = bertviz.choose_layers(profile)
    check = bertviz.check_c11(choice, sample)
    assert choice.cls_layer == int(profile["cls_share"].to_numpy().argmax())
    assert check.conditions[0].value == pytest.approx(choice.excess(choice.cls_layer, "cls_share"))
    assert all("bootstrap" in c.method for c in check.conditions)
    assert check.verdict == rule(check)


def random_bert(lm, n_layers: int, seed: int = 3) -> bertlab.LoadedModel:
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=lm.tokenizer.vocab_size, hidden_size=48, num_attention_heads=4,
                        num_hidden_layers=n_layers, intermediate_size=96,
                        attn_implementation="eager")
    return bertlab.wrap(BertModel(config).eval(), lm.tokenizer, name=f"random-{n_layers}-layers")


@pytest.mark.parametrize("n_layers", [3, 12])
def test_a_random_bert_is_a_placebo_no_claim_holds_even_in_part(lm, n_layers):
    """Random weights have no learned roles: every check runs, on any depth, and none holds."""
    checks = run_all(random_bert(lm, n_layers), progress=False)
    assert {check.claim for check in checks} == set(CLAIMS)
    for check in checks:
        assert check.verdict in VERDICTS and check.verdict == rule(check)
        assert check.verdict not in ("holds", "holds in part"), check.to_markdown()
        assert not english_in_japanese(japanese_of(check)), japanese_of(check)   # untestable too
        for item in (*check.premises, *check.conditions):
            assert math.isfinite(item.value)
    zoo_checks = [c for c in checks if c.aspect == "fine-tuned models"]
    assert zoo_checks and all(c.untestable for c in zoo_checks)

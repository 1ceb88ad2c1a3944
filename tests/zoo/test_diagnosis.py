"""bertlab.drift and bertlab.diagnose: known answers on hand-built tensors, the zoo's verdicts for
every experiment seed, a model whose weights were never loaded, and bad input."""

import math

import matplotlib
import pandas as pd
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

import bertlab
from bertlab import zoo
from bertlab.datasets import load_reviews
from bertlab.diagnosis import NEAR_UNIFORM_ENTROPY, normalised_entropy
from bertlab.drift import DRIFT_METRICS, attention_drift, js_divergence, map_cosine
from bertlab.i18n import EDITIONS_VARIABLE
from bertlab.loading import embedded_model_path
from bertlab.zoo.experiment import SEEDS

matplotlib.use("Agg")

TEXTS = ["The dog chased the cat.", "A short one.",
         "The hotel room was clean, but the staff never answered the phone at night."]


def test_js_divergence_known_values():
    p = torch.tensor([0.5, 0.5])
    q = torch.tensor([1.0, 0.0])
    # m = (0.75, 0.25): KL(p‖m) = ½ln(2/3) + ½ln 2, KL(q‖m) = ln(4/3)
    expected = (0.5 * math.log(2 / 3) + 0.5 * math.log(2) + math.log(4 / 3)) / 2
    assert js_divergence(p, q).item() == pytest.approx(expected, abs=1e-6)
    assert js_divergence(q, p).item() == pytest.approx(expected, abs=1e-6)  # symmetric
    assert js_divergence(p, p).item() == 0.0
    disjoint = js_divergence(torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 0.5, 0.5]))
    assert disjoint.item() == pytest.approx(math.log(2), abs=1e-6)
    batch = js_divergence(torch.stack([p, q]), torch.stack([q, q]))
    assert batch.shape == (2,) and batch[1].item() == 0.0


def test_map_cosine_known_values():
    diagonal = torch.eye(3)
    to_first = torch.zeros(3, 3)
    to_first[:, 0] = 1.0
    assert map_cosine(diagonal, diagonal).item() == pytest.approx(1.0)
    assert map_cosine(diagonal, to_first).item() == pytest.approx(1 / 3)  # one shared cell of 3
    assert map_cosine(diagonal, 2 * diagonal).item() == pytest.approx(1.0)  # scale-free
    maps = torch.stack([diagonal, to_first])[None]                           # [1, 2, Q, K]
    assert map_cosine(maps, maps.flip(1)).shape == (1, 2)


def test_a_model_has_no_drift_from_itself_and_batching_does_not_matter(lm):
    drift = attention_drift(lm, lm, TEXTS, progress=False)
    assert len(drift) == lm.n_layers * lm.n_heads
    assert drift.js_divergence.abs().max() < 1e-6
    assert (drift.map_cosine - 1).abs().max() < 1e-5
    tuned = zoo.load("overfit", progress=False)
    one_by_one = attention_drift(tuned, lm, TEXTS, batch_size=1, progress=False)
    batched = attention_drift(tuned, lm, TEXTS, batch_size=3, progress=False)
    assert one_by_one.js_divergence.max() > 1e-3
    pd.testing.assert_frame_equal(one_by_one, batched, atol=1e-5, rtol=0)


def test_drift_by_hand_for_one_text(lm):
    tuned = zoo.load("overfit", progress=False)
    a = bertlab.extract(tuned, TEXTS[0]).weights                 # [L, H, Q, K]
    b = bertlab.extract(lm, TEXTS[0]).weights
    by_hand_js = js_divergence(a, b).mean(-1)                    # [L, H]
    by_hand_cos = map_cosine(a, b)                               # [L, H]
    drift = attention_drift(tuned, lm, TEXTS[:1], progress=False)
    assert torch.allclose(torch.tensor(drift.js_divergence.to_numpy()), by_hand_js.flatten().double(),
                          atol=1e-6)
    assert torch.allclose(torch.tensor(drift.map_cosine.to_numpy()), by_hand_cos.flatten().double(),
                          atol=1e-6)


def test_normalised_entropy_is_one_for_uniform_attention(tiny_lm, lm):
    uniform = normalised_entropy(_random_classifier(lm), TEXTS)
    assert uniform.normalised_entropy.min() > 0.99
    real = normalised_entropy(lm, TEXTS)
    assert real.normalised_entropy.max() < 1.0 and real.normalised_entropy.min() > 0.0


def _random_classifier(lm):
    """The embedded architecture with random weights: what a failed weight load gives."""
    torch.manual_seed(0)
    config = BertConfig.from_pretrained(embedded_model_path(), num_labels=2)
    config._attn_implementation = "eager"
    return bertlab.wrap(BertForSequenceClassification(config), lm.tokenizer, name="random-weights")


def test_weights_not_loaded_is_degenerate(lm):
    diagnosis = bertlab.diagnose(_random_classifier(lm), texts=TEXTS)
    assert diagnosis.verdict == "degenerate"
    assert "degenerate (or weights not loaded)" in repr(diagnosis)
    assert diagnosis.signals.normalised_entropy.min() >= NEAR_UNIFORM_ENTROPY


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_diagnose_calls_healthy_healthy_and_broken_models_not_healthy(seed):
    held_out = load_reviews("test")
    verdicts = {name: bertlab.diagnose(zoo.load(name, seed, progress=False),
                                       labelled=held_out).verdict
                for name in ("healthy", "overfit", "high-lr")}
    assert verdicts["healthy"] == "healthy"
    assert verdicts["overfit"] != "healthy"
    assert verdicts["high-lr"] != "healthy"


@pytest.mark.slow
def test_diagnosis_object_reports_evidence_reasons_missing_and_draws(lm, monkeypatch):
    monkeypatch.delenv(EDITIONS_VARIABLE, raising=False)   # as a notebook shows it, not the book
    tuned = zoo.load("overfit", progress=False)
    held_out = load_reviews("test").head(60)
    alone = bertlab.diagnose(tuned, texts=TEXTS)
    assert alone.verdict == "inconclusive" and len(alone.missing) == 2
    assert {"js_divergence", "map_cosine"}.isdisjoint(alone.signals.columns)
    full = bertlab.diagnose(tuned, base=lm, labelled=held_out)
    assert len(full.missing) == 1 and "training data" in full.missing[0]
    assert list(full.signals.layer) == list(range(lm.n_layers))
    assert {"cls_share", "sep_share", "special_share", "normalised_entropy", "js_divergence",
            "map_cosine"} <= set(full.signals.columns)
    assert full.evidence["n_labelled"] == 60
    accuracy = full.evidence["accuracy"]
    assert any(f"{accuracy:.3f}" in reason for reason in full.reasons)  # reasons quote the numbers
    assert full.verdict in repr(full) and full.verdict in full._repr_markdown_()
    assert "<ul>" in full._repr_html_()
    axes = full.plot()
    assert len(axes) == 2 + len(DRIFT_METRICS) and axes[-1].get_xlabel() == "layer (1 = lowest)"


@pytest.mark.slow
def test_training_data_gives_the_generalisation_gap():
    from bertlab.zoo.training import training_data

    tuned = zoo.load("overfit", progress=False)
    trained_on, _ = training_data("overfit", 0)
    held_out = load_reviews("test").head(60)
    diagnosis = bertlab.diagnose(tuned, labelled=held_out, trained_on=trained_on, texts=TEXTS)
    evidence = diagnosis.evidence
    assert evidence["train_accuracy"] == 1.0  # it fitted its 24 texts
    assert evidence["generalisation_gap"] == pytest.approx(1.0 - evidence["accuracy"])
    assert any("Generalisation gap" in reason for reason in diagnosis.reasons)
    assert not any("training data" in item for item in diagnosis.missing)
    with pytest.raises(bertlab.InputError, match="labelled="):
        bertlab.diagnose(tuned, trained_on=trained_on)


def test_labelled_data_needs_a_classification_head(lm):
    with pytest.raises(bertlab.UnsupportedModelError, match="no classification head"):
        bertlab.diagnose(lm, labelled=pd.DataFrame({"text": ["fine"], "label": [1]}))


@pytest.mark.parametrize("labelled, message", [
    (pd.DataFrame({"text": ["good", "bad"], "label": [1, 2]}), "class ids 0 to 1"),
    (pd.DataFrame({"text": ["good", "bad"], "label": [1, -1]}), "class ids 0 to 1"),
    (pd.DataFrame({"text": ["good", "bad"], "label": ["pos", "neg"]}), "class ids"),
    (pd.DataFrame({"text": ["good", "bad"], "label": [0.5, 1]}), "class ids"),
    (pd.DataFrame({"sentence": ["good"], "label": [1]}), "lacks the column"),
    (pd.DataFrame({"text": [], "label": []}), "no rows"),
    (pd.DataFrame({"text": ["good", " "], "label": [1, 0]}), "empty or only whitespace"),
    ([("good", 1)], "must be a pandas DataFrame"),
])
def test_bad_labelled_data_gets_a_clear_error(labelled, message, lm):
    classifier = _random_classifier(lm)
    with pytest.raises(bertlab.InputError, match=message):
        bertlab.diagnose(classifier, labelled=labelled)


def test_bad_texts_and_base_get_clear_errors(lm, tiny_lm):
    with pytest.raises(bertlab.InputError, match="corpus is empty"):
        bertlab.diagnose(lm, texts=[])
    with pytest.raises(bertlab.InputError, match="single string"):
        bertlab.diagnose(lm, texts="one text")
    with pytest.raises(bertlab.InputError, match="layers × heads"):
        bertlab.diagnose(lm, base=tiny_lm, texts=TEXTS)
    with pytest.raises(bertlab.InputError, match="LoadedModel"):
        bertlab.diagnose(lm.model, texts=TEXTS)


def test_diagnose_does_not_change_its_inputs(lm):
    classifier = _random_classifier(lm)
    labelled = pd.DataFrame({"text": ["good", "bad"], "label": [1, 0], "extra": [1, 2]})
    before, weights = labelled.copy(), classifier.model.classifier.weight.clone()
    for training in (True, False):
        classifier.model.train(training)
        bertlab.diagnose(classifier, labelled=labelled)
        assert classifier.model.training == training      # measured in eval mode, mode restored
    pd.testing.assert_frame_equal(labelled, before)
    assert torch.equal(classifier.model.classifier.weight, weights)


def test_no_attention_signal_splits_healthy_from_overfit_models():
    """What `diagnose` says without labelled data ("attention cannot tell healthy from overfit")
    stays true of the experiment: on every attention summary the experiment page tabulates, the
    ranges of the models meant to be healthy and of those meant to be overfit overlap, so no
    threshold puts them on two sides. If a signal ever splits them, diagnose should use it."""
    from bertlab.claims.finetuning import model_summary
    from bertlab.zoo import experiment

    results = experiment.results(progress=False)
    per_model = results.layers.groupby(["recipe", "seed"], as_index=False).agg(
        mean_special_share=("special_share", "mean"),
        lowest_entropy=("normalised_entropy", "min"),
        highest_entropy=("normalised_entropy", "max"),
        mean_js_divergence=("js_divergence", "mean"))
    table = model_summary(results).merge(per_model, on=["recipe", "seed"])
    healthy, overfit = table[table.intended == "healthy"], table[table.intended == "overfit"]
    assert len(healthy) >= 6 and len(overfit) >= 12
    for signal in ("mean_special_share", "lowest_entropy", "highest_entropy",
                   "mean_js_divergence", "concentrated_heads"):
        h, o = healthy[signal], overfit[signal]
        assert not (h.min() > o.max() or o.min() > h.max()), (
            f"{signal} splits healthy ({h.min():.3f}–{h.max():.3f}) from overfit "
            f"({o.min():.3f}–{o.max():.3f}) models")

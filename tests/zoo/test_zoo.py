"""The model zoo: named recipes, deterministic training, the cache, the command line, the experiment.

Most tests read models that `make zoo` (run by `make test`) has cached;
where one is missing it is built here, which is slow but correct.
"""

import dataclasses
import math

import pytest
import torch
from transformers import BertForSequenceClassification

import bertlab
from bertlab import zoo
from bertlab.loading import embedded_model_path
from bertlab.zoo import experiment
from bertlab.zoo.__main__ import main as zoo_cli
from bertlab.zoo.training import training_data


def test_zoo_has_the_six_recipes_of_the_issue_and_they_are_frozen():
    assert zoo.ZOO_RECIPES == ("healthy", "overfit", "low-diversity", "high-lr", "overfit-frozen",
                               "overfit-reinit")
    with pytest.raises(dataclasses.FrozenInstanceError):
        zoo.RECIPES["healthy"].learning_rate = 1.0
    overfit = zoo.RECIPES["overfit"]
    for remedy, changed in (("overfit-frozen", "freeze_layers"),
                            ("overfit-reinit", "reinit_top_layers")):
        recipe = zoo.RECIPES[remedy]
        assert getattr(recipe, changed) > 0
        # the remedy is the overfit recipe with that one change
        assert dataclasses.replace(recipe, name=overfit.name, description=overfit.description,
                                   **{changed: 0}) == overfit


def test_remedies_freeze_the_bottom_and_reinitialise_the_top(lm):
    from bertlab.zoo.training import _fresh_classifier

    pretrained = lm.model.encoder.layer
    frozen = _fresh_classifier(zoo.RECIPES["overfit-frozen"])
    n_frozen = zoo.RECIPES["overfit-frozen"].freeze_layers
    assert not any(p.requires_grad for p in frozen.bert.embeddings.parameters())
    assert [any(p.requires_grad for p in layer.parameters()) for layer in frozen.bert.encoder.layer] \
        == [False] * n_frozen + [True] * (len(pretrained) - n_frozen)
    reinit = _fresh_classifier(zoo.RECIPES["overfit-reinit"]).bert.encoder.layer
    query = [torch.equal(new.attention.self.query.weight, old.attention.self.query.weight)
             for new, old in zip(reinit, pretrained)]
    assert query == [True] * (len(pretrained) - 1) + [False]
    std = reinit[-1].attention.self.query.weight.std().item()
    assert std == pytest.approx(lm.model.config.initializer_range, rel=0.05)


def test_low_diversity_texts_come_from_one_template_with_few_words():
    frame = zoo.low_diversity_texts(256)
    assert len(frame) == 256 and set(frame.label) == {0, 1}
    assert frame.text.nunique() <= 16
    assert len({word for text in frame.text for word in text.split()}) <= 10
    assert frame.label.mean() == 0.5


def test_training_subsets_are_balanced_and_depend_on_the_seed():
    train_0, validation = training_data("overfit", 0)
    train_1, _ = training_data("overfit", 1)
    assert len(train_0) == zoo.RECIPES["overfit"].train_size
    assert train_0.label.value_counts().tolist() == [len(train_0) // 2] * 2
    assert set(train_0.text) != set(train_1.text)
    assert len(validation) == len(bertlab.datasets.load_reviews("validation"))


def test_cache_key_depends_on_recipe_and_seed_and_folder_follows_env(tmp_path, monkeypatch):
    from bertlab.zoo.cache import key

    assert key("overfit", 0) == key("overfit", 0)
    assert len({key("overfit", 0), key("overfit", 1), key("overfit-frozen", 0)}) == 3
    monkeypatch.setenv("BERTLAB_CACHE", str(tmp_path))
    assert zoo.model_folder("overfit", 3).parent == tmp_path / "zoo"
    assert not zoo.is_built("overfit", 3)


@pytest.mark.parametrize("call", [lambda: zoo.load("no-such-recipe"),
                                  lambda: zoo.build("overfit", seed=-1),
                                  lambda: zoo.build("overfit", seed=1.5)])
def test_bad_names_and_seeds_get_clear_errors(call):
    with pytest.raises(bertlab.InputError, match="recipe|seed"):
        call()


@pytest.mark.slow
def test_same_seed_gives_the_same_weights_exactly():
    """The cached low-diversity model and a fresh fine-tune with the same seed are identical.

    `make zoo` built the cached one in a worker process of the experiment, two models at a time
    (`python -m bertlab.zoo experiment`); this one trains here, alone: the weights depend on
    neither. low-diversity has every random draw a recipe makes but re-initialisation (the
    head, dropout, and a shuffled order over eight batches an epoch, where the overfit recipes
    train on one batch), and it is the quickest recipe to train."""
    cached = zoo.load("low-diversity", seed=0, progress=False).model.state_dict()
    fresh = zoo.fine_tune("low-diversity", seed=0, progress=False).model.state_dict()
    assert cached.keys() == fresh.keys()
    different = [name for name in cached if not torch.equal(cached[name], fresh[name])]
    assert different == []
    # and the seed matters: another seed gives another head
    other = zoo.load("low-diversity", seed=1, progress=False).model.state_dict()
    assert not torch.equal(cached["classifier.weight"], other["classifier.weight"])


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.ZOO_RECIPES)
def test_zoo_models_load_as_classifiers_with_their_training_curves(name):
    lm = zoo.load(name, seed=0, progress=False)
    assert lm.name == f"zoo:{name}/seed0" and lm.has_classifier
    assert lm.model.config._attn_implementation == "eager"
    curves = zoo.history(name, seed=0, progress=False)
    assert list(curves.columns) == ["epoch", "train_loss", "train_accuracy", "validation_loss",
                                    "validation_accuracy", "kept"]
    assert curves.kept.sum() == 1 and curves.epoch.is_monotonic_increasing
    assert bertlab.extract(lm, "The dog chased the cat.").n_layers == 6


@pytest.mark.slow
def test_training_curves_show_what_each_recipe_is_for():
    healthy = zoo.history("healthy", progress=False)
    kept = healthy[healthy.kept].iloc[0]
    assert kept.validation_loss == healthy.validation_loss.min()  # early stopping kept the best
    overfit = zoo.history("overfit", progress=False)
    assert overfit.train_accuracy.iloc[-1] == 1.0                  # it fitted its 24 texts
    assert overfit.epoch.iloc[-1] == zoo.RECIPES["overfit"].epochs


def test_a_saved_sequence_classifier_keeps_its_head(tmp_path, lm):
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(
        embedded_model_path(), num_labels=3, attn_implementation="eager")
    model.save_pretrained(tmp_path)
    lm.tokenizer.save_pretrained(tmp_path)
    loaded = bertlab.load(tmp_path)
    assert loaded.has_classifier and loaded.model.config.num_labels == 3
    assert torch.equal(loaded.model.classifier.weight, model.classifier.weight)


def test_command_line_lists_recipes_and_rejects_unknown_ones(capsys):
    assert zoo_cli(["list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in zoo.RECIPES)
    with pytest.raises(SystemExit) as error:
        zoo_cli(["build", "no-such-recipe"])
    assert error.value.code == 2
    assert "unknown recipe" in capsys.readouterr().err
    with pytest.raises(SystemExit) as error:
        zoo_cli(["experiment", "--jobs", "0"])
    assert error.value.code == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err


def test_spread_gives_mean_std_min_max_over_seeds():
    import pandas as pd

    table = pd.DataFrame({"recipe": ["a", "a", "a", "b"], "x": [1.0, 2.0, 3.0, 5.0]})
    summary = experiment.spread(table, ["recipe"], ["x"]).set_index("recipe")
    assert summary.loc["a", "x_mean"] == 2.0 and summary.loc["a", "x_std"] == 1.0
    assert (summary.loc["a", "x_min"], summary.loc["a", "x_max"]) == (1.0, 3.0)
    assert math.isnan(summary.loc["b", "x_std"])


@pytest.mark.slow
def test_experiment_tables_cover_every_recipe_seed_layer_and_head():
    results = experiment.results(progress=False)
    n_models = len(experiment.EXPERIMENT_RECIPES) * len(experiment.SEEDS)
    assert len(results.models) == n_models
    assert len(results.heads) == n_models * 6 * 12
    assert results.models.accuracy_gap.equals(results.models.train_accuracy
                                              - results.models.test_accuracy)
    shares = results.heads[["cls_share", "sep_share", "special_share", "normalised_entropy"]]
    assert ((shares >= 0) & (shares <= 1 + 1e-6)).all().all()
    assert (results.heads.cls_share + results.heads.sep_share
            <= results.heads.special_share + 1e-6).all()
    diagnoses = results.diagnoses()
    assert set(diagnoses[list(experiment.EVIDENCE)].stack()) <= set(bertlab.diagnosis.VERDICTS)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["healthy", "overfit"])  # early stopping, and the last epoch kept
def test_experiment_train_and_validation_numbers_are_those_of_the_model_it_keeps(name):
    """The experiment takes them from the training curves' kept epoch instead of measuring the
    model again: they must equal a fresh measurement of the cached model."""
    from bertlab.diagnosis import classifier_evidence

    row = experiment.results(progress=False).models.query("recipe == @name and seed == 0").iloc[0]
    lm = zoo.load(name, seed=0, progress=False)
    for split, frame in zip(("train", "validation"), training_data(name, 0)):
        fresh = classifier_evidence(lm, frame)
        assert row[f"{split}_accuracy"] == pytest.approx(fresh["accuracy"], abs=1e-12)
        assert row[f"{split}_loss"] == pytest.approx(fresh["loss"], abs=1e-6)

"""Per-student keys and models come from the instructor's secret, and a course pool cannot be
matched against the public zoo.

Runtime: about 20-40 s (one pool model is trained, the cheapest recipe).
"""

from __future__ import annotations

import json

import pytest
import torch

from bertlab import zoo
from bertlab.course import keys
from bertlab.course.pool import POOL_RECIPES, build_pool, practice_pool
from bertlab.errors import InputError
from bertlab.zoo.experiment import SEEDS

SECRET = b"one course's secret, 32 bytes or so"
OTHER = b"another course's secret, as long"


def test_keys_differ_by_student_and_by_course_and_catch_typing_mistakes():
    ada, grace = keys.student_key(SECRET, "ada"), keys.student_key(SECRET, "grace")
    assert ada != grace != keys.student_key(OTHER, "grace") and ada != keys.student_key(OTHER, "ada")
    assert keys.check_key(f"  {ada}\n") == ada
    typo = ada[:5] + ("b" if ada[5] != "b" else "c") + ada[6:]
    with pytest.raises(InputError, match="not a course key"):
        keys.check_key(typo)
    assert keys.case_seed(SECRET, "ada", "01") != keys.case_seed(SECRET, "grace", "01") \
        != keys.case_seed(SECRET, "grace", "02")
    # without a secret, everyone's cases are the same public practice cases
    assert keys.case_seed(None, "ada", "01") == keys.case_seed(None, "grace", "01")


def test_a_short_or_missing_secret_is_refused(tmp_path):
    (tmp_path / "short").write_text("too short")
    with pytest.raises(InputError, match="at least 16"):
        keys.read_secret(tmp_path / "short")
    with pytest.raises(InputError, match="python -m bertlab.course secret"):
        keys.read_secret(tmp_path / "absent")


def test_every_bundle_holds_a_model_whose_overfit_signals_disagree_and_keys_spread_over_them():
    pool = practice_pool()
    recipes = {member.id: member.zoo_model[0] for member in pool.members}
    assert all(any(recipes[m] == "low-diversity" for m in bundle) for bundle in pool.bundles)
    chosen = {tuple(m.id for m in pool.bundle(keys.student_key(SECRET, f"s{i}")).values())
              for i in range(30)}
    assert len(chosen) > 15, "thirty students get many different bundles and letter orders"


def test_a_course_pool_has_random_seeds_and_nothing_that_names_its_recipes(tmp_path):
    """Trains one pool model (the cheapest recipe) in a scratch cache: its seed is none of the
    public zoo's, its weights differ from every public model of that recipe, its folder holds
    only a classifier's files, and no cache folder named after its seed is left behind."""
    public = [zoo.load("low-diversity", seed, progress=False) for seed in SEEDS]
    pool = build_pool(tmp_path / "pool", tmp_path / "private" / "manifest.json",
                      recipes=("low-diversity",), jobs=1)
    (member,) = pool.members
    manifest = json.loads((tmp_path / "private" / "manifest.json").read_text())
    assert manifest[member.id]["recipe"] == "low-diversity"
    assert manifest[member.id]["seed"] not in SEEDS
    assert sorted(p.name for p in member.folder.iterdir()) == sorted(
        ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"])
    listing = (tmp_path / "pool" / "pool.json").read_text()
    config = (member.folder / "config.json").read_text()
    for giveaway in ("low-diversity", "seed", "recipe", str(manifest[member.id]["seed"])):
        assert giveaway not in listing + config, giveaway
    weights = member.load().model.state_dict()
    for model in public:
        for name in ("classifier.weight", "bert.encoder.layer.5.attention.self.query.weight"):
            assert not torch.equal(model.model.state_dict()[name], weights[name]), name
    assert not list(zoo.cache_dir().glob(f"low-diversity-seed{manifest[member.id]['seed']}-*"))


def test_the_pool_recipes_leave_out_the_recipe_its_weights_would_name():
    # overfit-frozen keeps the pretrained embeddings and bottom layers bit for bit
    assert "overfit-frozen" not in POOL_RECIPES

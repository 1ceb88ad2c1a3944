"""Reader-facing labels: layers and heads from 1, one human name and unit per metric column."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

import bertlab
from bertlab import labels
from bertlab.drift import DRIFT_METRICS
from bertlab.flow.ablation import AblationEffect
from bertlab.flow.gradients import GRADIENT_KEY_SETS
from bertlab.roles import MEASURES


def test_layers_and_heads_are_counted_from_one():
    assert labels.layer_label(0) == "layer 1"
    assert labels.head_label(0, 2) == "layer 1, head 3"
    assert labels.head_label(np.int64(5), np.int64(11)) == "layer 6, head 12"
    assert labels.tick_labels([0, 1, 11]) == ["1", "2", "12"]


def test_several_layers_are_named_as_a_run_or_a_list_counted_from_one():
    assert labels.layers_label([0]) == "layer 1"
    assert labels.layers_label([5, 4], n_layers=6) == "layers 5–6 of 6"    # order does not matter
    assert labels.layers_label([0, 1, 3]) == "layers 1, 2 and 4"           # a gap: not a run
    assert labels.layers_label(np.array([2, 2, 3])) == "layers 3–4"
    with pytest.raises(bertlab.InputError, match="at least one layer"):
        labels.layers_label([])
    with pytest.raises(bertlab.InputError, match="0-based"):
        labels.layers_label([-1])


@pytest.mark.parametrize("bad", [-1, 1.0, True, "0", None])
def test_labels_refuse_what_is_not_a_zero_based_index(bad):
    with pytest.raises(bertlab.InputError, match="0-based"):
        labels.layer_label(bad)


def test_every_column_of_bertlabs_tables_has_a_name_and_a_unit():
    numbers = [f.name for f in dataclasses.fields(AblationEffect)
               if f.type in ("float", float)]
    assert {"cls_cosine_distance", "flip_rate", "accuracy_after"} <= set(numbers)
    columns = [*bertlab.METRICS, *MEASURES, *DRIFT_METRICS, *GRADIENT_KEY_SETS, *numbers]
    for column in columns:
        name = labels.metric_name(column)
        assert name.name and name.unit, column
        assert "_" not in name.name, f"{column}: {name.name!r} is not a human name"


def test_units_follow_the_metric_definitions():
    assert labels.metric_label("entropy") == "entropy (nats)"
    assert labels.metric_label("normalised_entropy") == "normalised entropy (0–1)"
    assert labels.metric_label("cls_share") == "share of attention to [CLS] (fraction)"
    assert labels.metric_name("js_divergence").unit == "nats"


def test_norm_and_weight_forms_of_a_metric_say_which_they_are():
    assert labels.metric_label("norm_cls_share") == "share of attention to [CLS], by norm (fraction)"
    assert labels.metric_label("weight_sep_share", unit=False) == "share of attention to [SEP], by weight"
    with pytest.raises(bertlab.InputError, match="norm_cls_shar"):
        labels.metric_name("norm_cls_shar")


def test_reader_table_counts_from_one_and_leaves_the_input_alone():
    table = pd.DataFrame({"layer": [0, 0, 1], "head": [0, 1, 0], "entropy": [1.0, 2.0, 3.0],
                          "role": ["a", "b", "c"]})
    shown = labels.reader_table(table)
    assert shown["layer"].tolist() == [1, 1, 2] and shown["head"].tolist() == [1, 2, 1]
    assert list(shown.columns) == ["layer", "head", "entropy (nats)", "role"]
    assert table["layer"].tolist() == [0, 0, 1] and "entropy" in table.columns
    by_layer = labels.reader_table(table.groupby("layer")[["entropy"]].mean())
    assert by_layer.index.tolist() == [1, 2]


def test_every_metric_has_a_japanese_name_for_the_japanese_edition():
    for column, name in labels.METRIC_NAMES.items():
        assert name.ja and not name.ja.isascii(), f"{column}: no Japanese name ({name.ja!r})"
    assert labels.metric_label("entropy", language="ja") == "エントロピー（ナット）"
    assert labels.metric_label("cls_share", language="ja") == "[CLS] へのアテンションの割合"  # no unit
    assert labels.metric_label("norm_cls_share", language="ja", unit=False) == \
        "[CLS] へのアテンションの割合（ノルムで測定）"
    assert labels.metric_label("cls_relative_change", language="ja").endswith("（‖Δh‖ / ‖h‖）")
    with pytest.raises(bertlab.InputError, match="'en' and 'ja'"):
        labels.metric_label("entropy", language="fr")


def test_a_reader_table_in_japanese_names_layers_heads_and_metrics_in_japanese():
    table = pd.DataFrame({"layer": [0, 1], "head": [2, 3], "entropy": [0.5, 0.7], "note": ["a", "b"]})
    shown = labels.reader_table(table, language="ja")
    assert shown.columns.tolist() == ["層", "ヘッド", "エントロピー（ナット）", "note"]
    assert shown["層"].tolist() == [1, 2] and shown["ヘッド"].tolist() == [3, 4]
    assert table.columns.tolist() == ["layer", "head", "entropy", "note"]     # the input unchanged
    by_layer = labels.reader_table(table.set_index("layer")[["entropy"]], language="ja")
    assert by_layer.index.name == "層" and by_layer.index.tolist() == [1, 2]
    assert labels.reader_table(table).columns.tolist()[:2] == ["layer", "head"]  # English as before

"""The layer-role and head-pattern rules of bertlab.roles on hand-made tables, at their thresholds
and where rules of different order would disagree (no model)."""

import pandas as pd
import pytest

from bertlab import roles
from bertlab.roles import BROAD_ENTROPY, LEAD_MARGIN, MAJORITY, STRONG_SHARE

EPS = 1e-9


def layer(local, cls, sep, entropy=0.5, uniform_local=0.0, uniform_cls=0.0, uniform_sep=0.0):
    return pd.DataFrame({"local_share": [local], "cls_share": [cls], "sep_share": [sep],
                         "normalised_entropy": [entropy], "uniform_local_share": [uniform_local],
                         "uniform_cls_share": [uniform_cls], "uniform_sep_share": [uniform_sep]})


def role(**values) -> str:
    return roles.label_layers(layer(**values))["role"].iloc[0]


@pytest.mark.parametrize("values, expected", [
    # the share at the strong bar, excess and lead just above their margin: the role
    (dict(local=STRONG_SHARE + EPS, cls=0.0, sep=0.0), "local"),
    (dict(local=STRONG_SHARE - EPS, cls=0.0, sep=0.0), "mixed"),
    # leads the next by just over / just under the margin
    (dict(local=0.5, cls=0.5 - LEAD_MARGIN - EPS, sep=0.0), "local"),
    (dict(local=0.5, cls=0.5 - LEAD_MARGIN + EPS, sep=0.0), "mixed"),
    # strong and leading, but high entropy: rule 1 comes before "broad"
    (dict(local=0.0, cls=0.7, sep=0.0, entropy=0.9), "cls-aggregating"),
    # nothing leads and attention is spread: broad; not spread: mixed
    (dict(local=0.35, cls=0.3, sep=0.3, entropy=BROAD_ENTROPY), "broad"),
    (dict(local=0.35, cls=0.3, sep=0.3, entropy=BROAD_ENTROPY - EPS), "mixed"),
    # a six-token text: a local share of 0.4 is what uniform attention gives there
    (dict(local=0.4, cls=0.17, sep=0.17, entropy=1.0, uniform_local=0.39, uniform_cls=0.17,
          uniform_sep=0.17), "broad"),
    # the leader is chosen by excess: [CLS] 0.45 beyond 0.05 beats local 0.6 beyond 0.4
    (dict(local=0.6, cls=0.45, sep=0.0, uniform_local=0.4, uniform_cls=0.05), "cls-aggregating"),
])
def test_layer_roles_at_their_thresholds(values, expected):
    assert role(**values) == expected


def head(columns, band, far=None, within=float("nan"), entropy=0.3, uniform_columns=0.0,
         uniform_band=0.0):
    far = 1 - columns - band if far is None else far
    return pd.DataFrame({"column_share": [columns], "local_share": [band], "far_share": [far],
                         "far_within_share": [within], "normalised_entropy": [entropy],
                         "uniform_column_share": [uniform_columns],
                         "uniform_local_share": [uniform_band]})


@pytest.mark.parametrize("table, expected", [
    (head(MAJORITY, 0.1), "vertical"),
    (head(MAJORITY - EPS, 0.1), "vertical+diagonal"),
    (head(0.1, MAJORITY), "diagonal"),
    (head(0.2, 0.2), "heterogeneous"),
    # a block comes first, even when the columns hold a majority of the rest
    (head(0.0, 0.0, far=1.0, within=0.9), "block"),
    (head(0.0, 0.0, far=1.0, within=0.7), "heterogeneous"),
    # spread evenly: heterogeneous before vertical
    (head(0.6, 0.1, entropy=BROAD_ENTROPY), "heterogeneous"),
    # a majority on the band that uniform attention would give anyway is no diagonal
    (head(0.1, 0.6, uniform_band=0.55, uniform_columns=0.1), "heterogeneous"),
    (head(0.6, 0.1, uniform_columns=0.55, uniform_band=0.1), "heterogeneous"),
])
def test_head_patterns_at_their_thresholds_and_in_rule_order(table, expected):
    assert roles.label_heads(table)["pattern"].iloc[0] == expected


def test_a_hand_built_table_without_baselines_is_compared_with_zero():
    bare = layer(local=0.9, cls=0.0, sep=0.0).drop(columns=["uniform_local_share",
                                                            "uniform_cls_share",
                                                            "uniform_sep_share"])
    assert roles.label_layers(bare)["role"].iloc[0] == "local"

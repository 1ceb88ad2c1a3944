"""What a reader sees: layers and heads counted from 1, and metrics by their human names.

Book: every chapter's prose, axes, tables and captions. The API, the tables, the JSON and the
notebooks count layers and heads **from 0**, as the tensor does (``weights[layer, head]``); a
reader of the book counts **from 1** ("layer 1" is the lowest). Every label a reader sees is made
here, so the two countings never meet on a page:

>>> layer_label(0), head_label(3, 11), tick_labels(range(3))
('layer 1', 'layer 4, head 12', ['1', '2', '3'])
>>> layers_label([4, 5], n_layers=6), layers_label([0, 2])
('layers 5–6 of 6', 'layers 1 and 3')

Metric columns (``cls_share``, ``entropy``, …) have one human name and unit each, in
`METRIC_NAMES`; `metric_label` writes them for axes, legends and table headers:

>>> metric_label("entropy"), metric_label("cls_share", unit=False)
('entropy (nats)', 'share of attention to [CLS]')
>>> reader_table(pd.DataFrame({"layer": [0], "head": [2], "sep_share": [0.5]})).columns.tolist()
['layer', 'head', 'share of attention to [SEP] (fraction)']
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from .errors import InputError

__all__ = ["layer_label", "head_label", "layers_label", "tick_labels", "LAYER_AXIS", "HEAD_AXIS",
           "MetricName", "METRIC_NAMES", "metric_name", "metric_label", "reader_table"]

#: Axis titles for layer and head axes whose ticks come from `tick_labels`.
LAYER_AXIS = "layer (1 = lowest)"
HEAD_AXIS = "head (1 = first)"


def _count(index, what: str) -> int:
    """A 0-based index as an int (numpy integers too); bools, floats and negatives refused."""
    try:
        if isinstance(index, bool):
            raise TypeError
        number = operator.index(index)
    except TypeError:
        raise InputError(f"A {what} is a 0-based integer, got {index!r}.") from None
    if number < 0:
        raise InputError(f"A {what} is a 0-based integer from 0 up, got {number}.")
    return number


def layer_label(layer: int) -> str:
    """``layer_label(0) == "layer 1"``: a 0-based layer as a reader counts it."""
    return f"layer {_count(layer, 'layer') + 1}"


def head_label(layer: int, head: int) -> str:
    """``head_label(0, 2) == "layer 1, head 3"``: a 0-based (layer, head) as a reader counts it."""
    return f"{layer_label(layer)}, head {_count(head, 'head') + 1}"


def layers_label(layers: Iterable[int], n_layers: int | None = None) -> str:
    """Several 0-based layers as a reader counts them: ``"layer 2"``, ``"layers 2–4"`` (a run),
    ``"layers 1, 3 and 5"`` (otherwise); with `n_layers`, ``" of 6"`` after it."""
    shown = sorted({_count(layer, "layer") + 1 for layer in layers})
    if not shown:
        raise InputError("layers_label needs at least one layer.")
    if len(shown) == 1:
        words = f"layer {shown[0]}"
    elif shown == list(range(shown[0], shown[-1] + 1)):
        words = f"layers {shown[0]}–{shown[-1]}"
    else:
        words = f"layers {', '.join(map(str, shown[:-1]))} and {shown[-1]}"
    return words + (f" of {n_layers}" if n_layers is not None else "")


def tick_labels(indices: Iterable[int]) -> list[str]:
    """Tick labels counting from 1 for 0-based layer or head indices."""
    return [str(_count(index, "layer or head") + 1) for index in indices]


@dataclass(frozen=True)
class MetricName:
    """A column's human name and its unit (``fraction`` for a share of attention, 0 to 1)."""

    name: str
    unit: str

    def label(self, unit: bool = True) -> str:
        return f"{self.name} ({self.unit})" if unit else self.name


_FRACTION = "fraction"
_ZERO_ONE = "0–1"
#: One entry per column of bertlab's per-(layer, head) tables: `bertlab.METRICS`,
#: `bertlab.roles.MEASURES`, `bertlab.drift.DRIFT_METRICS`, `bertlab.flow.GRADIENT_KEY_SETS`,
#: the numbers of `bertlab.flow.ablation.AblationEffect`, `bertlab.probe_layers` and
#: `Diagnosis` evidence.
#: ``tests/unit/test_labels.py`` fails when one of those gains a column without a name here.
METRIC_NAMES: dict[str, MetricName] = {
    # bertlab.METRICS: where one query row's attention goes (../shared/DESIGN.md, "Metric definitions")
    "cls_share": MetricName("share of attention to [CLS]", _FRACTION),
    "sep_share": MetricName("share of attention to [SEP]", _FRACTION),
    "special_share": MetricName("share of attention to special tokens", _FRACTION),
    "punct_share": MetricName("share of attention to punctuation", _FRACTION),
    "self_share": MetricName("share of attention to the token itself", _FRACTION),
    "prev_share": MetricName("share of attention to the previous token", _FRACTION),
    "next_share": MetricName("share of attention to the next token", _FRACTION),
    "entropy": MetricName("entropy", "nats"),
    "cross_segment_share": MetricName("share of attention across the sentence border", _FRACTION),
    # bertlab.roles.MEASURES
    "local_share": MetricName("share of attention to the token and its neighbours", _FRACTION),
    "column_share": MetricName("share of attention to [CLS], [SEP] and punctuation columns",
                               _FRACTION),
    "far_share": MetricName("share of attention to other tokens", _FRACTION),
    "far_within_share": MetricName("share of attention to other tokens of the same sentence",
                                   _FRACTION),
    "normalised_entropy": MetricName("normalised entropy", _ZERO_ONE),
    "cls_out_share": MetricName("share of attention from [CLS] to ordinary tokens", _FRACTION),
    "cls_row_entropy": MetricName("normalised entropy of attention from [CLS]", _ZERO_ONE),
    "cross_segment_lift": MetricName("attention across the sentence border vs. evenly spread",
                                     "ratio, 1 = blind to the border"),
    "content_cls_share": MetricName("share of the ordinary tokens' attention to [CLS]", _FRACTION),
    # bertlab.drift.DRIFT_METRICS
    "js_divergence": MetricName("Jensen–Shannon divergence from the base model", "nats"),
    "map_cosine": MetricName("cosine similarity of attention maps to the base model", _ZERO_ONE),
    # bertlab.flow.GRADIENT_KEY_SETS: mean |d loss / d attention weight|
    "cls_gradient": MetricName("mean |∂ loss / ∂ attention| on [CLS] keys", "nats per unit weight"),
    "sep_gradient": MetricName("mean |∂ loss / ∂ attention| on [SEP] keys", "nats per unit weight"),
    "other_gradient": MetricName("mean |∂ loss / ∂ attention| on other keys",
                                 "nats per unit weight"),
    # bertlab.flow.ablation.AblationEffect
    "cls_cosine_distance": MetricName("cosine distance of the final [CLS] vector", "0–2"),
    "cls_relative_change": MetricName("relative change of the final [CLS] vector", "‖Δh‖ / ‖h‖"),
    "prediction_kl": MetricName("KL divergence of the predictions", "nats"),
    "flip_rate": MetricName("share of predictions that change", _FRACTION),
    "accuracy_before": MetricName("accuracy before ablation", _FRACTION),
    "accuracy_after": MetricName("accuracy after ablation", _FRACTION),
    # bertlab.probe_layers: held-out accuracy of a linear probe on each layer's vectors
    "cls_accuracy": MetricName("accuracy of a probe on the [CLS] vector", _FRACTION),
    "mean_accuracy": MetricName("accuracy of a probe on the mean-pooled vector", _FRACTION),
    # Diagnosis evidence
    "accuracy": MetricName("accuracy", _FRACTION),
    "train_accuracy": MetricName("training accuracy", _FRACTION),
    "generalisation_gap": MetricName("generalisation gap (training − held-out accuracy)",
                                     _FRACTION),
    "confidence": MetricName("mean confidence", _FRACTION),
    "confidence_gap": MetricName("confidence gap (confidence − accuracy)", _FRACTION),
    "loss": MetricName("cross-entropy loss", "nats"),
    # The zoo experiment's per-model table (bertlab.zoo.experiment, and the columns that
    # bertlab.claims.finetuning.model_summary adds to it), as the fine-tuning chapters show it
    "validation_accuracy": MetricName("validation accuracy", _FRACTION),
    "test_accuracy": MetricName("held-out accuracy", _FRACTION),
    "test_chance": MetricName("accuracy of always answering the most common label", _FRACTION),
    "accuracy_gap": MetricName("generalisation gap (training − held-out accuracy)", _FRACTION),
    "loss_gap": MetricName("loss gap (held-out − training loss)", "nats"),
    "test_confidence_gap": MetricName("held-out confidence gap (confidence − accuracy)",
                                      _FRACTION),
    "concentrated_heads": MetricName("share of heads with over half of their attention on "
                                     "special tokens beyond uniform", _FRACTION),
    "profile_distance": MetricName("largest per-layer gap in share of attention to special "
                                   "tokens from the pretrained model", _FRACTION),
    "profile_distance_below_top": MetricName("largest per-layer gap in share of attention to "
                                             "special tokens from the pretrained model, below "
                                             "the top sixth of the layers", _FRACTION),
    "peak_special_share": MetricName("highest per-layer share of attention to special tokens",
                                     _FRACTION),
    # bertlab.flow.activations (TokenActivations.summary): the vectors behind the attention
    "hidden_norm": MetricName("length of the hidden state ‖x‖", "Euclidean norm"),
    "value_norm": MetricName("length of the value vector ‖f(x)‖", "Euclidean norm"),
    "top_dim_share": MetricName("share of ‖x‖² in its largest coordinate", _FRACTION),
    # bertlab.claims.flow.rollout_texts: what the final [CLS] is made of under attention rollout
    "cls_itself": MetricName("share of the final [CLS] drawn from the input [CLS]", _FRACTION),
    "special": MetricName("share of the final [CLS] drawn from special tokens", _FRACTION),
    "words": MetricName("share of the final [CLS] drawn from the words", _FRACTION),
    "effective_fraction": MetricName("effective share of the tokens drawn on (e^H / n)",
                                     _FRACTION),
}
#: Prefixes of the flow chapter's weight-vs-norm tables: ``norm_cls_share`` is the `cls_share`
#: of the norm-based contributions (`bertlab.flow.norm_scores`), ``weight_cls_share`` that of
#: the attention weights; ``uniform_cls_share`` is what evenly spread attention would give
#: (`bertlab.roles.UNIFORM_BASELINES`).
_QUALIFIERS = {"weight_": "by weight", "norm_": "by norm", "uniform_": "under uniform attention"}


def metric_name(column: str) -> MetricName:
    """The `MetricName` of a table column (``norm_``/``weight_`` prefixes included)."""
    name = _lookup(column)
    if name is None:
        raise InputError(f"No human name for the column {column!r}: bertlab.labels.METRIC_NAMES "
                         f"names {sorted(METRIC_NAMES)} (and their norm_/weight_/uniform_ forms).")
    return name


def _lookup(column: str) -> MetricName | None:
    if column in METRIC_NAMES:
        return METRIC_NAMES[column]
    for prefix, qualifier in _QUALIFIERS.items():
        base = column.removeprefix(prefix)
        if base != column and base in METRIC_NAMES:
            return MetricName(f"{METRIC_NAMES[base].name}, {qualifier}", METRIC_NAMES[base].unit)
    return None


def metric_label(column: str, *, unit: bool = True) -> str:
    """``"share of attention to [CLS] (fraction)"`` for ``"cls_share"``; without the unit on
    request (a legend whose axis already says it)."""
    return metric_name(column).label(unit)


def reader_table(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of a bertlab table for a page: ``layer``/``head`` counted from 1, metric columns
    under their human names with units (other columns as they were). The input is unchanged."""
    shown = table.copy()
    for column in ("layer", "head"):
        if column in shown.columns:
            shown[column] = [int(tick) for tick in tick_labels(shown[column])]
    if shown.index.name in ("layer", "head"):
        shown.index = pd.Index([int(tick) for tick in tick_labels(shown.index)],
                               name=shown.index.name)
    names = {column: _lookup(column) for column in shown.columns}
    return shown.rename(columns={column: name.label() for column, name in names.items() if name})

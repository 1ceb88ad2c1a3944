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
>>> metric_label("entropy", language="ja")
'エントロピー（ナット）'
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
           "MetricName", "METRIC_NAMES", "metric_name", "metric_label", "unit_label",
           "reader_table"]

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


def layers_label(layers: Iterable[int], n_layers: int | None = None, *,
                 language: str = "en") -> str:
    """Several 0-based layers as a reader counts them: ``"layer 2"``, ``"layers 2–4"`` (a run),
    ``"layers 1, 3 and 5"`` (otherwise); with `n_layers`, ``" of 6"`` after it. In Japanese
    (``language="ja"``): ``"第 2 層"``, ``"第 2〜4 層"``, ``"第 1・3・5 層"``, ``"（6 層中）"``.

    >>> layers_label([4, 5], n_layers=6, language="ja"), layers_label([0, 2], language="ja")
    ('第 5〜6 層（6 層中）', '第 1・3 層')
    """
    _check_language(language)
    shown = sorted({_count(layer, "layer") + 1 for layer in layers})
    if not shown:
        raise InputError("layers_label needs at least one layer.")
    run = len(shown) > 1 and shown == list(range(shown[0], shown[-1] + 1))
    if language == "ja":
        words = (f"{shown[0]}〜{shown[-1]}" if run else "・".join(map(str, shown)))
        return f"第 {words} 層" + (f"（{n_layers} 層中）" if n_layers is not None else "")
    if len(shown) == 1:
        words = f"layer {shown[0]}"
    elif run:
        words = f"layers {shown[0]}–{shown[-1]}"
    else:
        words = f"layers {', '.join(map(str, shown[:-1]))} and {shown[-1]}"
    return words + (f" of {n_layers}" if n_layers is not None else "")


def tick_labels(indices: Iterable[int]) -> list[str]:
    """Tick labels counting from 1 for 0-based layer or head indices."""
    return [str(_count(index, "layer or head") + 1) for index in indices]


#: The units of `METRIC_NAMES` in Japanese (a unit not listed, such as ``‖Δh‖ / ‖h‖``, is the
#: same in both languages).
_UNITS_JA = {"fraction": "割合", "nats": "ナット", "nats per unit weight": "重み 1 あたりのナット",
             "ratio, 1 = blind to the border": "比、1 = 境界を区別しない",
             "Euclidean norm": "ユークリッドノルム"}


def _check_language(language: str) -> None:
    if language not in ("en", "ja"):
        raise InputError(f"Labels exist in 'en' and 'ja', not {language!r}.")


def unit_label(unit: str, *, language: str = "en") -> str:
    """A unit of `METRIC_NAMES` (``"fraction"``, ``"nats"``, …) in `language`, for an axis title.

    >>> unit_label("nats", language="ja"), unit_label("fraction", language="ja")
    ('ナット', '割合')
    """
    _check_language(language)
    return _UNITS_JA.get(unit, unit) if language == "ja" else unit


@dataclass(frozen=True)
class MetricName:
    """A column's human name and its unit (``fraction`` for a share of attention, 0 to 1), and
    its name in the Japanese edition of the book (`ja`)."""

    name: str
    unit: str
    ja: str

    def label(self, unit: bool = True, *, language: str = "en") -> str:
        """``"entropy (nats)"``; in Japanese ``"エントロピー（ナット）"``."""
        _check_language(language)
        if language == "ja":
            # A fraction goes without its unit: the name (割合, 率, or a gap between them)
            # already says it.
            shown = unit and self.unit != _FRACTION
            return f"{self.ja}（{unit_label(self.unit, language='ja')}）" if shown else self.ja
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
    "cls_share": MetricName("share of attention to [CLS]", _FRACTION, ja="[CLS] へのアテンションの割合"),
    "sep_share": MetricName("share of attention to [SEP]", _FRACTION, ja="[SEP] へのアテンションの割合"),
    "special_share": MetricName("share of attention to special tokens", _FRACTION,
        ja="特殊トークンへのアテンションの割合"),
    "punct_share": MetricName("share of attention to punctuation", _FRACTION, ja="句読点へのアテンションの割合"),
    "self_share": MetricName("share of attention to the token itself", _FRACTION,
        ja="自分自身へのアテンションの割合"),
    "prev_share": MetricName("share of attention to the previous token", _FRACTION,
        ja="直前のトークンへのアテンションの割合"),
    "next_share": MetricName("share of attention to the next token", _FRACTION,
        ja="直後のトークンへのアテンションの割合"),
    "entropy": MetricName("entropy", "nats", ja="エントロピー"),
    "cross_segment_share": MetricName("share of attention across the sentence border", _FRACTION,
        ja="文の境界を越えるアテンションの割合"),
    # bertlab.roles.MEASURES
    "local_share": MetricName("share of attention to the token and its neighbours", _FRACTION,
        ja="自分と隣のトークンへのアテンションの割合"),
    "column_share": MetricName(
        "share of attention to [CLS], [SEP] and punctuation columns", _FRACTION,
        ja="[CLS]・[SEP]・句読点の列へのアテンションの割合"),
    "far_share": MetricName("share of attention to other tokens", _FRACTION,
        ja="それ以外のトークンへのアテンションの割合"),
    "far_within_share": MetricName(
        "share of attention to other tokens of the same sentence", _FRACTION,
        ja="同じ文の他のトークンへのアテンションの割合"),
    "normalised_entropy": MetricName("normalised entropy", _ZERO_ONE, ja="正規化エントロピー"),
    "cls_out_share": MetricName("share of attention from [CLS] to ordinary tokens", _FRACTION,
        ja="[CLS] から普通のトークンへのアテンションの割合"),
    "cls_row_entropy": MetricName("normalised entropy of attention from [CLS]", _ZERO_ONE,
        ja="[CLS] からのアテンションの正規化エントロピー"),
    "cross_segment_lift": MetricName(
        "attention across the sentence border vs. evenly spread", "ratio, 1 = blind to the border",
        ja="文の境界を越えるアテンション（一様に広がった場合との比）"),
    "content_cls_share": MetricName("share of the ordinary tokens' attention to [CLS]", _FRACTION,
        ja="普通のトークンから [CLS] へのアテンションの割合"),
    # bertlab.drift.DRIFT_METRICS
    "js_divergence": MetricName("Jensen–Shannon divergence from the base model", "nats",
        ja="ベースモデルからのジェンセン・シャノン情報量"),
    "map_cosine": MetricName("cosine similarity of attention maps to the base model", _ZERO_ONE,
        ja="ベースモデルとのアテンションマップのコサイン類似度"),
    # bertlab.flow.GRADIENT_KEY_SETS: mean |d loss / d attention weight|
    "cls_gradient": MetricName("mean |∂ loss / ∂ attention| on [CLS] keys", "nats per unit weight",
        ja="[CLS] のキーでの平均 |∂ 損失 / ∂ アテンション|"),
    "sep_gradient": MetricName("mean |∂ loss / ∂ attention| on [SEP] keys", "nats per unit weight",
        ja="[SEP] のキーでの平均 |∂ 損失 / ∂ アテンション|"),
    "other_gradient": MetricName(
        "mean |∂ loss / ∂ attention| on other keys", "nats per unit weight",
        ja="その他のキーでの平均 |∂ 損失 / ∂ アテンション|"),
    # bertlab.flow.ablation.AblationEffect
    "cls_cosine_distance": MetricName("cosine distance of the final [CLS] vector", "0–2",
        ja="最終層の [CLS] ベクトルのコサイン距離"),
    "cls_relative_change": MetricName("relative change of the final [CLS] vector", "‖Δh‖ / ‖h‖",
        ja="最終層の [CLS] ベクトルの相対変化"),
    "prediction_kl": MetricName("KL divergence of the predictions", "nats", ja="予測の KL ダイバージェンス"),
    "flip_rate": MetricName("share of predictions that change", _FRACTION, ja="予測が変わる割合"),
    "accuracy_before": MetricName("accuracy before ablation", _FRACTION, ja="アブレーション前の正解率"),
    "accuracy_after": MetricName("accuracy after ablation", _FRACTION, ja="アブレーション後の正解率"),
    # bertlab.probe_layers: held-out accuracy of a linear probe on each layer's vectors
    "cls_accuracy": MetricName("accuracy of a probe on the [CLS] vector", _FRACTION,
        ja="[CLS] ベクトルに対するプローブの正解率"),
    "mean_accuracy": MetricName("accuracy of a probe on the mean-pooled vector", _FRACTION,
        ja="平均プーリングしたベクトルに対するプローブの正解率"),
    # Diagnosis evidence
    "accuracy": MetricName("accuracy", _FRACTION, ja="正解率"),
    "train_accuracy": MetricName("training accuracy", _FRACTION, ja="訓練データでの正解率"),
    "generalisation_gap": MetricName(
        "generalisation gap (training − held-out accuracy)", _FRACTION,
        ja="汎化ギャップ（訓練 − 評価用データの正解率）"),
    "confidence": MetricName("mean confidence", _FRACTION, ja="平均確信度"),
    "confidence_gap": MetricName("confidence gap (confidence − accuracy)", _FRACTION,
        ja="確信度ギャップ（確信度 − 正解率）"),
    "loss": MetricName("cross-entropy loss", "nats", ja="交差エントロピー損失"),
    # The zoo experiment's per-model table (bertlab.zoo.experiment, and the columns that
    # bertlab.claims.finetuning.model_summary adds to it), as the fine-tuning chapters show it
    "validation_accuracy": MetricName("validation accuracy", _FRACTION, ja="検証データでの正解率"),
    "test_accuracy": MetricName("held-out accuracy", _FRACTION, ja="評価用データでの正解率"),
    "test_chance": MetricName("accuracy of always answering the most common label", _FRACTION,
        ja="常に最多のラベルを答えた場合の正解率"),
    "accuracy_gap": MetricName("generalisation gap (training − held-out accuracy)", _FRACTION,
        ja="汎化ギャップ（訓練 − 評価用データの正解率）"),
    "loss_gap": MetricName("loss gap (held-out − training loss)", "nats",
        ja="損失ギャップ（評価用データ − 訓練の損失）"),
    "test_confidence_gap": MetricName("held-out confidence gap (confidence − accuracy)", _FRACTION,
        ja="評価用データでの確信度ギャップ（確信度 − 正解率）"),
    "concentrated_heads": MetricName(
        "share of heads with over half of their attention on special tokens beyond "
        "uniform", _FRACTION,
        ja="一様な場合を超えてアテンションの半分以上を特殊トークンに向けるヘッドの割合"),
    "profile_distance": MetricName(
        "largest per-layer gap in share of attention to special tokens from the "
        "pretrained model", _FRACTION,
        ja="特殊トークンへのアテンションの割合の、事前学習済みモデルとの層ごとの最大の差"),
    "profile_distance_below_top": MetricName(
        "largest per-layer gap in share of attention to special tokens from the "
        "pretrained model, below the top sixth of the layers", _FRACTION,
        ja="特殊トークンへのアテンションの割合の、事前学習済みモデルとの層ごとの最大の差（上位 6 分の 1 の層を除く）"),
    "peak_special_share": MetricName(
        "highest per-layer share of attention to special tokens", _FRACTION,
        ja="特殊トークンへのアテンションの割合の、層ごとの最大値"),
    # bertlab.flow.activations (TokenActivations.summary): the vectors behind the attention
    "hidden_norm": MetricName("length of the hidden state ‖x‖", "Euclidean norm",
        ja="隠れ状態の長さ ‖x‖"),
    "value_norm": MetricName("length of the value vector ‖f(x)‖", "Euclidean norm",
        ja="値ベクトルの長さ ‖f(x)‖"),
    "top_dim_share": MetricName("share of ‖x‖² in its largest coordinate", _FRACTION,
        ja="‖x‖² のうち最大の座標が占める割合"),
    # bertlab.claims.flow.rollout_texts: what the final [CLS] is made of under attention rollout
    "cls_itself": MetricName("share of the final [CLS] drawn from the input [CLS]", _FRACTION,
        ja="最終層の [CLS] のうち入力の [CLS] に由来する割合"),
    "special": MetricName("share of the final [CLS] drawn from special tokens", _FRACTION,
        ja="最終層の [CLS] のうち特殊トークンに由来する割合"),
    "words": MetricName("share of the final [CLS] drawn from the words", _FRACTION,
        ja="最終層の [CLS] のうち単語に由来する割合"),
    "effective_fraction": MetricName("effective share of the tokens drawn on (e^H / n)", _FRACTION,
        ja="実質的に使われるトークンの割合（e^H / n）"),
}
#: Prefixes of the flow chapter's weight-vs-norm tables: ``norm_cls_share`` is the `cls_share`
#: of the norm-based contributions (`bertlab.flow.norm_scores`), ``weight_cls_share`` that of
#: the attention weights; ``uniform_cls_share`` is what evenly spread attention would give
#: (`bertlab.roles.UNIFORM_BASELINES`).
_QUALIFIERS = {"weight_": ("by weight", "重みで測定"), "norm_": ("by norm", "ノルムで測定"),
               "uniform_": ("under uniform attention", "一様なアテンションの場合")}


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
    for prefix, (qualifier, qualifier_ja) in _QUALIFIERS.items():
        base = column.removeprefix(prefix)
        if base != column and base in METRIC_NAMES:
            name = METRIC_NAMES[base]
            return MetricName(f"{name.name}, {qualifier}", name.unit,
                              f"{name.ja}（{qualifier_ja}）")
    return None


def metric_label(column: str, *, unit: bool = True, language: str = "en") -> str:
    """``"share of attention to [CLS] (fraction)"`` for ``"cls_share"``; without the unit on
    request (a legend whose axis already says it); ``language="ja"`` for the Japanese edition."""
    return metric_name(column).label(unit, language=language)


#: ``layer`` and ``head`` columns as a reader of each edition sees them (counted from 1).
_INDEX_NAMES = {"en": {"layer": "layer", "head": "head"}, "ja": {"layer": "層", "head": "ヘッド"}}


def reader_table(table: pd.DataFrame, *, language: str = "en") -> pd.DataFrame:
    """A copy of a bertlab table for a page: ``layer``/``head`` counted from 1, metric columns
    under their human names with units (other columns as they were), in `language` (``"en"``
    or ``"ja"``). The input is unchanged."""
    if language not in _INDEX_NAMES:
        raise InputError(f"Tables for readers exist in 'en' and 'ja', not {language!r}.")
    shown = table.copy()
    for column in ("layer", "head"):
        if column in shown.columns:
            shown[column] = [int(tick) for tick in tick_labels(shown[column])]
    if shown.index.name in ("layer", "head"):
        shown.index = pd.Index([int(tick) for tick in tick_labels(shown.index)],
                               name=_INDEX_NAMES[language][shown.index.name])
    names = {column: _lookup(column) for column in shown.columns}
    renamed = {column: name.label(language=language) for column, name in names.items() if name}
    renamed.update({column: _INDEX_NAMES[language][column] for column in ("layer", "head")
                    if column in shown.columns})
    return shown.rename(columns=renamed)

"""Figures: a layer × head heatmap, per-layer profile curves, and attention maps of chosen heads.

Book chapters: "Extracting and reading attention" (heatmap, profile), "BertViz side by side"
(`plot_attention`, the static twin of each interactive view, for print and for readers without
JavaScript). Tables come from `score` / `corpus_scores` (0-based ``layer`` and ``head``); every
label a reader sees comes from `bertlab.labels`: layers and heads counted from 1, metrics by
their human names with units. The interactive BertViz views are in `bertlab.views`.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> lm = load()
>>> ax = plot_heatmap(score(extract(lm, "The dog chased the cat.")), "cls_share")
>>> ax.get_ylabel(), ax.get_title()
('layer (1 = lowest)', 'share of attention to [CLS]')
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .errors import InputError
from .extraction import Attention, extract  # noqa: F401  (extract is used by the doctest above)
from .fonts import JAPANESE_FONT, use_japanese_font
from .i18n import HEAD_AXIS_TEXT, LAYER_AXIS_TEXT, Text
from .labels import head_label, metric_label, metric_name, tick_labels
from .loading import load  # noqa: F401
from .metrics import layer_means, score  # noqa: F401

__all__ = ["plot_heatmap", "plot_profile", "plot_attention", "legend_outside", "log_axis",
           "PROFILE_METRICS"]

#: The default curves of `plot_profile`: the four roles the book asks about.
PROFILE_METRICS = ("cls_share", "sep_share", "punct_share", "self_share")
#: `plot_attention` puts at most this many maps side by side, so that a page-wide figure (about
#: 7 inches) keeps each map 1.6 inches wide: 15 token labels at 6 points, the chapter's sentence
#: pair, fit along its side without overlapping.
MAX_COLUMNS = 4
_MAP_INCHES = 1.6
# Characters from here on (CJK radicals, kana, kanji, …) are missing from matplotlib's DejaVu.
_FIRST_CJK = 0x2E80


def plot_heatmap(table: pd.DataFrame, metric: str, *, ax: plt.Axes | None = None,
                 vmin: float | None = None, vmax: float | None = None, cmap: str = "viridis",
                 language: str = "en") -> plt.Axes:
    """A layer × head grid of one metric of a `score`/`corpus_scores` table, lowest layer at the
    bottom; its labels in `language` (``"ja"``: the Japanese edition, `bertlab.i18n.show_figure`)."""
    _check_table(table, [metric])
    _fonts_for(language)
    grid = table.pivot(index="layer", columns="head", values=metric)  # [layer, head]
    if metric_name(metric).unit == "fraction":
        vmin, vmax = (0.0 if vmin is None else vmin), (1.0 if vmax is None else vmax)
    ax = ax or plt.subplots(figsize=(0.45 * grid.shape[1] + 2.5, 0.4 * grid.shape[0] + 1.5))[1]
    image = ax.imshow(grid.to_numpy(), origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(grid.shape[1]), tick_labels(grid.columns))
    ax.set_yticks(range(grid.shape[0]), tick_labels(grid.index))
    ax.set_xlabel(HEAD_AXIS_TEXT.get(language))
    ax.set_ylabel(LAYER_AXIS_TEXT.get(language))
    ax.set_title(metric_label(metric, unit=False, language=language))
    ax.figure.colorbar(image, ax=ax, label=_unit(metric, language))
    ax.figure.tight_layout()
    return ax


def plot_profile(table: pd.DataFrame, metrics: Sequence[str] = PROFILE_METRICS, *,
                 ax: plt.Axes | None = None, spread: bool = True, language: str = "en") -> plt.Axes:
    """One curve per metric: its mean over heads in each layer, with the range over heads shaded;
    its labels in `language`."""
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    _check_table(table, metrics)
    _fonts_for(language)
    means = layer_means(table)
    by_layer = table.groupby("layer")[metrics]
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    layers = means["layer"] + 1
    for metric in metrics:
        line, = ax.plot(layers, means[metric], marker="o",
                        label=metric_label(metric, unit=False, language=language))
        if spread:
            ax.fill_between(layers, by_layer.min()[metric], by_layer.max()[metric],
                            color=line.get_color(), alpha=0.12, linewidth=0)
    ax.set_xticks(list(layers))
    ax.set_xlabel(LAYER_AXIS_TEXT.get(language))
    units = sorted({_unit(m, language) for m in metrics})
    # In Japanese a share needs no unit: the name of each curve says 割合 already.
    shown = len(units) == 1 and not (language == "ja" and units[0] == "割合")
    ax.set_ylabel(_PROFILE_AXIS[spread].get(language)
                  + (f"{_UNIT_SEPARATOR[language]}{units[0]}" if shown else ""))
    legend_outside(ax)
    ax.figure.tight_layout()
    return ax


def plot_attention(att: Attention, layers: Sequence[int], heads: Sequence[int] | None = None, *,
                   columns: int = MAX_COLUMNS, cmap: str = "Blues") -> list[plt.Axes]:
    """The attention maps of the chosen `layers` and `heads` (0-based), one small heatmap each.

    The static twin of `bertlab.head_view` / `bertlab.model_view` for the same layers and heads:
    in each map, row i is the query token, column j the key token, colour the weight
    ``att.weights[layer, head, i, j]`` on one scale from 0 to 1 for every map. At most `columns`
    maps side by side; the token labels are on the left column and the bottom row. Japanese (or
    other CJK) tokens are drawn in the shipped Noto Sans JP. Returns the axes, in the order
    (layer, head) of the arguments.
    """
    if not isinstance(att, Attention):
        raise InputError(f"plot_attention draws one text: pass one Attention from bertlab.extract, "
                         f"got {type(att).__name__}.")
    layers = _checked_indices(layers, att.n_layers, "layers")
    heads = _checked_indices(range(att.n_heads) if heads is None else heads, att.n_heads, "heads")
    per_row = max(1, min(columns, len(heads)))
    rows_per_layer = math.ceil(len(heads) / per_row)
    n_rows = rows_per_layer * len(layers)
    fig, grid = plt.subplots(n_rows, per_row, squeeze=False, sharex=True, sharey=True,
                             layout="constrained",
                             figsize=(per_row * _MAP_INCHES + 1.6, n_rows * (_MAP_INCHES + 0.3) + 0.7))
    token_font = _token_font(att.tokens)
    # One line of label per token along a map's side, at most 7 points.
    label_size = min(7.0, 0.8 * _MAP_INCHES * 72 / len(att.tokens))
    drawn, image = [], None
    for i, layer in enumerate(layers):
        for k, head in enumerate(heads):
            ax = grid[i * rows_per_layer + k // per_row, k % per_row]
            image = ax.imshow(att.weights[layer, head].numpy(), cmap=cmap, vmin=0.0, vmax=1.0)
            ax.set_title(head_label(layer, head), fontsize=8, pad=3)
            drawn.append(ax)
    positions = range(len(att.tokens))
    for ax in grid.flat:
        ax.set_xticks(positions, att.tokens, rotation=90, fontsize=label_size, fontfamily=token_font)
        ax.set_yticks(positions, att.tokens, fontsize=label_size, fontfamily=token_font)
        ax.tick_params(length=0, pad=1)
        if ax not in drawn:
            ax.set_axis_off()                            # the last row of a layer may be short
    fig.supylabel("query token (attends from)", fontsize=9)
    fig.supxlabel("key token (attended to)", fontsize=9)
    fig.colorbar(image, ax=grid, shrink=min(1.0, 3.0 / n_rows), aspect=30,
                 label="attention weight (fraction)")
    return drawn


#: The y axis of `plot_profile`, with and without the band; the unit follows the separator.
_PROFILE_AXIS = {True: Text(en="mean over heads (band: min–max)",
                            ja="ヘッドの平均（帯：最小〜最大）"),
                 False: Text(en="mean over heads", ja="ヘッドの平均")}
_UNIT_SEPARATOR = {"en": ", ", "ja": "、"}


def _unit(metric: str, language: str) -> str:
    """The unit of `metric` in `language` (a fraction is 割合 in Japanese)."""
    if language == "ja":
        unit = metric_label(metric, language="ja").removeprefix(
            metric_label(metric, unit=False, language="ja"))
        return unit.removeprefix("（").removesuffix("）") or "割合"
    return metric_name(metric).unit


def legend_outside(ax: plt.Axes, **kwargs) -> None:
    """The legend to the right of the axes, where it covers no data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
              fontsize="small", frameon=False, **kwargs)


def log_axis(ax: plt.Axes, axis: str = "y") -> None:
    """A log scale whose labels do not overlap: labelled powers of ten only (at most six),
    written as plain numbers (0.001, 0.01, …; 1e-05 below that), unlabelled minor ticks."""
    if axis not in ("x", "y"):
        raise InputError(f"axis is 'x' or 'y', got {axis!r}.")
    getattr(ax, f"set_{axis}scale")("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(base=10, numticks=6))
    target.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    target.set_minor_locator(LogLocator(base=10, subs=range(2, 10), numticks=12))
    target.set_minor_formatter(NullFormatter())


def _fonts_for(language: str) -> None:
    """Japanese labels need the shipped Noto Sans JP (matplotlib's own fonts have no Japanese):
    added as the last fallback family, as for Japanese tokens (`bertlab.fonts`)."""
    if language == "ja":
        use_japanese_font()


def _token_font(tokens: Sequence[str]) -> list[str]:
    """The font families for token labels: matplotlib's, then Noto Sans JP if any token needs it."""
    families = list(plt.rcParams["font.family"])
    if any(ord(character) >= _FIRST_CJK for token in tokens for character in token):
        use_japanese_font()
        families = [f for f in families if f != JAPANESE_FONT] + [JAPANESE_FONT]
    return families


def _checked_indices(indices: Sequence[int], count: int, what: str) -> list[int]:
    chosen = [int(i) for i in indices]
    if not chosen:
        raise InputError(f"{what} is empty: pass the 0-based {what} to draw.")
    wrong = [i for i in chosen if not 0 <= i < count]
    if wrong:
        raise InputError(f"{what} {wrong} are not available: {what} are 0-based, from 0 to {count - 1}.")
    return chosen


def _check_table(table: pd.DataFrame, metrics: Sequence[str]) -> None:
    if not isinstance(table, pd.DataFrame) or not {"layer", "head"} <= set(table.columns):
        raise InputError("Expected a table with 'layer' and 'head' columns, such as the output of "
                         "bertlab.score or bertlab.corpus_scores.")
    missing = [m for m in metrics if m not in table.columns]
    if missing:
        known = [c for c in table.columns if c not in ("layer", "head")]
        raise InputError(f"Unknown metric(s) {missing}; this table has {known} (see bertlab.METRICS).")

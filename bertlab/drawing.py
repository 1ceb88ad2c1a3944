"""Figures: a layer × head heatmap, per-layer profile curves, and thin BertViz wrappers.

Book chapters: "Extracting and reading attention" (heatmap, profile), "BertViz side by side".
Tables come from `score` / `corpus_scores` (0-based ``layer`` and ``head``); the axes here count
layers and heads from 1, as people do, and say so.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> lm = load()
>>> ax = plot_heatmap(score(extract(lm, "The dog chased the cat.")), "cls_share")
>>> ax.get_ylabel()
'layer (1 = lowest)'
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd

from .errors import InputError
from .extraction import Attention, extract  # noqa: F401  (extract is used by the doctest above)
from .loading import load  # noqa: F401
from .metrics import METRICS, layer_means, score  # noqa: F401

__all__ = ["plot_heatmap", "plot_profile", "head_view", "model_view"]

#: The default curves of `plot_profile`: the four roles the book asks about.
PROFILE_METRICS = ("cls_share", "sep_share", "punct_share", "self_share")

_LABELS = {
    "cls_share": "share to [CLS]", "sep_share": "share to [SEP]",
    "special_share": "share to special tokens", "punct_share": "share to punctuation",
    "self_share": "share to itself", "prev_share": "share to previous token",
    "next_share": "share to next token", "entropy": "entropy (nats)",
    "cross_segment_share": "share across the segment border",
}


def plot_heatmap(table: pd.DataFrame, metric: str, *, ax: plt.Axes | None = None,
                 vmin: float | None = None, vmax: float | None = None, cmap: str = "viridis"
                 ) -> plt.Axes:
    """A layer × head grid of one metric of a `score`/`corpus_scores` table, lowest layer at the bottom."""
    _check_table(table, [metric])
    grid = table.pivot(index="layer", columns="head", values=metric)  # [layer, head]
    if metric.endswith("_share"):
        vmin, vmax = (0.0 if vmin is None else vmin), (1.0 if vmax is None else vmax)
    ax = ax or plt.subplots(figsize=(0.45 * grid.shape[1] + 2, 0.4 * grid.shape[0] + 1.5))[1]
    image = ax.imshow(grid.to_numpy(), origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(grid.shape[1]), [str(h + 1) for h in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [str(l + 1) for l in grid.index])
    ax.set_xlabel("head (1 = first)")
    ax.set_ylabel("layer (1 = lowest)")
    ax.set_title(_LABELS.get(metric, metric))
    ax.figure.colorbar(image, ax=ax)
    ax.figure.tight_layout()
    return ax


def plot_profile(table: pd.DataFrame, metrics: Sequence[str] = PROFILE_METRICS, *,
                 ax: plt.Axes | None = None, spread: bool = True) -> plt.Axes:
    """One curve per metric: its mean over heads in each layer, with the range over heads shaded."""
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    _check_table(table, metrics)
    means = layer_means(table)
    by_layer = table.groupby("layer")[metrics]
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    layers = means["layer"] + 1
    for metric in metrics:
        line, = ax.plot(layers, means[metric], marker="o", label=_LABELS.get(metric, metric))
        if spread:
            ax.fill_between(layers, by_layer.min()[metric], by_layer.max()[metric],
                            color=line.get_color(), alpha=0.12, linewidth=0)
    ax.set_xticks(list(layers))
    ax.set_xlabel("layer (1 = lowest)")
    ax.set_ylabel("mean over heads" + (" (band: min–max)" if spread else ""))
    ax.legend(fontsize="small", loc="best")
    ax.figure.tight_layout()
    return ax


def head_view(att: Attention, layers: Sequence[int] | None = None, *, layer: int | None = None,
              heads: Sequence[int] | None = None):
    """BertViz's head view of one text; `layers` (shown) and `layer` (selected first) are 0-based.

    In a notebook it displays the view; elsewhere it returns the HTML object (``.data`` is the page).
    """
    from bertviz import head_view as bertviz_head_view

    kwargs = _bertviz_arguments(att, layers)
    if layer is not None and layer not in kwargs["include_layers"]:
        _bad_layer(layer, kwargs["include_layers"])
    return bertviz_head_view(**kwargs, layer=layer,
                             heads=list(heads) if heads is not None else None,
                             html_action=_html_action())


def model_view(att: Attention, layers: Sequence[int] | None = None, *,
               heads: Sequence[int] | None = None):
    """BertViz's model view (every chosen layer × head as a thumbnail); `layers` are 0-based."""
    from bertviz import model_view as bertviz_model_view

    kwargs = _bertviz_arguments(att, layers)
    return bertviz_model_view(**kwargs, include_heads=list(heads) if heads is not None else None,
                              html_action=_html_action())


def _bertviz_arguments(att: Attention, layers: Sequence[int] | None) -> dict:
    """Arguments BertViz expects: one ``[1, H, Q, K]`` tensor per layer, and explicit layers.

    BertViz handles exactly one text; `include_layers=[]` would silently mean *all* layers.
    """
    if not isinstance(att, Attention):
        raise InputError(
            f"BertViz shows one text at a time: pass one Attention from bertlab.extract, got "
            f"{type(att).__name__}. For a batch, pick one element, e.g. extract_batch(...)[0].")
    if layers is None:
        layers = list(range(att.n_layers))
    layers = [int(l) for l in layers]
    if not layers:
        raise InputError("layers is empty: pass the 0-based layers to show, or None for all.")
    for l in layers:
        if not 0 <= l < att.n_layers:
            _bad_layer(l, list(range(att.n_layers)))
    attention = [att.weights[l][None] for l in range(att.n_layers)]  # n_layers × [1, H, Q, K]
    return {"attention": attention, "tokens": list(att.tokens),
            "sentence_b_start": att.sentence_b_start, "include_layers": layers}


def _bad_layer(layer: int, allowed: list[int]):
    raise InputError(f"Layer {layer} is not available: layers are 0-based, choose from {allowed}.")


def _html_action() -> str:
    """'view' inside a running notebook kernel, 'return' anywhere else (scripts, tests)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return "return"
    shell = get_ipython()
    return "view" if shell is not None and hasattr(shell, "kernel") else "return"


def _check_table(table: pd.DataFrame, metrics: Sequence[str]) -> None:
    if not isinstance(table, pd.DataFrame) or not {"layer", "head"} <= set(table.columns):
        raise InputError("Expected a table with 'layer' and 'head' columns, such as the output of "
                         "bertlab.score or bertlab.corpus_scores.")
    missing = [m for m in metrics if m not in table.columns]
    if missing:
        known = [c for c in table.columns if c not in ("layer", "head")]
        raise InputError(f"Unknown metric(s) {missing}; this table has {known} (see bertlab.METRICS).")

"""Figures and the offline BertViz views: what they draw, how they label it, and their errors."""

import re
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import bertlab  # noqa: E402
from bertlab import drawing, views  # noqa: E402
from bertlab.diagnosis import Diagnosis  # noqa: E402


@pytest.fixture(scope="module")
def att(lm):
    return bertlab.extract(lm, "The dog chased the cat.", "It ran up a tree.")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_heatmap_is_layer_by_head_and_labels_its_counting(att):
    table = bertlab.score(att)
    ax = bertlab.plot_heatmap(table, "cls_share")
    image = ax.get_images()[0].get_array()
    assert image.shape == (att.n_layers, att.n_heads)
    assert image[2, 5] == pytest.approx(table.query("layer == 2 and head == 5")["cls_share"].item())
    assert ax.get_ylabel() == "layer (1 = lowest)" and ax.get_xlabel() == "head (1 = first)"
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "1"
    assert ax.get_title() == "share of attention to [CLS]"
    assert ax.figure.axes[-1].get_ylabel() == "fraction"          # the colour bar's unit


def test_heatmap_of_entropy_is_titled_and_scaled_in_nats(att):
    ax = bertlab.plot_heatmap(bertlab.score(att), "entropy")
    assert ax.figure.axes[-1].get_ylabel() == "nats"
    assert ax.get_images()[0].get_clim()[1] > 1                    # not clipped to [0, 1]


def test_profile_draws_one_curve_per_metric_from_layer_means(att):
    table = bertlab.score(att)
    ax = bertlab.plot_profile(table, ["cls_share", "entropy"])
    assert len(ax.get_lines()) == 2
    assert list(ax.get_lines()[0].get_ydata()) == pytest.approx(
        bertlab.layer_means(table)["cls_share"].tolist())
    assert "1 = lowest" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "share of attention to [CLS]", "entropy"]


def test_profile_legend_sits_outside_the_data_and_the_unit_is_on_the_axis(att):
    ax = bertlab.plot_profile(bertlab.score(att))
    ax.figure.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1                  # right of the axes
    assert ax.get_ylabel().endswith("fraction")


def test_heatmap_and_profile_in_japanese_name_the_same_metrics_and_units(att, monkeypatch):
    monkeypatch.setitem(matplotlib.rcParams, "font.family", ["sans-serif"])  # no Japanese font yet
    warnings.filterwarnings("error", message="Glyph .* missing")   # a box for a kanji fails
    table = bertlab.score(att)
    ax = bertlab.plot_heatmap(table, "entropy", language="ja")
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("層（1 = 最下層）", "ヘッド（1 = 最初）")
    assert ax.get_title() == "エントロピー" and ax.figure.axes[-1].get_ylabel() == "ナット"
    shares = bertlab.plot_profile(table, ["cls_share", "sep_share"], language="ja")
    assert [t.get_text() for t in shares.get_legend().get_texts()] == [
        "[CLS] へのアテンションの割合", "[SEP] へのアテンションの割合"]
    assert shares.get_ylabel() == "ヘッドの平均（帯：最小〜最大）"   # a share needs no unit here
    nats = bertlab.plot_profile(table, ["entropy"], spread=False, language="ja")
    assert nats.get_ylabel() == "ヘッドの平均、ナット"
    assert bertlab.plot_profile(table, ["entropy"], spread=False).get_ylabel() == (
        "mean over heads, nats")


def test_plot_errors_name_the_known_metrics(att):
    with pytest.raises(bertlab.InputError, match="cls_share"):
        bertlab.plot_heatmap(bertlab.score(att), "cls_shar")
    with pytest.raises(bertlab.InputError, match="'layer' and 'head'"):
        bertlab.plot_profile(att.weights, ["cls_share"])


def test_attention_maps_show_the_chosen_layers_and_heads_with_token_labels(att):
    axes = drawing.plot_attention(att, layers=[1, 4], heads=[0, 5, 11])
    assert [ax.get_title() for ax in axes] == [
        "layer 2, head 1", "layer 2, head 6", "layer 2, head 12",
        "layer 5, head 1", "layer 5, head 6", "layer 5, head 12"]
    np.testing.assert_allclose(axes[4].get_images()[0].get_array(), att.weights[4, 5].numpy())
    assert all(ax.get_images()[0].get_clim() == (0.0, 1.0) for ax in axes)
    assert [t.get_text() for t in axes[0].get_yticklabels()] == list(att.tokens)


def test_attention_maps_wrap_after_four_heads_a_row(att):
    axes = drawing.plot_attention(att, layers=[3])                 # 12 heads: 3 rows of 4
    rows = {round(ax.get_position().y0, 3) for ax in axes}
    assert len(axes) == 12 and len(rows) == 3


def test_attention_maps_refuse_batches_and_layers_out_of_range(lm, att):
    with pytest.raises(bertlab.InputError, match="one text"):
        drawing.plot_attention(bertlab.extract_batch(lm, ["One.", "Two."]), layers=[0])
    with pytest.raises(bertlab.InputError, match=r"layers \[6\] are not available"):
        drawing.plot_attention(att, layers=[6])
    with pytest.raises(bertlab.InputError, match="heads is empty"):
        drawing.plot_attention(att, layers=[0], heads=[])


def test_japanese_tokens_are_drawn_in_the_shipped_font(lm):
    """Without a Japanese font matplotlib warns that the glyphs are missing (and draws boxes)."""
    japanese = bertlab.extract(lm, "犬が猫を追いかけた。")
    assert "犬" in japanese.tokens
    with warnings.catch_warnings():
        warnings.simplefilter("error")                             # "Glyph ... missing" fails
        axes = drawing.plot_attention(japanese, layers=[0], heads=[0])
        axes[0].figure.canvas.draw()
    label = next(t for t in axes[0].get_yticklabels() if t.get_text() == "犬")
    assert label.get_fontfamily()[-1] == "Noto Sans JP"


def test_log_axis_labels_powers_of_ten_as_plain_numbers():
    ax = plt.subplots()[1]
    ax.plot([1e-5, 1e-4, 1e-3, 1e-2, 1e-1], [0, 1, 2, 3, 4])
    drawing.log_axis(ax, "x")
    ax.figure.canvas.draw()
    shown = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "0.001" in shown and "0.01" in shown
    assert not [t.get_text() for t in ax.xaxis.get_minorticklabels() if t.get_text()]
    with pytest.raises(bertlab.InputError, match="'x' or 'y'"):
        drawing.log_axis(ax, "z")


def _diagnosis(with_drift: bool) -> Diagnosis:
    signals = pd.DataFrame({"layer": range(6), "cls_share": 0.4, "sep_share": 0.2,
                            "special_share": 0.7, "entropy": 1.5, "normalised_entropy": 0.6})
    if with_drift:
        signals = signals.assign(js_divergence=0.05, map_cosine=0.9)
    return Diagnosis(verdict="healthy", reasons=("r",), signals=signals, model_name="m")


@pytest.mark.parametrize("with_drift, panels", [(False, 2), (True, 4)])
def test_diagnosis_plot_stacks_one_panel_per_unit_each_axis_with_its_unit(with_drift, panels):
    axes = _diagnosis(with_drift).plot()
    assert len(axes) == panels
    assert [ax.get_ylabel() for ax in axes] == ["fraction", "0–1", "nats", "0–1"][:panels]
    assert all("_" not in ax.get_title() for ax in axes)           # human names, not columns
    assert axes[-1].get_xlabel() == "layer (1 = lowest)"
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == [
        "[CLS]", "[SEP]", "special tokens"]
    width, height = axes[0].figure.get_size_inches()
    assert width >= 7 and height >= 1.8 * panels                   # stacked at page width


def test_diagnosis_plot_wants_as_many_axes_as_panels():
    with pytest.raises(bertlab.InputError, match="4 panels"):
        _diagnosis(True).plot(axes=plt.subplots(1, 3)[1])


# --- the BertViz views -------------------------------------------------------------------------

def test_head_view_returns_html_with_the_chosen_layers(att):
    html = bertlab.head_view(att, layers=[1, 4], layer=4).data
    assert '"include_layers": [1, 4]' in html and '"layer": 4' in html
    assert "dog" in html and "tree" in html


def test_model_view_returns_html(att):
    html = bertlab.model_view(att, layers=[0]).data
    assert '"include_layers": [0]' in html


@pytest.mark.parametrize("view", [bertlab.head_view, bertlab.model_view])
def test_views_need_no_network_and_no_require_js(att, view):
    html = view(att, layers=[0], html_action="return").data
    assert "require.min.js" not in html and not re.search(r"<(script|link)[^>]* (src|href)=", html)
    assert html.count(f"<script {views.LIBRARIES_ATTRIBUTE}>") == 1
    assert "d3js.org v5.7.0" in html and "jQuery v2.2.4" in html
    assert html.isascii()                     # a saved view needs no charset declaration


def test_text_that_would_close_a_script_cannot_break_the_view():
    """BertViz writes the tokens into its script as JSON, where ``</script>`` would end it."""
    code = 'var tokens = ["</SCRIPT>", "<!--", "犬"];'
    bertviz_like = (views._REQUIRE_TAG + '<div id="bertviz-0"></div>'
                    + f'\n<script type="text/javascript">\n{code}\n</script>\n')
    html = views.offline_html(bertviz_like)
    assert len(re.findall(r"</script", html, flags=re.IGNORECASE)) == 2   # libraries, view
    assert '"<\\/SCRIPT>", "<\\!--", "\\u72ac"' in html and html.isascii()


def test_views_refuse_an_unknown_html_action(att):
    with pytest.raises(bertlab.InputError, match="html_action"):
        bertlab.head_view(att, html_action="save")


def test_offline_html_refuses_html_of_another_shape():
    with pytest.raises(bertlab.InputError, match="bertviz version"):
        views.offline_html("<div>not BertViz</div>")


def test_bertviz_wrappers_refuse_batches_and_bad_layers(lm, att):
    batch = bertlab.extract_batch(lm, ["One.", "Two."])
    with pytest.raises(bertlab.InputError, match="one text at a time"):
        bertlab.head_view(batch)
    with pytest.raises(bertlab.InputError, match="one text at a time"):
        bertlab.model_view(att.weights)
    with pytest.raises(bertlab.InputError, match="0-based"):
        bertlab.head_view(att, layers=[6])
    with pytest.raises(bertlab.InputError, match="empty"):
        bertlab.model_view(att, layers=[])
    with pytest.raises(bertlab.InputError, match="0-based"):
        bertlab.head_view(att, layers=[1], layer=2)

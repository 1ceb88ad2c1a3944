"""Figures and BertViz wrappers: what they draw, and their errors."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

import bertlab  # noqa: E402


@pytest.fixture(scope="module")
def att(lm):
    return bertlab.extract(lm, "The dog chased the cat.", "It ran up a tree.")


def test_heatmap_is_layer_by_head_and_labels_its_counting(att):
    table = bertlab.score(att)
    ax = bertlab.plot_heatmap(table, "cls_share")
    image = ax.get_images()[0].get_array()
    assert image.shape == (att.n_layers, att.n_heads)
    assert image[2, 5] == pytest.approx(table.query("layer == 2 and head == 5")["cls_share"].item())
    assert ax.get_ylabel() == "layer (1 = lowest)" and ax.get_xlabel() == "head (1 = first)"
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "1"


def test_profile_draws_one_curve_per_metric_from_layer_means(att):
    table = bertlab.score(att)
    ax = bertlab.plot_profile(table, ["cls_share", "entropy"])
    assert len(ax.get_lines()) == 2
    assert list(ax.get_lines()[0].get_ydata()) == pytest.approx(
        bertlab.layer_means(table)["cls_share"].tolist())
    assert "1 = lowest" in ax.get_xlabel()


def test_plot_errors_name_the_known_metrics(att):
    with pytest.raises(bertlab.InputError, match="cls_share"):
        bertlab.plot_heatmap(bertlab.score(att), "cls_shar")
    with pytest.raises(bertlab.InputError, match="'layer' and 'head'"):
        bertlab.plot_profile(att.weights, ["cls_share"])


def test_head_view_returns_html_with_the_chosen_layers(att):
    html = bertlab.head_view(att, layers=[1, 4], layer=4).data
    assert '"include_layers": [1, 4]' in html and '"layer": 4' in html
    assert "dog" in html and "tree" in html


def test_model_view_returns_html(att):
    html = bertlab.model_view(att, layers=[0]).data
    assert '"include_layers": [0]' in html


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

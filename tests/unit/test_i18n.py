"""Computed prose in both languages (bertlab/i18n.py) and the editions extension
(book/_ext/editions.py), on hand-made input: templates, what a cell writes in a book build and
elsewhere, the link to the other edition, and the refusal to execute in the Japanese build.
The built editions themselves are checked by tests/book/test_japanese_edition.py."""

from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import IPython.display
import matplotlib
import pandas as pd
import pytest

from bertlab.claims import RECORD_SCRIPT_CLASS, ClaimCheck, Condition, record
from bertlab.errors import InputError
from bertlab.i18n import (EDITIONS_VARIABLE, LANGUAGE_VARIABLE, Text, book_editions, head_text,
                          layer_text, only_block, reader_language, say, show_figure, show_table)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "book" / "_ext"))

import editions  # noqa: E402

matplotlib.use("Agg")


@pytest.fixture
def shown(monkeypatch):
    """What the cell displays, in order (IPython's display, captured)."""
    outputs = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects, **_: outputs.extend(objects))
    return outputs


@pytest.fixture
def book_build(monkeypatch):
    monkeypatch.setenv(EDITIONS_VARIABLE, "en ja")


@pytest.fixture
def colab(monkeypatch):
    monkeypatch.delenv(EDITIONS_VARIABLE, raising=False)
    monkeypatch.delenv(LANGUAGE_VARIABLE, raising=False)


# --- templates ---------------------------------------------------------------------------------

def test_both_languages_must_name_the_same_values():
    Text(en="{n} of {total:,} words", ja="{total:,} 語のうち {n:d} 語")   # order and specs may differ
    with pytest.raises(InputError, match=r"English has \['n', 'total'\], Japanese \['total'\]"):
        Text(en="{n} of {total} words", ja="{total} 語")
    with pytest.raises(InputError, match="without a name"):
        Text(en="{} words", ja="{} 語")
    with pytest.raises(InputError, match="written twice"):
        Text(en="see {doc}`tokens", ja="{doc`")


def test_a_template_is_filled_in_each_language_with_braces_made_single():
    template = Text(en="{share:.0%} of it ({{doc}}`cls`) is {amount}",
                    ja="その {share:.0%}（{{doc}}`cls`）は{amount}")
    amount = Text("little", "わずか")
    assert template.render("en", share=0.25, amount=amount) == "25% of it ({doc}`cls`) is little"
    assert template.render("ja", share=0.25, amount=amount) == "その 25%（{doc}`cls`）はわずか"
    with pytest.raises(InputError, match="No value for the placeholder 'amount'"):
        template.render("en", share=0.25)
    with pytest.raises(InputError, match="languages are"):
        template.get("fr")


def test_a_filled_in_text_joins_others_and_keeps_braces_that_came_in_with_a_value():
    name = Text(en="model {name}", ja="モデル {name}").format(name="a{b}")   # a brace in a value
    parts = [name, Text("two", "二つ")]
    joined = Text.join(parts) + "."
    assert joined.render("en") == "model a{b}, two."
    assert joined.render("ja") == "モデル a{b}、二つ."
    assert ("(" + Text.join(parts, Text(" / ", "・")) + ")").render("ja") == "(モデル a{b}・二つ)"


def test_layers_and_heads_are_counted_from_one_in_both_languages():
    assert (layer_text(0).en, layer_text(0).ja) == ("layer 1", "第 1 層")
    assert (head_text(5, 11).en, head_text(5, 11).ja) == ("layer 6, head 12", "第 6 層のヘッド 12")


# --- where a cell runs -------------------------------------------------------------------------

def test_the_book_build_names_its_editions_and_a_reader_chooses_a_language(monkeypatch, colab):
    assert book_editions() == () and reader_language() == "en"
    monkeypatch.setenv(LANGUAGE_VARIABLE, "ja")
    assert reader_language() == "ja"
    monkeypatch.setenv(EDITIONS_VARIABLE, "en ja")
    assert book_editions() == ("en", "ja")
    monkeypatch.setenv(EDITIONS_VARIABLE, "en fr")
    with pytest.raises(InputError, match=r"names \['fr'\]"):
        book_editions()
    monkeypatch.setenv(LANGUAGE_VARIABLE, "de")
    with pytest.raises(InputError, match="BERTLAB_LANG is 'de'"):
        reader_language()


def test_an_only_block_fence_is_longer_than_any_fence_inside_it():
    assert only_block("en", "plain").startswith(":::{only} lang_en\n")
    nested = only_block("ja", ":::{admonition} 短い答え\n本文\n:::")
    assert nested.splitlines()[0] == "::::{only} lang_ja" and nested.endswith("\n::::")
    assert only_block("ja", only_block("en", ":::{note}\nx\n:::")).startswith(":::::{only}")


def test_in_a_book_build_a_sentence_is_written_in_every_language(shown, book_build):
    say(Text(en="{n} pieces ({{doc}}`tokens`)", ja="{n} 個のピース（{{doc}}`tokens`）"), n=3)
    (markdown,) = shown
    assert markdown.data == (":::{only} lang_en\n3 pieces ({doc}`tokens`)\n:::\n\n"
                             ":::{only} lang_ja\n3 個のピース（{doc}`tokens`）\n:::")


def test_elsewhere_a_sentence_is_written_in_the_readers_language_only(shown, colab, monkeypatch):
    text = Text(en="{n} pieces", ja="{n} 個のピース")
    say(text, n=3)
    monkeypatch.setenv(LANGUAGE_VARIABLE, "ja")
    say(text, n=3)
    assert [output.data for output in shown] == ["3 pieces", "3 個のピース"]
    with pytest.raises(InputError, match="takes a bertlab.i18n.Text"):
        say("3 pieces")


def frame(language):
    return pd.DataFrame({Text("token", "トークン").get(language): ["[CLS]", "犬"], "id": [101, 1]})


def test_a_table_is_made_once_per_language_and_stays_one_html_block(shown, book_build):
    show_table(frame)
    (markdown,) = shown
    english, japanese = markdown.data.split("\n\n")
    assert "<th>token</th>" in english and "トークン" not in english
    assert "<th>トークン</th>" in japanese and "<td>101</td>" in japanese
    for block in (english, japanese):
        body = block.split("\n", 1)[1].rsplit("\n", 1)[0]    # inside the only fences
        assert "\n\n" not in body and body.startswith('<div class="output text_html"><table')


def test_elsewhere_a_table_is_the_dataframe_itself(shown, colab):
    show_table(frame)
    (table,) = shown
    assert isinstance(table, pd.DataFrame) and list(table.columns) == ["token", "id"]


def draw(language):
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(2, 1))
    ax.set_title(Text("attention", "アテンション").get(language))
    return figure


def test_a_figure_is_drawn_per_language_and_carried_in_the_page(shown, book_build):
    import matplotlib.pyplot as plt

    before, families = plt.get_fignums(), list(matplotlib.rcParams["font.family"])
    show_figure(draw, alt=Text('share "to" [CLS]', "[CLS] への割合"))
    (markdown,) = shown
    images = re.findall(r'<img class="bertlab-figure" alt="([^"]*)" '
                        r'src="data:image/png;base64,([^"]+)">', markdown.data)
    assert [alt for alt, _ in images] == ["share &quot;to&quot; [CLS]", "[CLS] への割合"]
    english, japanese = (base64.b64decode(data) for _, data in images)
    assert english.startswith(b"\x89PNG") and japanese.startswith(b"\x89PNG")
    assert english != japanese                     # the titles differ
    assert plt.get_fignums() == before             # closed: the inline backend shows nothing more
    assert matplotlib.rcParams["font.family"] == families   # the caller's settings back


def test_elsewhere_a_figure_is_one_image_in_the_readers_language(shown, colab):
    show_figure(draw, alt=Text("a", "あ"))
    (image,) = shown
    assert isinstance(image, IPython.display.Image) and image.data.startswith(b"\x89PNG")


def test_in_a_book_build_a_claim_record_is_carried_in_the_page_as_it_is_in_its_file(
        shown, book_build, tmp_path):
    check = ClaimCheck("C0", "A </script> in a statement.", "intro",
                       (Condition("x is large", 0.7, ">=", 0.5, low=0.6, high=0.8),))
    path = record(check, tmp_path)
    (html,) = shown
    match = re.fullmatch(rf'<script type="application/json" class="{RECORD_SCRIPT_CLASS}">(.*)'
                         r"</script>", html.data, re.DOTALL)
    assert match and "</script>" not in match[1]
    assert json.loads(match[1]) == json.loads(path.read_text())


def test_outside_a_book_build_a_record_is_only_written(shown, colab, tmp_path):
    record(ClaimCheck("C0", "s", "intro", (Condition("x", 1.0, ">=", 0.5),)), tmp_path)
    assert not shown and (tmp_path / "C0-attention-weights.json").exists()


# --- the editions extension --------------------------------------------------------------------

EDITIONS = {"en": {"folder": "", "label": "English"},
            "ja": {"folder": "ja", "label": "日本語", "translated": ["book/tokens"],
                   "untranslated_notice": "未訳です。",
                   "config": {"html_title": "日本語の題"},
                   "theme_options": {"extra_footer": "脚注"}}}


class Config(SimpleNamespace):
    def __setitem__(self, name, value):
        setattr(self, name, value)


def configured(language, monkeypatch):
    # _configure_edition sets the variable for the kernels: set it here first, so that pytest
    # puts it back as it was (delenv of an absent variable records nothing to undo).
    monkeypatch.setenv(EDITIONS_VARIABLE, "")
    monkeypatch.delenv(EDITIONS_VARIABLE)
    tags = set()
    config = Config(language=language, bertlab_editions=EDITIONS, templates_path=["_templates"],
                    html_static_path=["book/_static"], html_theme_options={"extra_footer": "footer"},
                    html_title="title")
    app = SimpleNamespace(config=config, tags=SimpleNamespace(add=tags.add))
    editions._configure_edition(app, config)
    return app, tags


def test_each_edition_keeps_its_language_and_shows_the_switch(monkeypatch):
    import os

    app, tags = configured("ja", monkeypatch)
    assert tags == {"lang_ja"} and os.environ[EDITIONS_VARIABLE] == "en ja"
    config = app.config
    assert config.html_title == "日本語の題"
    assert config.html_theme_options["extra_footer"] == "脚注"
    assert config.html_theme_options["article_header_end"] == [editions.SWITCH_TEMPLATE,
                                                               *editions.THEME_HEADER_END]
    assert config.templates_path[-1] == str(editions.TEMPLATES)
    assert (editions.TEMPLATES / editions.SWITCH_TEMPLATE).exists()
    assert config.html_static_path == ["book/_static", str(editions.STATIC)]
    assert (editions.STATIC / editions.SWITCH_STYLE).exists()
    app, tags = configured("en", monkeypatch)
    assert tags == {"lang_en"} and app.config.html_title == "title"


def page_context(language, pagename, monkeypatch):
    app, _ = configured(language, monkeypatch)
    context = {"body": '<section id="x"><h1>T</h1><p>text</p></section>', "metatags": ""}
    editions._link_other_edition(app, pagename, "page.html", context, doctree=object())
    return context


def test_the_switch_leads_to_the_same_page_in_the_other_edition(monkeypatch):
    english = page_context("en", "book/tokens", monkeypatch)
    assert english["bertlab_editions_links"] == [
        {"language": "ja", "label": "日本語", "url": "../ja/book/tokens.html"}]
    assert 'hreflang="ja" href="../ja/book/tokens.html"' in english["metatags"]
    japanese = page_context("ja", "index", monkeypatch)
    assert japanese["bertlab_editions_links"][0]["url"] == "../index.html"


def test_an_untranslated_japanese_page_says_so_and_marks_its_text_english(monkeypatch):
    untranslated = page_context("ja", "book/cls", monkeypatch)["body"]
    assert untranslated.startswith('<section lang="en" id="x"><h1>T</h1><div class="admonition '
                                   'note bertlab-untranslated" lang="ja"><p>未訳です。</p></div>')
    assert page_context("ja", "book/tokens", monkeypatch)["body"].startswith('<section id="x">')
    assert page_context("en", "book/cls", monkeypatch)["body"].startswith('<section id="x">')


NOTEBOOK = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---

# A page

```{code-cell} ipython3
1 + 1
```
"""


def test_the_japanese_build_refuses_a_page_the_english_build_did_not_execute(tmp_path):
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from myst_nb.core.config import NbParserConfig
    from myst_nb.core.read import create_nb_reader
    from myst_parser.config.main import MdParserConfig
    from sphinx.errors import ExtensionError

    page = tmp_path / "page.md"
    page.write_text(NOTEBOOK)
    (tmp_path / "plain.md").write_text("# Plain Markdown\n")
    config = NbParserConfig(execution_mode="cache", execution_cache_path=str(tmp_path / "cache"))
    env = SimpleNamespace(mystnb_config=config, myst_config=MdParserConfig(),
                          doc2path=lambda name: str(tmp_path / f"{name}.md"))
    app = SimpleNamespace(config=SimpleNamespace(language="ja"))
    with pytest.raises(ExtensionError, match=r"no executed version of \['page'\]"):
        editions._refuse_to_execute(app, env, ["page", "plain"])
    notebook = create_nb_reader(str(page), env.myst_config, config, NOTEBOOK).read(NOTEBOOK)
    get_cache(config.execution_cache_path).cache_notebook_bundle(
        CacheBundleIn(notebook, str(page)), check_validity=False)
    editions._refuse_to_execute(app, env, ["page", "plain"])          # in the cache: reads it
    page.write_text(NOTEBOOK.replace("1 + 1", "1 + 2"))               # the code changed
    with pytest.raises(ExtensionError, match="never executes a chapter"):
        editions._refuse_to_execute(app, env, ["page"])
    english = SimpleNamespace(config=SimpleNamespace(language="en"))
    editions._refuse_to_execute(english, env, ["page"])                # English: may execute


def test_a_placeholder_may_be_called_language_or_text(shown, colab):
    template = Text(en="{language}: {text}", ja="{language}：{text}")
    assert template.render("ja", language="日本語", text="犬") == "日本語：犬"
    say(template, language="English", text="dog")
    assert shown[0].data == "English: dog"

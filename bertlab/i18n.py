"""Computed prose in both of the book's languages, English and Japanese, from one execution.

Book: every chapter that writes a sentence, a table or a figure with numbers in it. The book is
executed once, by the English build; the Japanese edition (``_build/html/ja``) reads the same
executed outputs from the execution cache and never runs a cell (``book/_ext/editions.py``).
A cell therefore cannot ask which edition it is in: it writes its output **in every language
at once**, and each edition keeps its own. The translation catalogues (``locale/``) cannot do
this job: an entry for a computed sentence would change with every number.

A `Text` is one template per language, with the same named placeholders (``str.format``
syntax, so a literal brace, as in a MyST role, is doubled: ``{{doc}}`tokens```):

>>> split = Text(en="{n} of these {total} words are split.",
...              ja="この {total} 語のうち {n} 語が分割されます。")
>>> split.render("ja", n=3, total=5)
'この 5 語のうち 3 語が分割されます。'

A value may itself be a `Text`; it is put in in the same language. `format` fills in both
languages and gives a `Text` again, to join with others (``+``, `Text.join`):

>>> amount = Text(en="little", ja="わずか")
>>> carries = Text(en="it carries {amount}", ja="運ぶ量は{amount}").format(amount=amount)
>>> (carries + Text(en=".", ja="です。")).render("ja")
'運ぶ量はわずかです。'

Showing it, in a chapter cell:

* `say` (a sentence or any Markdown block),
* `show_table` (a DataFrame made for each language: its headers and words translated),
* `show_figure` (a matplotlib figure drawn for each language, Japanese text in the shipped
  Noto Sans JP of `bertlab.fonts`).

In a book build (``$BERTLAB_BOOK_EDITIONS``, set by the book's Sphinx extension) every language
is written into the output, each inside a Sphinx ``only`` block (``lang_en``, ``lang_ja``: tags
the extension sets per edition), so each edition shows its own and the other disappears.
Anywhere else (Jupyter, Colab, a script) only the reader's language is shown, as an ordinary
output: ``$BERTLAB_LANG`` (``en`` or ``ja``; English when unset).

How a chapter adopts it: see "Computed prose in both languages" in ``book/_ext/editions.py``.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .errors import InputError
from .labels import HEAD_AXIS, LAYER_AXIS, head_label, layer_label, layers_label, metric_label

__all__ = ["LANGUAGES", "Text", "say", "show_table", "show_figure", "book_editions",
           "reader_language", "edition_tag", "only_block", "layer_text", "head_text",
           "layers_text", "metric_text", "english_quoted",
           "LAYER_AXIS_TEXT", "HEAD_AXIS_TEXT", "EDITIONS_VARIABLE", "LANGUAGE_VARIABLE"]

#: The book's languages, the source language first.
LANGUAGES = ("en", "ja")
#: Set by the book's build (book/_ext/editions.py) to the editions it makes, e.g. ``"en ja"``.
EDITIONS_VARIABLE = "BERTLAB_BOOK_EDITIONS"
#: Outside a book build: the language a reader wants its outputs in.
LANGUAGE_VARIABLE = "BERTLAB_LANG"
#: Resolution of `show_figure`'s images: a 7-inch figure is 1,050 pixels wide, sharp at the
#: page's column width (about 750 pixels) on a screen of twice the density.
FIGURE_DPI = 150


@dataclass(frozen=True)
class Text:
    """One text, or template, per language of the book; both name the same placeholders."""

    en: str
    ja: str

    def __post_init__(self):
        names = {}
        for language in LANGUAGES:
            template = getattr(self, language)
            if not isinstance(template, str):
                raise InputError(f"Text.{language} must be a str, got {type(template).__name__}.")
            names[language] = _placeholders(template, language)
        if names["en"] != names["ja"]:
            raise InputError(
                f"The English and Japanese templates must name the same values, so that both "
                f"editions say the same numbers: English has {sorted(names['en'])}, Japanese "
                f"{sorted(names['ja'])}.\n  en: {self.en!r}\n  ja: {self.ja!r}")

    def get(self, language: str) -> str:
        """The text in `language` (one of `LANGUAGES`)."""
        if language not in LANGUAGES:
            raise InputError(f"The book's languages are {LANGUAGES}, got {language!r}.")
        return getattr(self, language)

    def render(self, language: str, /, **values) -> str:
        """The finished text in `language`: the template filled in with `values` (a `Text`
        value taken in the same language), doubled braces made single."""
        in_language = {name: value.render(language) if isinstance(value, Text) else value
                       for name, value in values.items()}
        try:
            return self.get(language).format(**in_language)
        except KeyError as missing:
            raise InputError(f"No value for the placeholder {missing} of {self.en!r}: pass it "
                             "to format() or say().") from None

    def format(self, **values) -> Text:
        """Both templates filled in with `values`: a `Text` again (its braces doubled), to
        join with others or to fill into another template."""
        return Text(**{language: _escaped(self.render(language, **values))
                       for language in LANGUAGES})

    def __add__(self, other: Text | str) -> Text:
        """The two texts one after the other; a str is the same in both languages (and a
        template too: its literal braces doubled)."""
        other = other if isinstance(other, Text) else Text(other, other)
        return Text(**{language: self.get(language) + other.get(language)
                       for language in LANGUAGES})

    def __radd__(self, other: str) -> Text:
        return Text(other, other) + self

    @staticmethod
    def join(parts: Iterable[Text], separator: Text | None = None) -> Text:
        """`parts` one after the other, with `separator` between them (a comma: ``、`` in
        Japanese)."""
        separator = separator if separator is not None else Text(", ", "、")
        parts = list(parts)
        return Text(**{language: separator.get(language).join(p.get(language) for p in parts)
                       for language in LANGUAGES})


def _placeholders(template: str, language: str) -> set[str]:
    """The names of `template`'s placeholders (``{share:.2f}`` names ``share``)."""
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(template)
                  if field is not None]
    except ValueError as error:
        raise InputError(f"The {language} template {template!r} is not a valid str.format "
                         f"template ({error}); a literal brace is written twice, as in "
                         "'{{doc}}`tokens`'.") from None
    names = {re.split(r"[.\[]", field)[0] for field in fields}
    if any(not name.isidentifier() for name in names):
        raise InputError(f"The {language} template {template!r} has a placeholder without a "
                         "name ({} or {0}): name every value, as in {share:.2f}.")
    return names


def _escaped(text: str) -> str:
    """A filled-in text, its braces doubled again, so that it is itself a valid template."""
    return text.replace("{", "{{").replace("}", "}}")


#: The axis titles of `bertlab.labels` in both languages (ticks from `labels.tick_labels`).
LAYER_AXIS_TEXT = Text(en=LAYER_AXIS, ja="層（1 = 最下層）")
HEAD_AXIS_TEXT = Text(en=HEAD_AXIS, ja="ヘッド（1 = 最初）")


def layer_text(layer: int) -> Text:
    """A 0-based layer as a reader counts it, in both languages (`bertlab.labels.layer_label`).

    >>> layer_text(0).ja
    '第 1 層'
    """
    english = layer_label(layer)
    return Text(en=english, ja=f"第 {english.removeprefix('layer ')} 層")


def head_text(layer: int, head: int) -> Text:
    """A 0-based (layer, head) as a reader counts it: ``第 1 層のヘッド 3``."""
    english = head_label(layer, head)
    return Text(en=english, ja=f"{layer_text(layer).ja}のヘッド {english.rsplit(' ', 1)[1]}")


def layers_text(layers: Iterable[int], n_layers: int | None = None) -> Text:
    """Several 0-based layers as a reader counts them, in both languages
    (`bertlab.labels.layers_label`).

    >>> layers_text([4, 5], n_layers=6).ja, layers_text([0, 2]).ja
    ('第 5〜6 層（6 層中）', '第 1・3 層')
    """
    layers = list(layers)
    return Text(**{language: _escaped(layers_label(layers, n_layers, language=language))
                   for language in LANGUAGES})


def metric_text(column: str, *, unit: bool = True) -> Text:
    """A metric column's human name (and unit) in both languages (`bertlab.labels.metric_label`),
    for axes, legends and headers.

    >>> metric_text("entropy").ja
    'エントロピー（ナット）'
    """
    return Text(en=_escaped(metric_label(column, unit=unit)),
                ja=_escaped(metric_label(column, unit=unit, language="ja")))


def english_quoted(english: str) -> Text:
    """A sentence that exists only in English (a claim text or a diagnosis reason given as a plain
    `str`, a recipe's description) as a value for both languages: as it is in English, quoted in
    「」 in Japanese, so that a Japanese page shows it as a quotation beside its own explanation.

    >>> english_quoted("all 3 conditions met").ja
    '「all 3 conditions met」'
    """
    literal = _escaped(english)
    return Text(en=literal, ja=f"「{literal}」")


def book_editions() -> tuple[str, ...]:
    """The languages of the book build this runs in; empty outside a book build."""
    wanted = os.environ.get(EDITIONS_VARIABLE, "").split()
    unknown = [language for language in wanted if language not in LANGUAGES]
    if unknown:
        raise InputError(f"${EDITIONS_VARIABLE} names {unknown}; the book's languages are "
                         f"{LANGUAGES}.")
    return tuple(wanted)


def reader_language() -> str:
    """The language outputs are shown in outside a book build: ``$BERTLAB_LANG``, else English."""
    language = os.environ.get(LANGUAGE_VARIABLE) or LANGUAGES[0]
    if language not in LANGUAGES:
        raise InputError(f"${LANGUAGE_VARIABLE} is {language!r}; use one of {LANGUAGES}.")
    return language


def edition_tag(language: str) -> str:
    """The Sphinx tag the edition in `language` builds with (``lang_ja``)."""
    return f"lang_{language}"


def only_block(language: str, markdown: str) -> str:
    """`markdown` inside a Sphinx ``only`` block that the edition in `language` keeps.

    >>> print(only_block("ja", "犬"))
    :::{only} lang_ja
    犬
    :::
    """
    longest = max((len(run) for run in re.findall(r"^ *(:{3,})", markdown, re.MULTILINE)),
                  default=2)
    fence = ":" * (longest + 1)
    return f"{fence}{{only}} {edition_tag(language)}\n{markdown}\n{fence}"


def _show(markdown: Callable[[str], str], native: Callable[[str], object] | None = None) -> None:
    """In a book build, the Markdown of every edition's language in its ``only`` block; else
    the reader's language, as `native` makes it (or as Markdown)."""
    from IPython.display import Markdown, display

    editions = book_editions()
    if editions:
        display(Markdown("\n\n".join(only_block(language, markdown(language))
                                     for language in editions)))
        return
    language = reader_language()
    display(native(language) if native is not None else Markdown(markdown(language)))


def say(text: Text, /, **values) -> None:
    """Show `text` (Markdown, MyST roles allowed) filled in with `values`, in each language.

    Outside a book build it shows the reader's language only: ``say(Text(en="Hi {name}",
    ja="こんにちは {name}"), name="Ada")`` shows *Hi Ada*.
    """
    if not isinstance(text, Text):
        raise InputError(f"say() takes a bertlab.i18n.Text (one template per language), got "
                         f"{type(text).__name__}: write Text(en=..., ja=...).")
    _show(lambda language: text.render(language, **values))


def show_table(make: Callable[[str], object]) -> None:
    """Show the DataFrame `make(language)` returns for each language (its headers, index and
    words in that language; the numbers are the same)."""
    def markdown(language: str) -> str:
        table = make(language).to_html(classes="dataframe", border=0)
        # An HTML block ends at a blank line; the whole table must stay one block.
        return '<div class="output text_html">' + "\n".join(
            line for line in table.splitlines() if line.strip()) + "</div>"

    _show(markdown, native=make)


def show_figure(draw: Callable[[str], object], alt: Text) -> None:
    """Show the matplotlib figure `draw(language)` returns, drawn once per language, with the
    alternative text `alt`. Japanese characters are drawn in Noto Sans JP (`bertlab.fonts`).

    In a book build each figure goes into the page as a PNG (a data URI: the executed output
    must hold every edition's figure, since the Japanese edition never runs the cell).
    """
    import matplotlib.pyplot as plt

    from .fonts import use_japanese_font

    def png(language: str) -> bytes:
        # The caller's fonts are put back by hand: plt.rc_context would also reset the backend's
        # state, and the notebook's next figures would then not be shown inline.
        families = list(plt.rcParams["font.family"])
        try:
            use_japanese_font()
            figure = draw(language)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
            plt.close(figure)
        finally:
            plt.rcParams["font.family"] = families
        return buffer.getvalue()

    def markdown(language: str) -> str:
        data = base64.b64encode(png(language)).decode("ascii")
        return (f'<img class="bertlab-figure" alt="{html.escape(alt.render(language))}" '
                f'src="data:image/png;base64,{data}">')

    def native(language: str):
        from IPython.display import Image

        return Image(data=png(language), format="png")

    _show(markdown, native=native)

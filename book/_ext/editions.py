"""Two editions of the book from one execution: English in ``_build/html``, Japanese in
``_build/html/ja``, with a switch on every page to the same page in the other language.

A Sphinx extension of this book (``_config.yml``: ``local_extensions``). ``make book`` runs:

1. **the English build** (``jupyter-book build``): it executes every chapter once and keeps the
   executed notebooks in the execution cache (jupyter-cache, ``_build/.jupyter_cache``, keyed on
   each chapter's code cells);
2. **the Japanese build** (the configuration from ``jupyter-book config sphinx .``, then
   ``sphinx-build -D language=ja``, Sphinx's internationalisation): the prose comes from the
   gettext catalogues ``locale/ja/LC_MESSAGES/<page>.po``, and every chapter's outputs from the
   English build's cache. It **never executes a cell**: before reading, this extension checks
   that every notebook page has its executed version in the cache, and stops the build if one
   has not (`_refuse_to_execute`), so the numbers of both editions are those of one run.

Computed prose in both languages
--------------------------------
A number-bearing sentence, table or figure that a cell writes cannot come from a catalogue (the
entry would change with every number), and the Japanese build cannot run the cell again. So the
cell writes it **in both languages at once**, with `bertlab.i18n`; this extension sets, in each
edition, the Sphinx tag that keeps that edition's language (``lang_en`` / ``lang_ja``), and
tells the kernels of the English build that they run for both editions
(``$BERTLAB_BOOK_EDITIONS``). To convert a chapter's cell::

    from bertlab.i18n import Text, say, show_figure, show_table

    # before: display(Markdown(f"{len(split)} of these {len(words)} words are split."))
    say(Text(en="{n} of these {total} words are split.",
             ja="この {total} 語のうち {n} 語が分割されます。"),
        n=len(split), total=len(words))

* one `Text` per sentence or block, ``str.format`` templates with named values (``{share:.2f}``;
  a literal brace doubled: ``{{doc}}`tokens```); both languages must name the same values;
* words chosen by a condition are `Text` values too: ``amount=Text("little", "わずか")``;
* tables: ``show_table(lambda language: frame_with_headers_in(language))``; figures:
  ``show_figure(lambda language: draw(language), alt=Text(...))``, labels from the language;
* the templates stay in the cell, beside the code that computes their numbers: a change to
  either language changes the cell, so the execution cache runs it again.

Updating the catalogues after the English prose changed: ``make locale`` (Sphinx's gettext
builder with execution off, so no computed output can become an entry, then ``sphinx-intl
update``): new paragraphs arrive untranslated, changed ones as *fuzzy* with their old
translation; translate them in ``locale/ja/LC_MESSAGES/<page>.po`` and remove the fuzzy flag.
The pages listed as translated (``bertlab_editions.ja.translated``) must stay complete: the
book's tests fail on a missing or fuzzy entry, or on an English paragraph in their Japanese
page. A page not yet translated is shown in English in the Japanese edition, under a notice.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from sphinx.errors import ExtensionError

from bertlab.i18n import EDITIONS_VARIABLE, LANGUAGES, edition_tag

SOURCE_LANGUAGE = LANGUAGES[0]
SWITCH_TEMPLATE = "bertlab-language-switch.html"
SWITCH_STYLE = "bertlab-editions.css"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# What the theme puts at the right of the article header when nobody asks otherwise.
THEME_HEADER_END = ["article-header-buttons.html"]


def setup(app):
    # language -> {"folder": where its site lives under _build/html ("" for the source
    # language), "label": the switch's text for it, "translated": the pages fully translated,
    # "untranslated_notice": the notice on the others, "config" / "theme_options": values of
    # the Sphinx configuration and the theme's options (title, footer) in that language}
    app.add_config_value("bertlab_editions", {}, "html")
    app.connect("config-inited", _configure_edition)
    app.connect("env-before-read-docs", _refuse_to_execute)
    app.connect("doctree-read", _translate_toc_captions)
    app.connect("html-page-context", _link_other_edition)
    app.add_css_file(SWITCH_STYLE)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _edition(config, language: str) -> dict:
    editions = config.bertlab_editions
    if language not in editions:
        raise ExtensionError(f"This build's language is {language!r}, but bertlab_editions in "
                             f"_config.yml describes only {sorted(editions)}.")
    return editions[language]


def _translate_toc_captions(app, doctree) -> None:
    """The part titles of the sidebar (``caption:`` in _toc.yml) in the build's language.

    sphinx-external-toc inserts the toctrees after Sphinx's translation step has run, so their
    captions are looked up here, in the catalogue of the page that holds them (the gettext
    builder does collect them there)."""
    from sphinx import addnodes
    from sphinx.locale import init as init_locale
    from sphinx.util.i18n import docname_to_domain

    if (app.config.language or SOURCE_LANGUAGE) == SOURCE_LANGUAGE:
        return
    toctrees = [node for node in doctree.findall(addnodes.toctree) if node.get("caption")]
    if not toctrees:
        return
    domain = docname_to_domain(app.env.docname, app.config.gettext_compact)
    folders = [os.path.join(app.srcdir, folder) for folder in app.config.locale_dirs]
    catalogue, found = init_locale(folders, app.config.language, domain)
    if found:
        for toctree in toctrees:
            toctree["caption"] = catalogue.gettext(toctree["caption"])


def _configure_edition(app, config) -> None:
    language = config.language or SOURCE_LANGUAGE
    edition = _edition(config, language)
    app.tags.add(edition_tag(language))
    # The English build's kernels write every edition's text (bertlab.i18n).
    os.environ[EDITIONS_VARIABLE] = " ".join(config.bertlab_editions)
    for name, value in edition.get("config", {}).items():
        config[name] = value
    options = {**config.html_theme_options, **edition.get("theme_options", {})}
    header_end = options.get("article_header_end", THEME_HEADER_END)
    header_end = [header_end] if isinstance(header_end, str) else list(header_end)
    options["article_header_end"] = [SWITCH_TEMPLATE, *header_end]
    config.html_theme_options = options
    config.templates_path = [*config.templates_path, str(TEMPLATES)]
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def _refuse_to_execute(app, env, docnames) -> None:
    """In a translated edition, every notebook page must be in the English build's execution
    cache: a page that is not would be executed, and its numbers would be another run's."""
    if (app.config.language or SOURCE_LANGUAGE) == SOURCE_LANGUAGE:
        return
    from jupyter_cache import get_cache
    from myst_nb.core.read import create_nb_reader

    config = env.mystnb_config
    if config.execution_mode != "cache":
        raise ExtensionError(f"The {app.config.language} edition reads the English build's "
                             f"executed chapters from the execution cache: nb_execution_mode "
                             f"must be 'cache', not {config.execution_mode!r}.")
    cache = get_cache(config.execution_cache_path)
    missing = []
    for docname in sorted(docnames):
        path = Path(env.doc2path(docname))
        text = path.read_text(encoding="utf-8")
        reader = create_nb_reader(str(path), env.myst_config, config, text)
        if reader is None:          # a plain Markdown page: nothing to execute
            continue
        try:
            cache.match_cache_notebook(reader.read(text))
        except KeyError:
            missing.append(docname)
    if missing:
        raise ExtensionError(
            f"The {app.config.language} edition never executes a chapter, but the execution "
            f"cache {config.execution_cache_path} has no executed version of {missing} (their "
            "code changed since the English build, or it did not run): run the English build "
            "first (`make book` does both).")


def other_edition_url(pagename: str, folder: str, other_folder: str) -> str:
    """The relative URL, from page `pagename` of the edition in `folder`, of the same page in
    the edition in `other_folder` ("" is the site's root).

    >>> other_edition_url("book/tokens", "", "ja")
    '../ja/book/tokens.html'
    >>> other_edition_url("book/tokens", "ja", "")
    '../../book/tokens.html'
    """
    up = "../" * (pagename.count("/") + (1 if folder else 0))
    return f"{up}{other_folder + '/' if other_folder else ''}{pagename}.html"


def _link_other_edition(app, pagename, templatename, context, doctree) -> None:
    """The switch to the other editions (``bertlab_editions_links`` for the template), their
    ``hreflang`` links, and on a page not yet translated, the notice that it is in English."""
    config = app.config
    language = config.language or SOURCE_LANGUAGE
    edition = _edition(config, language)
    links = [{"language": other, "label": settings["label"],
              "url": other_edition_url(pagename, edition["folder"], settings["folder"])}
             for other, settings in config.bertlab_editions.items() if other != language]
    context["bertlab_editions_links"] = links
    context["metatags"] = context.get("metatags", "") + "".join(
        f'\n<link rel="alternate" hreflang="{link["language"]}" href="{link["url"]}" />'
        for link in links)
    if language == SOURCE_LANGUAGE or doctree is None or pagename in edition.get("translated", ()):
        return
    body = context.get("body", "")
    heading_end = body.find("</h1>")
    if heading_end >= 0:
        at = heading_end + len("</h1>")
        notice = (f'<div class="admonition note bertlab-untranslated" lang="{language}"><p>'
                  f'{escape(edition["untranslated_notice"])}</p></div>')
        # The page's text is still the source language's: say so to browsers and readers.
        body = body[:at] + notice + body[at:]
        context["body"] = body.replace("<section", f'<section lang="{SOURCE_LANGUAGE}"', 1)

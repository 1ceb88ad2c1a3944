"""The two small data sets that ship with bertlab, and the numbers that describe them.

Both live in ``bertlab/data`` beside their data card, ``DATACARD.md``:

* ``reviews.csv``: short product and service reviews in ten domains,
  columns ``text, label, split, domain``; label 1 = positive, 0 = negative.
* ``pairs.csv``: sentence pairs, columns ``text, text_pair, label, split``;
  label 1 = ``text_pair`` is the natural next sentence of ``text``,
  label 0 = ``text_pair`` comes from an unrelated topic.

Every row is in exactly one split, ``train``, ``validation`` or ``test`` (about 60/20/20),
fixed in the file so that every learner sees the same rows. The files are tiny on purpose:
they are for teaching and exercises, not a benchmark. ``scripts/make_datasets.py`` writes them
from the hand-written texts in ``bertlab/data/sources``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources

import pandas as pd

from .errors import InputError

__all__ = ["SPLITS", "load_reviews", "load_pairs", "words", "diversity_stats", "datacard_table"]

SPLITS = ("train", "validation", "test")

#: What counts as a word in the statistics: a run of lower-case letters and apostrophes.
WORD = re.compile(r"[a-z']+")


def load_reviews(split: str | None = None) -> pd.DataFrame:
    """The sentiment reviews, one row each: ``text, label, split, domain``.

    ``split`` is ``"train"``, ``"validation"``, ``"test"``, or None for every row.

    >>> test = load_reviews("test")
    >>> sorted(test["label"].unique().tolist())
    [0, 1]
    >>> test["split"].unique().tolist()
    ['test']
    """
    return _load("reviews.csv", split)


def load_pairs(split: str | None = None) -> pd.DataFrame:
    """The sentence pairs, one row each: ``text, text_pair, label, split``.

    ``split`` is ``"train"``, ``"validation"``, ``"test"``, or None for every row.

    >>> pairs = load_pairs()
    >>> pairs.columns.tolist()
    ['text', 'text_pair', 'label', 'split']
    >>> int(pairs["label"].sum()) * 2 == len(pairs)   # half the pairs are true next sentences
    True
    """
    return _load("pairs.csv", split)


def _load(filename: str, split: str | None) -> pd.DataFrame:
    """Read one CSV from the installed package and keep the rows of one split (or all)."""
    if split is not None and split not in SPLITS:
        raise InputError(f"Unknown split {split!r}. Use one of {', '.join(SPLITS)}, "
                         f"or split=None for every row.")
    with (resources.files("bertlab") / "data" / filename).open(encoding="utf-8") as file:
        # keep_default_na=False: a text is always a string, even one that reads "NA" or "null".
        table = pd.read_csv(file, keep_default_na=False)
    if split is None:
        return table
    return table[table["split"] == split].reset_index(drop=True)


def words(text: str) -> list[str]:
    """The words of a text as the statistics count them: lower-cased, letters and apostrophes.

    >>> words("Not bad at ALL, isn't it?")
    ['not', 'bad', 'at', 'all', "isn't", 'it']
    """
    return WORD.findall(text.lower())


def diversity_stats(texts: Sequence[str]) -> dict:
    """How much vocabulary and how much variety a list of texts has.

    Returns ``examples``, ``words`` (all word tokens), ``distinct_words``, ``distinct_bigrams``
    (pairs of neighbouring words inside one text), ``type_token_ratio`` (distinct words / words),
    ``mean_words`` and ``max_words`` (per text). Words are counted by `words`.

    >>> stats = diversity_stats(["Not bad at all!", "Not good."])
    >>> stats["words"], stats["distinct_words"], stats["distinct_bigrams"]
    (6, 5, 4)
    >>> round(stats["type_token_ratio"], 3)
    0.833
    """
    if isinstance(texts, str) or len(texts) == 0:
        raise InputError("diversity_stats takes a non-empty list of texts, e.g. "
                         "load_reviews()['text'].tolist(), not a single string.")
    word_lists = [words(text) for text in texts]
    lengths = [len(text_words) for text_words in word_lists]
    vocabulary = {word for text_words in word_lists for word in text_words}
    bigrams = {pair for text_words in word_lists for pair in zip(text_words, text_words[1:])}
    return {
        "examples": len(texts),
        "words": sum(lengths),
        "distinct_words": len(vocabulary),
        "distinct_bigrams": len(bigrams),
        "type_token_ratio": len(vocabulary) / sum(lengths),
        "mean_words": sum(lengths) / len(lengths),
        "max_words": max(lengths),
    }


def datacard_table(tokenizer=None, reviews: pd.DataFrame | None = None,
                   pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """The statistics of ``DATACARD.md``: one row per file and split, then the whole file.

    A pair counts as one text, its two sentences joined by a space. Given a Hugging Face
    ``tokenizer``, the table also has ``mean_wordpieces`` and ``max_wordpieces``: tokens per
    example as the model sees it, [CLS] and [SEP] included (a pair encoded as a pair).
    ``reviews`` and ``pairs`` default to the packaged files.

    >>> table = datacard_table()
    >>> table["file"].unique().tolist(), table["split"].unique().tolist()
    (['reviews.csv', 'pairs.csv'], ['train', 'validation', 'test', 'all'])
    """
    reviews = load_reviews() if reviews is None else reviews
    pairs = load_pairs() if pairs is None else pairs
    rows = []
    for filename, table in (("reviews.csv", reviews), ("pairs.csv", pairs)):
        for split in SPLITS + ("all",):
            part = table if split == "all" else table[table["split"] == split]
            rows.append({"file": filename, "split": split, **_describe(part, tokenizer)})
    return pd.DataFrame(rows)


def _describe(part: pd.DataFrame, tokenizer) -> dict:
    """Label balance, diversity and (with a tokenizer) WordPiece lengths of some rows."""
    is_pairs = "text_pair" in part.columns
    texts = (part["text"] + " " + part["text_pair"]) if is_pairs else part["text"]
    row = {"positive_share": part["label"].mean(), **diversity_stats(texts.tolist())}
    if tokenizer is not None:
        second = part["text_pair"].tolist() if is_pairs else None
        lengths = [len(ids) for ids in tokenizer(part["text"].tolist(), second)["input_ids"]]
        row["mean_wordpieces"] = sum(lengths) / len(lengths)
        row["max_wordpieces"] = max(lengths)
    return row

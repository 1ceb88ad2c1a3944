"""Every claim check of the book, from every module in `bertlab.claims`, in claim order.

Book chapter: "Claims scorecard". Each topic module exposes ``checks(lm) -> list[ClaimCheck]``,
computed on the base model `lm` (a module that needs fine-tuned models loads them from the model
zoo itself). `run_all` calls them all; the scorecard shows and records the result.

>>> [module.__name__.rsplit(".", 1)[-1] for module in MODULES]
['attention', 'bertviz', 'finetuning', 'flow']
"""

from __future__ import annotations

from tqdm.auto import tqdm

from ..i18n import Text
from ..loading import LoadedModel
from . import ClaimCheck, attention, bertviz, finetuning, flow

__all__ = ["MODULES", "CLAIMS", "SUMMARIES", "SUMMARY_TEXTS", "run_all", "claim_order"]

#: The topic modules of `bertlab.claims`, each with a ``checks(lm)`` function.
MODULES = (attention, bertviz, finetuning, flow)
#: The seed's claims, numbered as in the book (C1–C11); every one must be decided somewhere.
CLAIMS = tuple(f"C{number}" for number in range(1, 12))
#: Each claim in one line, in the book's languages (the paraphrase of ``../shared/seed/CLAIMS.md``;
#: the Japanese in the seed's own words where it has them), for the scorecard.
SUMMARY_TEXTS = {
    "C1": Text(en="Many ordinary tokens put strong attention on [CLS].",
               ja="多くの普通のトークンが [CLS] に強い注意を向けている。"),
    "C2": Text(en="In some layers almost every head attends to [SEP].",
               ja="ある層ではほとんどのヘッドが [SEP] に注目している。"),
    "C3": Text(en="This is normal behaviour, not a malfunction.",
               ja="これは正常な挙動であり、故障ではない。"),
    "C4": Text(en="[CLS] aggregates: tokens send to it in the lower layers, it reads all tokens "
                  "to summarise.",
               ja="[CLS] は情報を集約する。下層のトークンは [CLS] をよく参照し、[CLS] は全トークンを"
                  "参照して文全体を要約する。"),
    "C5": Text(en="[SEP] marks sentence borders; boundary-aware (middle to upper) layers attend "
                  "to it.",
               ja="[SEP] は文の区切りを示し、文境界を意識する層（中層～高層）が [SEP] に注目する。"),
    "C6": Text(en="[CLS] low and [SEP] middle are normal; all layers and heads on [CLS]/[SEP] "
                  "signal overfitting or low input diversity.",
               ja="下層での [CLS] 集中と中層での [SEP] 集中は正常。全層・全ヘッドが [CLS]/[SEP] に"
                  "集中するのは過学習や入力文の多様性不足の可能性を示す。"),
    # The seed's table names layers 1–3, 4–8 and 9–12 of a 12-layer BERT; the check reads them
    # by relative depth (bertlab.claims.attention.SEED_C7_BANDS), on a model of any depth.
    "C7": Text(en="By depth: the lowest quarter of the layers is diagonal, the layers up to two "
                  "thirds focus on [CLS], in the top third [CLS] attends out (the seed's layers "
                  "1–3, 4–8 and 9–12 of 12).",
               ja="深さで見て、下の 4 分の 1 の層は対角構造、3 分の 2 までの層は [CLS] に集中し、"
                  "上の 3 分の 1 では [CLS] から他のトークンへ注目する（解説文の全 12 層中の"
                  "第 1〜3 層、第 4〜8 層、第 9〜12 層）。"),
    "C8": Text(en="Layers where attention gathers on [CLS] give a good sentence vector.",
               ja="アテンションが [CLS] に集まる層からは良い文ベクトルが得られる。"),
    "C9": Text(en="Layers that attend to [SEP] show where sentences break and how they relate.",
               ja="[SEP] に注目する層を見ると、文の切れ目や文間関係がわかる。"),
    "C10": Text(en="Attention only on [CLS]/[SEP] everywhere is clogged flow; freezing or "
                   "re-initialising layers can help.",
                ja="全層で [CLS]/[SEP] ばかりを見るのは「情報流通が詰まっている」状態で、層凍結や"
                   "再初期化で改善しうる。"),
    "C11": Text(en="(offer) A Colab cell showing a [CLS]-concentration layer next to a structural "
                   "layer.",
                ja="（申し出）「CLS集中層」と「文構造的Attention層」を BertViz で比較表示する "
                   "Colab セル例。"),
}
#: `SUMMARY_TEXTS` in English.
SUMMARIES = {claim: text.render("en") for claim, text in SUMMARY_TEXTS.items()}


def claim_order(check: ClaimCheck) -> tuple[int, str]:
    """Sort key: claim number (C2 before C10), then aspect."""
    return int(check.claim.removeprefix("C")), check.aspect


def run_all(lm: LoadedModel, *, progress: bool = True) -> list[ClaimCheck]:
    """Every check of every module in `MODULES` on `lm`, sorted by `claim_order`."""
    found = []
    for module in tqdm(MODULES, desc="claim modules", disable=not progress):
        found.extend(module.checks(lm))
    return sorted(found, key=claim_order)

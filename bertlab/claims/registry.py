"""Every claim check of the book, from every module in `bertlab.claims`, in claim order.

Book chapter: "Claims scorecard". Each topic module exposes ``checks(lm) -> list[ClaimCheck]``,
computed on the base model `lm` (a module that needs fine-tuned models loads them from the model
zoo itself). `run_all` calls them all; the scorecard shows and records the result.

>>> [module.__name__.rsplit(".", 1)[-1] for module in MODULES]
['attention', 'bertviz', 'finetuning', 'flow']
"""

from __future__ import annotations

from tqdm.auto import tqdm

from ..loading import LoadedModel
from . import ClaimCheck, attention, bertviz, finetuning, flow

__all__ = ["MODULES", "CLAIMS", "SUMMARIES", "run_all", "claim_order"]

#: The topic modules of `bertlab.claims`, each with a ``checks(lm)`` function.
MODULES = (attention, bertviz, finetuning, flow)
#: The seed's claims, numbered as in the book (C1–C11); every one must be decided somewhere.
CLAIMS = tuple(f"C{number}" for number in range(1, 12))
#: Each claim in one line (the paraphrase of ``../shared/seed/CLAIMS.md``), for the scorecard.
SUMMARIES = {
    "C1": "Many ordinary tokens put strong attention on [CLS].",
    "C2": "In some layers almost every head attends to [SEP].",
    "C3": "This is normal behaviour, not a malfunction.",
    "C4": "[CLS] aggregates: tokens send to it in the lower layers, it reads all tokens to summarise.",
    "C5": "[SEP] marks sentence borders; boundary-aware (middle to upper) layers attend to it.",
    "C6": "[CLS] low and [SEP] middle are normal; all layers and heads on [CLS]/[SEP] signal "
          "overfitting or low input diversity.",
    "C7": "Layers 1–3 (of 12) are diagonal, 4–8 focus on [CLS], in 9–12 [CLS] attends out.",
    "C8": "Layers where attention gathers on [CLS] give a good sentence vector.",
    "C9": "Layers that attend to [SEP] show where sentences break and how they relate.",
    "C10": "Attention only on [CLS]/[SEP] everywhere is clogged flow; freezing or "
           "re-initialising layers can help.",
    "C11": "(offer) A Colab cell showing a [CLS]-concentration layer next to a structural layer.",
}


def claim_order(check: ClaimCheck) -> tuple[int, str]:
    """Sort key: claim number (C2 before C10), then aspect."""
    return int(check.claim.removeprefix("C")), check.aspect


def run_all(lm: LoadedModel, *, progress: bool = True) -> list[ClaimCheck]:
    """Every check of every module in `MODULES` on `lm`, sorted by `claim_order`."""
    found = []
    for module in tqdm(MODULES, desc="claim modules", disable=not progress):
        found.extend(module.checks(lm))
    return sorted(found, key=claim_order)

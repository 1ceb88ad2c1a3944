"""The zoo's fine-tuning loop: AdamW, a fixed data order, and nothing left to chance.

Book chapter: "Fine-tuned and overfit models". `fine_tune(recipe, seed)` turns the embedded
encoder into a two-class `BertForSequenceClassification` following a `Recipe`, and returns it with
its training curves. Same recipe, same seed, same machine → the same weights: every random draw
(head initialisation, re-initialised layers, dropout, data order) comes from `seed`, the torch
thread count is fixed, and torch's deterministic algorithms are switched on while it runs.
Batches are tokenised and padded by `bertlab.extraction.iter_encoded`, like every measurement (a
text over the model's limit would be truncated there, with its warning), and the curves are
measured by `bertlab.classification`.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm
from transformers import (AutoTokenizer, BertForSequenceClassification, PreTrainedTokenizerBase,
                          get_linear_schedule_with_warmup)

from ..classification import class_probabilities
from ..datasets import load_reviews
from ..extraction import iter_encoded
from ..loading import LoadedModel, embedded_model_path, quiet_transformers
from .recipes import Recipe, get_recipe, low_diversity_texts

__all__ = ["FineTuned", "fine_tune", "training_data", "data_fingerprint", "N_LABELS", "THREADS",
           "AUTOCAST_BF16", "training_setup", "torch_threads"]

#: The review data is two-class: 0 negative, 1 positive.
N_LABELS = 2
#: Torch threads while training. One: a fixed count keeps the floating-point summation order
#: (hence the weights) the same from run to run, and on a busy 2-core machine a second thread
#: made a training step 5–7 times *slower* (measured here: 4–6 s vs 20–32 s per step with other
#: jobs running), because idle OpenMP threads spin while they wait.
THREADS = 1


def _native_bfloat16() -> bool:
    """True where the CPU computes in bfloat16 natively (AVX512-BF16 or AMX; read on Linux)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


#: Training's forward passes run under bfloat16 autocast where the CPU has native bfloat16, the
#: usual mixed precision: weights, gradients' accumulation, the optimizer and every evaluation
#: stay float32. Measured here (Xeon with AMX, one thread, batch 32 × 21 tokens): a training step
#: 0.29 s instead of 0.48 s. Elsewhere emulated bfloat16 would be slower, so training is float32.
AUTOCAST_BF16 = _native_bfloat16()


def training_setup() -> dict:
    """What, besides the recipe and the data, decides the weights (it goes into the cache key)."""
    return {"threads": THREADS, "autocast_bf16": AUTOCAST_BF16, "optimizer": "AdamW (fused)"}


@dataclass(frozen=True)
class FineTuned:
    """A fine-tuned classifier, its tokenizer, and one row per evaluated epoch in `history`.

    `history` columns: epoch (1-based), train_loss, train_accuracy, validation_loss,
    validation_accuracy, kept (True on the epoch whose weights the model holds).
    """

    model: BertForSequenceClassification
    tokenizer: PreTrainedTokenizerBase
    history: pd.DataFrame


def training_data(recipe: Recipe | str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (train, validation) frames a recipe uses, columns text, label (+ text_pair for pairs).

    Validation is always the shipped reviews' validation split, so that every recipe is judged on
    the same held-out texts. A `train_size` subset is drawn with `seed`, balanced across labels.
    """
    recipe = get_recipe(recipe)
    validation = load_reviews("validation")[["text", "label"]]
    if recipe.data == "template":
        return low_diversity_texts(recipe.train_size), validation
    train = load_reviews("train")[["text", "label"]]
    if recipe.train_size is not None:
        per_label = recipe.train_size // N_LABELS
        train = (train.groupby("label", group_keys=False)
                 .sample(n=per_label, random_state=seed).sort_index())
    return train.reset_index(drop=True), validation


def data_fingerprint(recipe: Recipe | str, seed: int) -> str:
    """A short hash of the exact texts and labels a recipe trains and validates on."""
    train, validation = training_data(recipe, seed)
    digest = hashlib.sha256()
    for frame in (train, validation):
        digest.update(frame.to_csv(index=False).encode())
    return digest.hexdigest()[:16]


def fine_tune(recipe: Recipe | str, seed: int = 0, *, progress: bool = True) -> FineTuned:
    """Fine-tune the embedded encoder following `recipe`; deterministic for a given `seed`."""
    recipe = get_recipe(recipe)
    train, validation = training_data(recipe, seed)
    with _deterministic(seed):
        tokenizer = AutoTokenizer.from_pretrained(embedded_model_path())
        model = _fresh_classifier(recipe)
        lm = LoadedModel(model=model, tokenizer=tokenizer, name=f"zoo:{recipe.name}/seed{seed}")
        trainable = [p for p in model.parameters() if p.requires_grad]
        # fused: one kernel for the whole update, 6x faster than the default here (0.04 s vs 0.25 s
        # a step for MiniLM's 22.7M parameters), the same arithmetic
        optimizer = torch.optim.AdamW(trainable, lr=recipe.learning_rate,
                                      weight_decay=recipe.weight_decay, fused=True)
        steps_per_epoch = -(-len(train) // recipe.batch_size)  # ceiling division
        total_steps = steps_per_epoch * recipe.epochs
        schedule = get_linear_schedule_with_warmup(
            optimizer, int(recipe.warmup_fraction * total_steps), total_steps)
        order = torch.Generator().manual_seed(seed)
        rows, best_state, best_loss, stale = [], None, float("inf"), 0
        epochs = tqdm(range(1, recipe.epochs + 1), desc=f"zoo {recipe.name} seed {seed}",
                      unit="epoch", disable=not progress)
        for epoch in epochs:
            model.train()
            shuffled = train.iloc[torch.randperm(len(train), generator=order).tolist()]
            for loss in _batch_losses(lm, shuffled, recipe.batch_size):
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
            if not _evaluated(epoch, recipe):
                continue
            row = {"epoch": epoch, **_evaluate(model, tokenizer, train, "train"),
                   **_evaluate(model, tokenizer, validation, "validation")}
            rows.append(row)
            epochs.set_postfix(validation_accuracy=f"{row['validation_accuracy']:.3f}")
            if recipe.patience is None:
                continue
            if row["validation_loss"] < best_loss:
                best_loss, best_state, stale = row["validation_loss"], _copy_state(model), 0
            else:
                stale += 1
                if stale >= recipe.patience:
                    break
        history = pd.DataFrame(rows)
        if best_state is not None:
            model.load_state_dict(best_state)
            history["kept"] = history.validation_loss == best_loss
        else:
            history["kept"] = history.epoch == history.epoch.max()
    model.eval()
    model.requires_grad_(False)
    return FineTuned(model=model, tokenizer=tokenizer, history=history)


def _fresh_classifier(recipe: Recipe) -> BertForSequenceClassification:
    """The embedded encoder with a new random head, frozen or re-initialised as the recipe says."""
    with quiet_transformers():  # silences "some weights were newly initialised": we know
        model = BertForSequenceClassification.from_pretrained(
            embedded_model_path(), num_labels=N_LABELS, attn_implementation="eager")
    layers = model.bert.encoder.layer
    if recipe.freeze_layers:
        model.bert.embeddings.requires_grad_(False)
        for layer in layers[:recipe.freeze_layers]:
            layer.requires_grad_(False)
    for layer in layers[len(layers) - recipe.reinit_top_layers:] if recipe.reinit_top_layers else []:
        _reinitialise(layer, std=model.config.initializer_range)
    return model


def _reinitialise(module: torch.nn.Module, std: float) -> None:
    """BERT's own initialisation, written out (``model._init_weights`` skips weights that
    transformers 5 has marked as loaded): linear weights ~ N(0, std²), biases 0, LayerNorm 1 / 0."""
    for part in module.modules():
        if isinstance(part, torch.nn.Linear):
            torch.nn.init.normal_(part.weight, mean=0.0, std=std)
            torch.nn.init.zeros_(part.bias)
        elif isinstance(part, torch.nn.LayerNorm):
            torch.nn.init.ones_(part.weight)
            torch.nn.init.zeros_(part.bias)


def _batch_losses(lm: LoadedModel, frame: pd.DataFrame, batch_size: int) -> Iterator[torch.Tensor]:
    """The training loss of each batch of `batch_size` consecutive rows of `frame`, in order."""
    pairs = frame.text_pair.tolist() if "text_pair" in frame else None
    labels = torch.tensor(frame.label.to_numpy())  # [N]
    for batch in iter_encoded(lm, frame.text.tolist(), pairs, batch_size=batch_size,
                              for_training=True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=AUTOCAST_BF16):
            logits = lm.model(**batch.inputs).logits  # [B, C]
        yield F.cross_entropy(logits.float(), labels[batch.indices])


def _evaluate(model, tokenizer, frame: pd.DataFrame, split: str) -> dict:
    """Mean cross-entropy and accuracy of `model` on `frame`, keys prefixed with `split`."""
    pairs = frame.text_pair.tolist() if "text_pair" in frame else None
    probabilities = class_probabilities(model, tokenizer, frame.text.tolist(), pairs)  # [N, C]
    labels = torch.tensor(frame.label.to_numpy())
    loss = F.nll_loss(probabilities.clamp_min(1e-12).log(), labels).item()
    accuracy = (probabilities.argmax(dim=-1) == labels).float().mean().item()
    return {f"{split}_loss": loss, f"{split}_accuracy": accuracy}


def _evaluated(epoch: int, recipe: Recipe) -> bool:
    return epoch == 1 or epoch == recipe.epochs or epoch % recipe.eval_every == 0


def _copy_state(model) -> dict[str, torch.Tensor]:
    return copy.deepcopy(model.state_dict())


@contextlib.contextmanager
def torch_threads(count: int = THREADS):
    """Run the block with `count` torch threads, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def _deterministic(seed: int):
    """Seed torch, fix the thread count and ask for deterministic kernels; restore on exit."""
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    rng_state = torch.get_rng_state()
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        with torch_threads():
            yield
    finally:
        torch.set_rng_state(rng_state)
        torch.use_deterministic_algorithms(was_deterministic)

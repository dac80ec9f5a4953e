"""The training pipeline: Seq2SeqTrainer on the feature shards, with checkpoints it resumes from.

A checkpoint (model, optimizer, scheduler, RNG state, step) is saved every ``save_steps`` under the
run folder. Starting the same command again resumes from the newest complete one: a killed or
disconnected run loses at most ``save_steps`` steps. With a Hub repository and HF_TOKEN, each
checkpoint is also pushed (``last-checkpoint/`` in the repository), and a run on a fresh machine
with no local checkpoint continues from there, as the lab's Colab runs did.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments, TrainerCallback

from training.whisper.checkpoints import newest_checkpoint, pull_hub_checkpoint
from training.whisper.features import Manifest, load_shards
from training.whisper.loading import configure_generation, load_model, load_processor, save_processor
from training.whisper.metrics import word_error_rate
from training.whisper.options import TrainOptions

logger = logging.getLogger(__name__)

FINAL = "final"


@dataclass(frozen=True)
class TrainReport:
    run: Path
    model: Path
    resumed_from: int  # the step training started at: 0 for a fresh run
    global_step: int
    seconds: float
    steps_per_second: float
    peak_gpu_memory_gb: float | None


@dataclass
class SpeechCollator:
    """Pads a batch: features stacked as float32, labels padded with -100 so the loss ignores them."""

    decoder_start_id: int

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        features = torch.from_numpy(np.stack([np.asarray(item["input_features"], np.float32) for item in items]))
        labels = [list(item["labels"]) for item in items]
        if all(label and label[0] == self.decoder_start_id for label in labels):
            labels = [label[1:] for label in labels]  # the model prepends the start token itself
        width = max(len(label) for label in labels)
        padded = torch.full((len(labels), width), -100, dtype=torch.long)
        for row, label in enumerate(labels):
            padded[row, : len(label)] = torch.tensor(label, dtype=torch.long)
        return {"input_features": features, "labels": padded}


def train(features: Path, run: Path, options: TrainOptions, *, token: str | None = None) -> TrainReport:
    manifest = Manifest.read(features)
    processor = load_processor(options.base_model, manifest.language, manifest.task, token=token)
    model = load_model(options.base_model, manifest.language, manifest.task, token=token)
    configure_generation(model, manifest.language, manifest.task, options.generation_max_length)
    train_set = load_shards(features, "train").select_columns(["input_features", "labels"])
    eval_set = None
    if options.eval_steps:
        eval_set = load_shards(features, "test").select_columns(["input_features", "labels"])
        if options.eval_size and len(eval_set) > options.eval_size:
            eval_set = eval_set.shuffle(seed=options.seed).select(range(options.eval_size))
    push = bool(options.hub_model_id and token)
    resume = newest_checkpoint(run)
    if resume is None and push:
        resume = pull_hub_checkpoint(options.hub_model_id, run, token=token)
    trainer = Seq2SeqTrainer(
        model=model,
        args=_arguments(run, options, push=push, token=token, evaluate=eval_set is not None),
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=SpeechCollator(model.config.decoder_start_token_id),
        processing_class=processor,
        compute_metrics=_metrics(processor) if eval_set is not None else None,
        callbacks=[StepLog()],
    )
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    logger.info("%s from %s", "resuming" if resume else "starting", resume or options.base_model)
    started = time.monotonic()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.monotonic() - started
    final = run / FINAL
    trainer.save_model(str(final))
    save_processor(processor, final)
    report = TrainReport(
        run=run, model=final, resumed_from=_step_of(resume), global_step=result.global_step, seconds=seconds,
        steps_per_second=(result.global_step - _step_of(resume)) / seconds if seconds else 0.0,
        peak_gpu_memory_gb=torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
    )
    summary = {**asdict(report), "run": str(run), "model": str(final), "options": asdict(options),
               "features": str(features), "language": manifest.language, "task": manifest.task}
    (final / "training.json").write_text(json.dumps(summary, indent=2))
    if push:
        trainer.push_to_hub(commit_message=f"final model, step {result.global_step}")
    return report


def _arguments(run: Path, options: TrainOptions, *, push: bool, token: str | None, evaluate: bool) -> Any:
    precision = options.precision
    if precision == "auto":
        precision = "fp16" if torch.cuda.is_available() else "fp32"
    return Seq2SeqTrainingArguments(
        output_dir=str(run),
        max_steps=options.max_steps if options.max_steps > 0 else -1,
        num_train_epochs=options.epochs,
        learning_rate=options.learning_rate,
        warmup_steps=options.warmup_steps,
        weight_decay=options.weight_decay,
        per_device_train_batch_size=options.train_batch_size,
        per_device_eval_batch_size=options.eval_batch_size,
        gradient_accumulation_steps=options.gradient_accumulation,
        fp16=precision == "fp16",
        bf16=precision == "bf16",
        eval_strategy="steps" if evaluate else "no",
        eval_steps=options.eval_steps or None,
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=options.save_total_limit,
        logging_steps=options.logging_steps,
        predict_with_generate=True,
        generation_max_length=options.generation_max_length,
        metric_for_best_model="wer" if evaluate else None,
        greater_is_better=False,
        seed=options.seed,
        dataloader_num_workers=options.dataloader_workers,
        dataloader_pin_memory=torch.cuda.is_available(),
        remove_unused_columns=False,
        label_names=["labels"],
        report_to="none",
        push_to_hub=push,
        hub_model_id=options.hub_model_id or None,
        hub_token=token,
        hub_strategy="checkpoint",
        hub_private_repo=True,
        **_checkpointing(options.gradient_checkpointing),
    )


def _checkpointing(enabled: bool) -> dict[str, Any]:
    """Gradient (activation) checkpointing: recompute activations in the backward pass to save memory."""
    names = {field.name for field in fields(Seq2SeqTrainingArguments)}
    prefix = "activation" if "activation_checkpointing" in names else "gradient"  # transformers 5 renamed it
    return {f"{prefix}_checkpointing": enabled,
            f"{prefix}_checkpointing_kwargs": {"use_reentrant": False} if enabled else None}


def _metrics(processor: Any) -> Any:
    def compute(prediction: Any) -> dict[str, float]:
        predicted = np.where(prediction.predictions < 0, processor.tokenizer.pad_token_id, prediction.predictions)
        labels = np.where(prediction.label_ids < 0, processor.tokenizer.pad_token_id, prediction.label_ids)
        hypotheses = processor.tokenizer.batch_decode(predicted, skip_special_tokens=True)
        references = processor.tokenizer.batch_decode(labels, skip_special_tokens=True)
        return {"wer": word_error_rate(references, hypotheses)}

    return compute


def _step_of(checkpoint: Path | None) -> int:
    return int(checkpoint.name.rsplit("-", 1)[1]) if checkpoint else 0


class StepLog(TrainerCallback):
    """Logs where training starts, so that a resumed run shows it continues rather than restarts."""

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        logger.info("training from step %d to step %d", state.global_step, state.max_steps)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        logger.info("checkpoint saved at step %d", state.global_step)

"""Every knob of each step in one options dataclass; `__main__` turns their fields into flags.

Light on purpose (no torch import), so that `--help` answers at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureOptions:
    base_model: str = "openai/whisper-small"
    language: str = "sv"
    task: str = "transcribe"
    train_split: str = "train+validation"
    test_split: str = "test"
    test_size: int = 2000  # the test split is subsampled to this many utterances (0: all), as the lab did
    shard_size: int = 500
    max_seconds: float = 30.0
    max_label_tokens: int = 448  # the decoder's maximum length
    seed: int = 42


@dataclass(frozen=True)
class TrainOptions:
    """The lab's hyper-parameters (the Hugging Face Whisper fine-tuning recipe) as defaults."""

    base_model: str = "openai/whisper-small"
    max_steps: int = 4000  # 0: train for `epochs` instead
    epochs: float = 3.0
    learning_rate: float = 1e-5
    warmup_steps: int = 500
    weight_decay: float = 0.0
    train_batch_size: int = 16
    eval_batch_size: int = 8
    gradient_accumulation: int = 1
    gradient_checkpointing: bool = True
    precision: str = "auto"  # auto (fp16 on CUDA, fp32 on CPU), fp16, bf16 or fp32
    eval_steps: int = 1000  # 0: no evaluation during training
    eval_size: int = 500  # test utterances used for evaluation during training (0: all)
    save_steps: int = 1000
    save_total_limit: int = 3
    logging_steps: int = 25
    generation_max_length: int = 225
    seed: int = 42
    dataloader_workers: int = 2
    hub_model_id: str = ""  # push checkpoints there when HF_TOKEN is set


@dataclass(frozen=True)
class EvaluateOptions:
    """Decoding as the speech workers do it (workers.speech.backends.decoding.DecodeOptions)."""

    batch_size: int = 16
    beam_size: int = 5  # the workers' default (ASR_BEAM_SIZE)
    max_length: int = 225  # generated tokens per utterance (at most; the workers' budget by length applies too)
    limit: int = 0  # evaluate on the first N test utterances only (0: all)
    device: str = "auto"  # auto, cpu or cuda


@dataclass(frozen=True)
class ExportOptions:
    quantization: str = "int8"  # of the version folder itself; the other one goes to a subfolder
    base_model: str = ""  # processor source when the checkpoint lacks one (a Hub checkpoint)
    current: bool = True  # make the new version current, which the speech workers then serve

"""Whisper training end to end, on CPU and offline: a tiny random Whisper and espeak-ng Swedish speech.

features -> train (killed after its first checkpoint) -> the same command resumes -> evaluate ->
export to CTranslate2 -> faster-whisper and the speech worker's model cache serve the registered
version. The pipeline runs once per module; each test checks one promise of it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from common.errors import DataError, SettingsError
from common.registry import LocalModelRegistry
from tests.helpers import wait_for
from tests.whisper_fixtures import build_tiny_whisper, espeak_dataset
from training.whisper.__main__ import main
from training.whisper.checkpoints import newest_checkpoint

REPO = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.speech_fixtures"]
SAVE_STEPS = 3
MORE_STEPS = 3  # what the resumed run adds to the step it resumes from


@dataclass(frozen=True)
class Pipeline:
    root: Path
    model_dir: Path
    dataset: Path
    run: Path
    killed_at: int  # the newest complete checkpoint when the first run was killed
    resumed_log: str
    evaluation_output: str


def train_command(max_steps: int) -> list[str]:
    return [
        sys.executable, "-m", "training.whisper", "train", "--features", "espeak",
        "--base-model", "{base}", "--max-steps", str(max_steps), "--save-steps", str(SAVE_STEPS),
        "--train-batch-size", "2", "--learning-rate", "1e-3", "--warmup-steps", "0", "--eval-steps", "0",
        "--logging-steps", "1", "--dataloader-workers", "0", "--generation-max-length", "16",
    ]


def complete_checkpoints(run: Path) -> list[int]:
    """Steps of the checkpoints whose trainer_state.json (written last) is whole."""
    steps = []
    for path in run.glob("checkpoint-*"):
        try:
            steps.append(json.loads((path / "trainer_state.json").read_text())["global_step"])
        except (OSError, ValueError):
            continue
    return sorted(steps)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    root = tmp_path_factory.mktemp("whisper")
    base = build_tiny_whisper(root / "tiny-whisper")
    dataset = espeak_dataset(root / "espeak")
    env = {
        **os.environ, "DATA_DIR": str(root / "data"), "MODEL_DIR": str(root / "models"),
        "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key in ("DATA_DIR", "MODEL_DIR", "HF_HUB_OFFLINE"):
            patch.setenv(key, env[key])
        assert main([
            "features", "--dataset", str(dataset), "--features", "espeak", "--base-model", str(base),
            "--train-split", "train", "--shard-size", "3", "--translation-column", "english",
        ]) == 0
        run = root / "data" / "whisper" / "runs" / "espeak"

        # A run that would go on for long is killed (as a disconnect would) once a checkpoint exists.
        first = subprocess.Popen(
            [part.replace("{base}", str(base)) for part in train_command(10_000)],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: complete_checkpoints(run) or first.poll() is not None, timeout=180, interval=0.05)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        killed_at = complete_checkpoints(run)[-1]

        # The same command again (with a step budget in reach, so that the test ends) resumes.
        resumed = subprocess.run(
            [part.replace("{base}", str(base)) for part in train_command(killed_at + MORE_STEPS)],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=240,
        )
        assert resumed.returncode == 0, resumed.stderr[-3000:]

        evaluation = subprocess.run(
            [sys.executable, "-m", "training.whisper", "evaluate", "--features", "espeak", "--max-length", "12",
             "--device", "cpu"],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
        )
        assert evaluation.returncode == 0, evaluation.stderr[-3000:]
        assert main(["export", "--features", "espeak"]) == 0
    return Pipeline(root, root / "models", dataset, run, killed_at, resumed.stdout + resumed.stderr,
                    evaluation.stdout)


def load_clip(path: Path) -> np.ndarray:
    from training.whisper.data import decode_audio

    return decode_audio({"path": str(path), "bytes": None})


@pytest.mark.slow
def test_killed_training_resumes_from_its_newest_checkpoint(pipeline: Pipeline):
    """The rerun starts at the killed run's step and adds steps: the counter continues, it does not restart."""
    start = pipeline.killed_at
    assert start >= SAVE_STEPS
    assert f"resuming from {pipeline.run / f'checkpoint-{start}'}" in pipeline.resumed_log
    assert f"training from step {start} to step {start + MORE_STEPS}" in pipeline.resumed_log
    saved = [int(step) for step in re.findall(r"checkpoint saved at step (\d+)", pipeline.resumed_log)]
    assert saved and min(saved) > start  # no checkpoint of the early steps was written again
    summary = json.loads((pipeline.run / "final" / "training.json").read_text())
    assert summary["resumed_from"] == start
    assert summary["global_step"] == start + MORE_STEPS
    state = json.loads((newest_checkpoint(pipeline.run) / "trainer_state.json").read_text())  # type: ignore[operator]
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    steps = [entry["step"] for entry in state["log_history"] if "loss" in entry]
    assert steps == list(range(1, start + MORE_STEPS + 1))  # one history, first run's steps then the rerun's
    assert np.mean(losses[-3:]) < losses[0]  # it learns the training sentences


@pytest.mark.slow
def test_evaluation_writes_wer_into_the_models_metadata(pipeline: Pipeline):
    """evaluate puts WER and BLEU in final/evaluation.json; export carries them into the registry's metrics."""
    written = json.loads((pipeline.run / "final" / "evaluation.json").read_text())["metrics"]
    assert written["wer"] >= 0.0 and written["test_utterances"] == 3.0
    assert 0.0 <= written["bleu"] <= 100.0  # the test split has English references: translate is scored too
    assert "wer" in pipeline.evaluation_output and "reference: hon läser en bok" in pipeline.evaluation_output
    version = LocalModelRegistry(pipeline.model_dir).current("asr")
    assert version is not None and version.metrics["wer"] == written["wer"]


@pytest.mark.slow
def test_export_registers_a_ctranslate2_model_that_faster_whisper_loads(pipeline: Pipeline):
    """The version folder (int8) and its float16/ subfolder load in faster-whisper and transcribe Swedish speech."""
    from faster_whisper import WhisperModel

    registry = LocalModelRegistry(pipeline.model_dir)
    version = registry.current("asr")
    assert version is not None
    assert version.extra["backend"] == "ctranslate2"
    assert version.extra["quantization"] == "int8" and version.extra["variants"] == {"float16": "float16"}
    folder = registry.path("asr", version.version)
    for name in ("model.bin", "config.json", "tokenizer.json", "preprocessor_config.json"):
        assert (folder / name).is_file() and (folder / "float16" / name).is_file()
    assert (folder / "float16" / "model.bin").stat().st_size > (folder / "model.bin").stat().st_size
    clip = load_clip(pipeline.dataset / "test" / "clip-00.wav")
    for path, compute_type in ((folder, "int8"), (folder / "float16", "float32")):
        model = WhisperModel(str(path), device="cpu", compute_type=compute_type)
        assert model.model.is_multilingual
        segments, info = model.transcribe(clip, language="sv", task="transcribe", beam_size=1, temperature=0.0)
        segments = list(segments)
        assert info.language == "sv"
        # A tiny model trained for a few steps writes nonsense, but it writes: a text, in order.
        assert segments and "".join(segment.text for segment in segments).strip(), compute_type
        starts = [segment.start for segment in segments]
        assert starts == sorted(starts) and all(0.0 <= segment.start <= segment.end for segment in segments)


@pytest.mark.slow
def test_speech_worker_serves_the_newly_registered_version(pipeline: Pipeline):
    """The worker's model cache serves the export, and a later export replaces it without a new process."""
    from workers.speech.models import AsrModels

    registry = LocalModelRegistry(pipeline.model_dir)
    models = AsrModels(registry, fallback="unused-fallback", backend="ctranslate2", device="cpu")
    first = registry.current_version_number("asr")
    source, recogniser = models.current()
    assert source.tag == f"asr v{first}" and source.location == str(registry.path("asr", first))  # type: ignore[arg-type]
    clip = load_clip(pipeline.dataset / "test" / "clip-01.wav")
    segments = recogniser.recognise(clip, language="sv", task="transcribe")
    seconds = len(clip) / 16_000
    assert segments and "".join(segment.text for segment in segments).strip(), "the exported weights wrote a text"
    assert all(0.0 <= segment.start <= segment.end <= seconds + 0.05 for segment in segments), (segments, seconds)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATA_DIR", str(pipeline.root / "data"))
        patch.setenv("MODEL_DIR", str(pipeline.model_dir))
        assert main(["export", "--features", "espeak", "--quantization", "float16"]) == 0
    source, _ = models.current()
    assert source.tag == f"asr v{first + 1}"  # type: ignore[operator]
    assert registry.current("asr").extra["quantization"] == "float16"  # type: ignore[union-attr]


@pytest.mark.slow
def test_evaluate_compares_a_registry_version_with_a_checkpoint(pipeline: Pipeline, monkeypatch, capsys):
    """--compare prints both models' metrics side by side and records the registry version's WER."""
    monkeypatch.setenv("DATA_DIR", str(pipeline.root / "data"))
    monkeypatch.setenv("MODEL_DIR", str(pipeline.model_dir))
    checkpoint = newest_checkpoint(pipeline.run)
    assert main(["evaluate", "--features", "espeak", "--model", "asr:1", "--compare", str(checkpoint),
                 "--max-length", "8", "--limit", "2", "--device", "cpu"]) == 0
    table = capsys.readouterr().out
    header = next(line for line in table.splitlines() if line.startswith("metric"))
    assert "asr:1" in header and str(checkpoint) in header
    assert re.search(r"^wer\s+[\d.]+\s+[\d.]+$", table, re.MULTILINE)
    metrics = LocalModelRegistry(pipeline.model_dir).get("asr", 1).metrics
    assert metrics["test_utterances"] == 2.0


@pytest.mark.slow
def test_features_rerun_skips_finished_shards(pipeline: Pipeline, tmp_path: Path):
    """A rerun writes only the missing shard and keeps the others, which hold features and labels."""
    from training.whisper.data import SpeechSource
    from training.whisper.features import build_features, load_shards
    from training.whisper.options import FeatureOptions

    options = FeatureOptions(base_model=str(pipeline.root / "tiny-whisper"), train_split="train", shard_size=3)
    first = build_features(SpeechSource(str(pipeline.dataset)), tmp_path, options)
    assert [(r.kept, r.shards_written) for r in first] == [(7, 3), (3, 1)]
    (tmp_path / "train" / "shard-00001").rename(tmp_path / "gone")
    again = build_features(SpeechSource(str(pipeline.dataset)), tmp_path, options)
    assert [(r.kept, r.shards_written, r.shards_skipped) for r in again] == [(7, 1, 2), (3, 0, 1)]
    with pytest.raises(DataError, match="shard_size"):  # other shard bounds would mix two layouts
        build_features(SpeechSource(str(pipeline.dataset)), tmp_path, replace(options, shard_size=2))
    rows = load_shards(tmp_path, "train")
    assert rows[0]["input_features"].shape == (80, 3000)
    assert list(rows["text"]) == [line.split(",")[1] for line in
                                  (pipeline.dataset / "train" / "metadata.csv").read_text().splitlines()[1:]]


def test_collator_pads_labels_and_drops_the_start_token():
    """Labels are padded with -100 (ignored by the loss) and lose the start token the model prepends."""
    from training.whisper.train import SpeechCollator

    items = [{"input_features": np.zeros((2, 3), np.float16), "labels": [9, 5, 6, 7]},
             {"input_features": np.ones((2, 3), np.float16), "labels": [9, 5]}]
    batch = SpeechCollator(decoder_start_id=9)(items)
    assert batch["input_features"].dtype.is_floating_point and tuple(batch["input_features"].shape) == (2, 2, 3)
    assert batch["labels"].tolist() == [[5, 6, 7], [5, -100, -100]]


def test_newest_checkpoint_skips_one_killed_while_saving(tmp_path: Path):
    """A checkpoint without a readable trainer_state.json (killed mid-save) is not resumed from."""
    for step, state in ((3, '{"global_step": 3}'), (6, '{"global_step": 6}'), (9, '{"global_st')):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    (tmp_path / "checkpoint-12").mkdir()
    assert newest_checkpoint(tmp_path) == tmp_path / "checkpoint-6"
    assert newest_checkpoint(tmp_path / "missing") is None


def test_word_error_rate_ignores_case_and_punctuation():
    from training.whisper.metrics import bleu, word_error_rate

    assert word_error_rate(["Hej, och välkommen!"], ["hej och välkommen"]) == 0.0
    assert word_error_rate(["hej och välkommen"], ["hej välkommen"]) == pytest.approx(100 / 3)
    assert word_error_rate(["Hej."], ["hej"], normalised=False) == 100.0
    assert bleu(["the cat sat on the mat"], ["the cat sat on the mat"]) == pytest.approx(100.0)


def test_train_config_file_sets_defaults_and_flags_win(tmp_path: Path):
    from training.whisper.__main__ import _parser, _read_config

    config = tmp_path / "small.toml"
    config.write_text('learning_rate = 2e-5\nmax-steps = 5000\nprecision = "bf16"\n')
    args = _parser(_read_config(str(config), _train_options())).parse_args(["train", "--max-steps", "10"])
    assert (args.learning_rate, args.max_steps, args.precision) == (2e-5, 10, "bf16")
    config.write_text('learning_rat = 2e-5\n')
    with pytest.raises(SettingsError, match="learning_rat"):
        _read_config(str(config), _train_options())


def test_hub_token_setting_refuses_a_placeholder_without_echoing_it(monkeypatch):
    from common.settings import load_settings

    monkeypatch.setenv("HF_TOKEN", "changeme")
    with pytest.raises(SettingsError, match="HF_TOKEN") as error:
        load_settings()
    assert "changeme" not in str(error.value)
    monkeypatch.setenv("HF_TOKEN", "hf_" + "a1" * 17)
    assert load_settings().training.HF_TOKEN is not None


def _train_options() -> type:
    from training.whisper.options import TrainOptions

    return TrainOptions


@pytest.mark.slow
def test_a_transcription_job_on_a_real_worker_is_served_by_the_export(
    pipeline: Pipeline, connection, media_server, tiny_models, tmp_path: Path
):
    """A /transcribe through the console bot and a real RQ worker names the registered export as its model."""
    from tests.test_speech import assert_valid_srt, console_session, documents, install_runtime

    version = LocalModelRegistry(pipeline.model_dir).current_version_number("asr")
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", pipeline.model_dir)
    out = console_session(connection, f"/transcribe {media_server}/swedish.mp4\n", tmp_path)
    assert f"Transcript (asr v{version}" in out, out
    assert_valid_srt(documents(connection)["srt"].decode())


def test_evaluation_asks_for_the_test_shards_again_where_they_hold_no_audio(tmp_path: Path):
    """Shards made before evaluation ran the workers' recognisers on audio: a clear way out, not a KeyError."""
    from training.whisper.evaluate import ModelRef, evaluate
    from training.whisper.features import Manifest, _write_shard
    from training.whisper.options import EvaluateOptions

    folder = tmp_path / "old-features"
    (folder / "test").mkdir(parents=True)
    Manifest("tiny", "sv", "transcribe", 80, {}).write(folder)
    record = {"input_features": [np.zeros((80, 3000), np.float16)], "labels": [[1]], "text": ["hej"],
              "translation": [""], "seconds": [1.0]}  # fmt: skip
    _write_shard(record, folder / "test" / "shard-00000", 80)
    with pytest.raises(DataError, match=r"hold no audio .* run `python -m training.whisper features` again"):
        evaluate(ModelRef("tiny", str(tmp_path / "unused")), folder, EvaluateOptions())

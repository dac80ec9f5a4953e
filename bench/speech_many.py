"""Many voice notes at once: one speech worker batching windows across jobs, against one job at a time.

    python bench/speech_many.py [--notes 16] [--jobs-at-once N] [--threads N] [--repeat N] [--model DIR]

``--notes`` voice notes of 10-30 s (espeak-ng Swedish from tests/swedish_narration.py, as Ogg
Opus files like Telegram's voice notes) are queued at once, as uploads, through a real
redis-server to one listening speech worker (HeartbeatWorker job slots of this process, real
whisper-base int8 on the CPU, the project's default decoding). Side by side, in the same run:

- this project with ASR_JOBS_AT_ONCE (default: the worker's): the notes' windows share batches,
- the same worker with ASR_JOBS_AT_ONCE=1: one job at a time, as before cross-job batching,
- faster-whisper's ``BatchedInferencePipeline`` (same model, beam and batch) on each note in turn,
  as a bot that decodes one request at a time would; a note's answer time is when its turn ends.
  It runs on ``--threads`` CPU threads and on one, and the faster of the two is the one to beat.

Printed per contender: the wall time until the last answer, the 50th and 95th percentile of the
notes' answer times (from the moment all were queued), notes per minute and the CER of all the
notes' text against what espeak-ng said. Each contender runs ``--repeat`` rounds, in turn; the
round with the shortest wall time is shown, with every round's wall time beside it.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jiwer
import numpy as np
import redis
from rq.serializers import JSONSerializer

from bench.harness import start_redis
from bench.machine import connect, cpu_name
from common import artifacts
from common.jobs import ReplyTo, TranscriptionRequest
from common.outbox import OutboxReader
from common.queues import TRANSCRIBE, JobQueue
from common.registry import LocalModelRegistry
from common.settings import SpeechSettings
from common.video_links import LinkPolicy
from tests.real_whisper import real_whisper_dir
from tests.swedish_narration import NARRATION, NEWSREEL, normalise, speak_narration
from workers.heartbeat import Liveness
from workers.job_slots import JobSlots
from workers.speech import runtime
from workers.speech.backends.decoding import DecodeOptions
from workers.speech.batcher import windows_at_once
from workers.speech.models import AsrModels

TARGETS_S = (10, 24, 14, 28, 12, 20, 16, 26, 11, 22, 18, 27, 13, 25, 15, 19)  # each note's least length


@dataclass
class Run:
    name: str
    wall_s: float
    answers_s: list[float]  # each note's time from the queueing of all to its answer
    text: list[str]
    rounds: list[float]

    def line(self, references: list[str]) -> str:
        cer = jiwer.cer(normalise(" ".join(references)), normalise(" ".join(self.text)))
        p50, p95 = np.percentile(self.answers_s, [50, 95])
        return (
            f"{self.name:<70} last answer {self.wall_s:6.2f} s  p50 {p50:6.2f} s  p95 {p95:6.2f} s  "
            f"{60 * len(self.answers_s) / self.wall_s:5.1f} notes/min  CER {cer:.3f}  "
            f"(rounds: {', '.join(f'{wall:.2f}' for wall in self.rounds)} s)"
        )


def make_notes(directory: Path, count: int) -> tuple[list[Path], list[str]]:
    """Voice notes of consecutive sentences, each at least its target length and at most 30 s."""
    sentences = iter(NARRATION + NEWSREEL)
    notes, texts = [], []
    for number in range(count):
        said: list[str] = []
        wav = directory / f"note-{number}.wav"
        while not said or _seconds(wav) < TARGETS_S[number % len(TARGETS_S)]:
            sentence = next(sentences)
            speak_narration([*said, sentence], wav, pause_s=0.5)
            if said and _seconds(wav) > 30:  # one sentence too many: the note without it, and the next note with it
                speak_narration(said, wav, pause_s=0.5)
                sentences = iter([sentence, *sentences])
                break
            said.append(sentence)
        ogg = directory / f"note-{number}.ogg"
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(wav), "-c:a", "libopus", "-b:a", "32k",
                        str(ogg)], check=True)  # fmt: skip
        notes.append(ogg)
        texts.append(" ".join(said))
    return notes, texts


def _seconds(wav: Path) -> float:
    if not wav.exists():
        return 0.0
    with wave.open(str(wav), "rb") as sound:
        return sound.getnframes() / sound.getframerate()


Answers = tuple[float, list[float], list[str]]  # the last answer's time, each note's, each note's text


def our_worker(connection: redis.Redis, notes: list[Path], jobs_at_once: int, tag: str) -> Answers:
    """The notes queued at once to a listening worker with ``jobs_at_once`` job slots; (wall, answers, texts)."""
    options = {"connection": connection, "serializer": JSONSerializer, "liveness": Liveness()}
    slots = JobSlots(jobs_at_once, [TRANSCRIBE], **options)
    slots.start(burst=False)
    try:
        _answer(connection, [notes[0]], f"{tag}-warm-up")  # the slots registered and warm
        return _answer(connection, notes, tag)
    finally:
        slots.stop()
        slots.join()


def _answer(connection: redis.Redis, notes: list[Path], tag: str) -> Answers:
    outbox_name = f"bench-{tag}"
    reader = OutboxReader(connection, outbox_name)
    uploads = [artifacts.store(connection, note.read_bytes(), ttl_s=3600) for note in notes]
    queue = JobQueue(connection).queue(TRANSCRIBE)
    started = time.perf_counter()
    ids = []
    for number, upload in enumerate(uploads):
        request = TranscriptionRequest(
            task="transcribe", reply=ReplyTo(outbox_name, f"note-{number}"), source_id=f"upload:{tag}-{number}",
            artifact=upload, filename=f"note-{number}.ogg", language="sv", files=("txt",),
        )  # fmt: skip
        ids.append(queue.enqueue("workers.speech.job.run", request.to_dict(), job_timeout=3600).id)
    answered: dict[str, float] = {}
    texts: dict[str, str] = {}
    while len(answered) < len(ids):
        for _, message in reader.read(block_ms=100):
            if message.kind == "document" and message.artifact and (message.filename or "").endswith(".txt"):
                texts[message.job_id] = (artifacts.load(connection, message.artifact) or b"").decode()
            if message.final:
                if message.kind == "failed":
                    raise RuntimeError(f"note {message.reply.chat} failed: {message.text}")
                answered[message.job_id] = time.perf_counter() - started
    return max(answered.values()), [answered[i] for i in ids], [texts.get(i, "") for i in ids]


def batched_pipeline(model: Path, notes: list[Path], options: DecodeOptions, threads: int) -> Answers:
    """faster-whisper's batched pipeline on each note in turn, loaded and warmed up before timing."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    pipeline = BatchedInferencePipeline(WhisperModel(str(model), device="cpu", compute_type="int8",
                                                     cpu_threads=threads))  # fmt: skip

    def transcribe(note: Path) -> str:
        segments, _ = pipeline.transcribe(str(note), language="sv", beam_size=options.beam_size,
                                          batch_size=options.batch_size)  # fmt: skip
        return " ".join(segment.text.strip() for segment in segments)

    transcribe(notes[0])
    started = time.perf_counter()
    answers, texts = [], []
    for note in notes:
        texts.append(transcribe(note))
        answers.append(time.perf_counter() - started)
    return answers[-1], answers, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a multilingual CTranslate2 Whisper (default: whisper-base)")
    parser.add_argument("--notes", type=int, default=16)
    parser.add_argument("--jobs-at-once", type=int, help="ASR_JOBS_AT_ONCE (default: the worker's)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = SpeechSettings()
    options = DecodeOptions.from_settings(settings, "cpu")
    model = args.model or real_whisper_dir()
    with tempfile.TemporaryDirectory(prefix="bench-many-") as temporary:
        root = Path(temporary)
        notes, references = make_notes(root, args.notes)
        lengths = [_seconds(note.with_suffix(".wav")) for note in notes]
        process, url = start_redis(root / "redis")
        try:
            connection = connect(url)
            models = AsrModels(LocalModelRegistry(root / "models"), str(model), "ctranslate2", "cpu", args.threads,
                               options)  # fmt: skip
            runtime.install(runtime.SpeechRuntime(models=models, links=LinkPolicy(frozenset(), frozenset(), 60)))
            _, recogniser = models.current()  # loaded before timing, as a worker process does at start
            jobs_at_once = args.jobs_at_once or settings.jobs_at_once_for(
                "cpu", windows_at_once(recogniser, options.batch_size))  # fmt: skip
            contenders = {
                f"this project, ASR_JOBS_AT_ONCE={jobs_at_once} (windows of all jobs batched)":
                    lambda round_: our_worker(connection, notes, jobs_at_once, f"many-{round_}"),
                "this project, ASR_JOBS_AT_ONCE=1 (one job at a time)":
                    lambda round_: our_worker(connection, notes, 1, f"one-{round_}"),
            }  # fmt: skip
            # On some 2-core VMs the pipeline is faster on one thread than on two: it runs at both,
            # and the faster one is the one to beat.
            for threads in sorted({1, args.threads}):
                contenders[f"faster-whisper BatchedInferencePipeline per note (batch {options.batch_size}, "
                           f"{threads} thread{'s' if threads > 1 else ''})"] = (
                    lambda round_, threads=threads: batched_pipeline(model, notes, options, threads))  # fmt: skip
            measured: dict[str, list[Answers]] = {name: [] for name in contenders}
            for round_ in range(args.repeat):
                for name, contender in contenders.items():
                    measured[name].append(contender(round_))
        finally:
            process.terminate()
            process.wait(timeout=10)
    runs = []
    for name, rounds in measured.items():
        wall, answers, texts = min(rounds, key=lambda found: found[0])
        runs.append(Run(name, wall, answers, texts, [found[0] for found in rounds]))
    print(f"machine: {cpu_name()}, {args.threads} threads, {platform.platform()}")
    print(
        f"model: {model.name} (CTranslate2 int8 on the CPU), beam {options.beam_size}, batch {options.batch_size}; "
        f"{len(notes)} voice notes (Ogg Opus) of espeak-ng Swedish, {min(lengths):.1f}-{max(lengths):.1f} s, "
        f"{sum(lengths):.0f} s in all, queued at once"
    )
    for run in runs:
        print(run.line(references))
    ours, one, *pipelines = runs
    pipeline = min(pipelines, key=lambda run: run.wall_s)
    # The contenders of a round run back to back, so each round's ratio is fair too.
    fastest_pipeline = [min(rounds) for rounds in zip(*(run.rounds for run in pipelines), strict=True)]
    against_pipeline = [theirs / mine for mine, theirs in zip(ours.rounds, fastest_pipeline, strict=True)]
    against_one = [theirs / mine for mine, theirs in zip(ours.rounds, one.rounds, strict=True)]
    print(
        f"throughput: {pipeline.wall_s / ours.wall_s:.2f}x the batched pipeline's per note (its faster thread count), "
        "fastest against fastest "
        f"(in each round: {', '.join(f'{r:.2f}' for r in against_pipeline)}), {one.wall_s / ours.wall_s:.2f}x one "
        f"job at a time (in each round: {', '.join(f'{r:.2f}' for r in against_one)}); p95 answer "
        f"{np.percentile(ours.answers_s, 95):.2f} s against {np.percentile(one.answers_s, 95):.2f} s one job at a time"
    )


if __name__ == "__main__":
    main()

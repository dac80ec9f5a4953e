"""Speech benchmark: the project's whole /transcribe job beside faster-whisper's own pipelines.

    python bench/speech.py [--model DIR] [--sentences N] [--threads N] [--repeat N] [--skip-random]

1. A real model: OpenAI's multilingual whisper-base (CTranslate2; by default assembled from PyPI by
   tests/real_whisper.py) on espeak-ng Swedish narration (all 65 sentences: about six minutes).
   The same audio goes through
   - the project's job, queued through a real redis-server to a listening RQ worker that fetches
     the video with yt-dlp from a local HTTP server (download, decoding, speech detection,
     recognition, subtitles, outbox: what a user waits for),
   - ``WhisperModel.transcribe`` with its VAD filter, and ``BatchedInferencePipeline`` (as it
     comes, and with the repetition penalty the project decodes with),
   all with the same beam and batch (ASR_BEAM_SIZE and the CPU default of ASR_BATCH_SIZE), each
   loaded before timing and warmed up, the job and the batched pipeline in ``--repeat`` rounds
   (each one's fastest shown, and the job's time over the pipeline's in each round), the rest in
   the last round. There the batched pipeline also decodes the samples the job decoded from the
   file, and the job's recognition the samples faster-whisper decodes: with the same samples in,
   differences in text are the recognition's, not the audio decoder's.
   Printed: wall time, real-time factor, WER and CER against the narration's text, coverage (the
   share of the detector's speech seconds that the text's segments or cues cover, for every run
   alike; for the job also its own measure, by its sure words), and the share of subtitle cues
   within the broadcast rules (for the peers: one cue per segment, as a plain SRT writer makes them).
   ``--corpus newsreel --rate 160`` speaks the second corpus, at another rate, from 0.0 s.
2. Random weights, Whisper-small-shaped: the transformers and ctranslate2 backends with equal work
   (bench/speech_backends.py), and the share of a job's wall time that is not recognition.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jiwer
import numpy as np
from faster_whisper import decode_audio

from bench.machine import cpu_name
from bench.speech_backends import compare_backends
from bench.speech_job import JobRun, run_jobs
from bench.speech_peers import PeerRun, run_peers
from common.registry import LocalModelRegistry
from common.settings import SpeechSettings
from common.video_links import LinkPolicy
from tests.real_whisper import real_whisper_dir
from tests.speech_fixtures import mux_video
from tests.swedish_narration import NARRATION, NEWSREEL, normalise, speak_narration
from tests.test_speech import srt_cues
from workers.speech import audio, coverage, runtime
from workers.speech.backends import Segment
from workers.speech.backends.decoding import DecodeOptions
from workers.speech.chunks import speech_chunks
from workers.speech.cues import build_cues
from workers.speech.models import AsrModels
from workers.speech.recognise import recognise_chunks
from workers.speech.subtitles import share_within_rules, to_text


def our_job(media: Path, model: Path, options: DecodeOptions, threads: int, round_: int) -> JobRun:
    """A short warm-up job (yt-dlp's first start), then the measured one, on one worker; each round's
    source ids are new, so no round is answered from an earlier one's cache."""
    speech = runtime.SpeechRuntime(
        models=AsrModels(LocalModelRegistry(media / "models"), str(model), "ctranslate2", "cpu", threads, options),
        links=LinkPolicy(frozenset(), frozenset({"127.0.0.1"}), 3600),
    )
    jobs = [(f"bench-warm-up-{round_}", "warm-up.mp4"), (f"bench-narration-{round_}", "narration.mp4")]
    _, measured = run_jobs(media, speech, jobs)
    return measured


def recognise_samples(samples: np.ndarray, name: str) -> PeerRun:
    """The job's speech detection and recognition (on the worker's loaded recogniser, in this process)
    on other samples, with its subtitle cues."""
    speech = runtime.current()
    _, recogniser = speech.models.current()
    started = time.perf_counter()
    chunks = speech_chunks(samples)
    segments = recognise_chunks(
        recogniser, samples, chunks, language="sv", task="transcribe", batch_size=speech.models.options.batch_size,
    )  # fmt: skip
    wall = time.perf_counter() - started
    made_out = coverage.measure([region for chunk in chunks for region in chunk.regions], segments).share
    return PeerRun(name, wall, to_text(segments), build_cues(segments), made_out)


def row(run: PeerRun, seconds: float, reference: str, regions: list[tuple[float, float]]) -> str:
    wer = jiwer.wer(normalise(reference), normalise(run.text))
    cer = jiwer.cer(normalise(reference), normalise(run.text))
    spans = [Segment(cue.start, cue.end, " ".join(cue.lines)) for cue in run.cues]
    covered = coverage.measure(regions, spans).share
    made_out = f"made out {run.made_out:6.1%}" if run.made_out is not None else " " * 15
    return (
        f"{run.name:<58} {run.wall_s:7.2f} s  RTF {run.wall_s / seconds:.3f}  WER {wer:.3f}  CER {cer:.3f}  "
        f"coverage {covered:6.1%}  {made_out}  cues within rules {share_within_rules(run.cues):6.1%} of {len(run.cues)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a multilingual CTranslate2 Whisper (default: whisper-base)")
    parser.add_argument("--corpus", choices=("narration", "newsreel"), default="narration")
    parser.add_argument("--rate", type=int, default=150, help="espeak-ng's words a minute")
    parser.add_argument("--sentences", type=int, default=len(NARRATION))
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=2, help="rounds of all contenders; each one's fastest is shown")
    parser.add_argument("--skip-random", action="store_true", help="only the real-model comparison")
    parser.add_argument("--layers", type=int, default=12, help="random-weight model: layers per side")
    parser.add_argument("--width", type=int, default=768, help="random-weight model: width")
    parser.add_argument("--tokens", type=int, default=100, help="random-weight model: tokens per 30 s chunk")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = SpeechSettings()
    options = DecodeOptions.from_settings(settings, "cpu")
    model = args.model or real_whisper_dir()
    sentences = (NARRATION if args.corpus == "narration" else NEWSREEL)[: args.sentences]
    reference = " ".join(sentences)

    with tempfile.TemporaryDirectory(prefix="bench-speech-") as temporary:
        media = Path(temporary)
        wav = speak_narration(sentences, media / "narration.wav", rate=args.rate)
        mux_video(wav, media / "narration.mp4")
        mux_video(speak_narration(NARRATION[:1], media / "warm-up.wav"), media / "warm-up.mp4")
        samples = audio.decode(media / "narration.mp4", max_seconds=7200)  # as the job decodes it
        seconds = len(samples) / audio.SAMPLE_RATE
        regions = [region for chunk in speech_chunks(samples) for region in chunk.regions]
        # Rounds of the job and the batched pipeline in turn, the fastest of each kept: a shared
        # machine's load then weighs on both alike, and a burst of it on one run does not decide the
        # comparison. They run back to back, so each round's ratio of the two is fair too.
        rounds = [
            (
                our_job(media, model, options, args.threads, round_),
                run_peers(
                    model, media / "narration.mp4", threads=args.threads, beam_size=options.beam_size,
                    batch_size=options.batch_size, repetition_penalty=options.repetition_penalty,
                    job_samples=samples if round_ == args.repeat - 1 else None,
                ),
            )
            for round_ in range(args.repeat)
        ]  # fmt: skip
        job = min((ours for ours, _ in rounds), key=lambda run: run.wall_s)
        peers = [min(runs, key=lambda run: run.wall_s) for runs in zip(*(theirs for _, theirs in rounds), strict=False)]
        peers += rounds[-1][1][len(peers) :]  # those of the last round only
        ratios = [ours.wall_s / theirs[0].wall_s for ours, theirs in rounds]
        their_samples = decode_audio(str(media / "narration.mp4"))  # PyAV's, as the peers decode the file
        peers.append(recognise_samples(their_samples, "the job's recognition on the samples faster-whisper decodes"))
        backends = None
        if not args.skip_random:
            chunks = speech_chunks(samples[: 16_000 * 60])
            backends = compare_backends(
                samples[: 16_000 * 60], chunks, media / "random", layers=args.layers, width=args.width,
                tokens=args.tokens, threads=args.threads,
            )  # fmt: skip

    print(f"machine: {cpu_name()}, {args.threads} threads, {platform.platform()}")
    print(
        f"model: {model.name} (CTranslate2 int8 on the CPU), beam {options.beam_size}, batch {options.batch_size}; "
        f"audio: {seconds:.1f} s of espeak-ng Swedish, {len(sentences)} sentences of the {args.corpus} "
        f"at {args.rate} words a minute; {sum(end - start for start, end in regions):.1f} s of it speech"
    )
    ours = PeerRun(
        "this project: the whole /transcribe job (queue, yt-dlp, ...)",
        job.wall_s, job.files[".txt"], srt_cues(job.files[".srt"]), job.made_out,
    )  # fmt: skip
    for run in (ours, *peers):
        print(row(run, seconds, reference, regions))
    print(
        f"the job takes {job.wall_s / peers[0].wall_s:.2f}x the batched pipeline's time, fastest against fastest "
        f"(in each round: {', '.join(f'{ratio:.2f}' for ratio in ratios)}; median {statistics.median(ratios):.2f}); "
        f"recognition {job.timings['recognise_s']:.2f} s, fetch+decode {job.timings['fetch_s']:.2f} s, "
        f"speech detection {job.timings['detect_s']:.2f} s"
    )
    if backends is not None:
        transformers_s, ct2_s = backends
        print(
            f"random weights, Whisper {args.layers}+{args.layers} layers x {args.width}, {args.tokens} tokens per "
            f"chunk, greedy, on the first 60 s: transformers (float32) {transformers_s:.2f} s, "
            f"ctranslate2 (int8) {ct2_s:.2f} s: {transformers_s / ct2_s:.1f}x"
        )



if __name__ == "__main__":
    main()

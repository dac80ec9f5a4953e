"""Speech benchmark: both recognition backends on the same 60 s of speech with the same model.

    python bench/speech.py [--layers 12 --width 768] [--tokens 100] [--threads N]

No weights can be downloaded here, so the model is a Whisper-small-shaped network (12+12 layers,
width 768, 244 M parameters) with random weights, built once and converted to CTranslate2. Its
end-of-text embedding is zeroed so that neither backend stops early: both decode exactly
``--tokens`` tokens per chunk, and the comparison is one of equal work. Prints:

- the real-time factor (processing seconds per audio second) of each backend on the CPU,
- the speed ratio ctranslate2/transformers,
- the share of a whole job's wall time (queue, download, decode, speech detection, artifacts,
  outbox) that is not recognition, measured through a real RQ worker and a local HTTP server.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from tests.speech_fixtures import (
    SWEDISH,
    _QuietHandler,
    _QuietServer,
    convert_to_ctranslate2,
    multilingual_tokenizer,
    speak,
)
from workers.speech.backends import Recogniser
from workers.speech.recognise import recognise_chunks

AUDIO_SECONDS = 60.0


def make_speech(directory: Path) -> Path:
    """60 s of espeak-ng Swedish with short pauses, as a video file."""
    parts = [speak(sentence, directory / f"s{i}.wav") for i, sentence in enumerate(SWEDISH)]
    listing = directory / "list.txt"
    listing.write_text("".join(f"file '{p}'\n" for _ in range(12) for p in parts))
    wav = directory / "speech.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-y",
            "-v",
            "error",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-af",
            "aresample=16000,apad",
            "-t",
            str(AUDIO_SECONDS),
            str(wav),
        ],
        check=True,
    )
    video = directory / "speech.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-y",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=gray:s=64x48:r=5",
            "-i",
            str(wav),
            "-shortest",
            "-c:v",
            "mpeg4",
            "-c:a",
            "aac",
            str(video),
        ],
        check=True,
    )
    return video


def make_model(directory: Path, layers: int, width: int) -> tuple[Path, Path]:
    import torch
    from transformers import GenerationConfig, WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    hf = directory / "transformers"
    ids = multilingual_tokenizer(hf)
    torch.manual_seed(0)
    config = WhisperConfig(
        vocab_size=51865,
        num_mel_bins=80,
        d_model=width,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=width // 64,
        decoder_attention_heads=width // 64,
        encoder_ffn_dim=4 * width,
        decoder_ffn_dim=4 * width,
        pad_token_id=50257,
        bos_token_id=50257,
        eos_token_id=50257,
        decoder_start_token_id=50258,
    )
    model = WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():
        model.model.decoder.embed_tokens.weight[50257] = 0.0  # never the best token: no early stop
    model.generation_config = GenerationConfig(
        decoder_start_token_id=50258,
        eos_token_id=50257,
        pad_token_id=50257,
        max_length=448,
        is_multilingual=True,
        lang_to_id={token: ids[token] for token in list(ids)[2:-6]},
        task_to_id={"translate": ids["<|translate|>"], "transcribe": ids["<|transcribe|>"]},
        no_timestamps_token_id=ids["<|notimestamps|>"],
        begin_suppress_tokens=[220, 50257],
        suppress_tokens=[],
    )
    model.save_pretrained(hf)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(hf)
    ct2 = directory / "ctranslate2"
    convert_to_ctranslate2(hf, ct2)
    return hf, ct2


def time_backend(recogniser: Recogniser, samples: np.ndarray, chunks: list[tuple[float, float]]) -> float:

    recognise_chunks(recogniser, samples[: 16000 * 5], [(0.0, 5.0)], language="sv", task="transcribe")  # warm-up
    started = time.perf_counter()
    recognise_chunks(recogniser, samples, chunks, language="sv", task="transcribe")
    return time.perf_counter() - started


def whole_job(video: Path, ct2: Path, tokens: int, threads: int) -> list[dict[str, float]]:
    """Two /transcribe jobs through a real redis-server, RQ SimpleWorker and yt-dlp from 127.0.0.1."""
    import functools
    import threading

    import redis
    from rq import SimpleWorker
    from rq.command import send_shutdown_command
    from rq.serializers import JSONSerializer

    from common.embedded_redis import free_port, start_server
    from common.jobs import ReplyTo, TranscriptionRequest
    from common.outbox import OutboxReader
    from common.queues import TRANSCRIBE, JobQueue
    from common.registry import LocalModelRegistry
    from common.video_links import LinkPolicy
    from workers.speech import runtime
    from workers.speech.backends.ct2 import FasterWhisperRecogniser
    from workers.speech.models import AsrModels

    handler = functools.partial(_QuietHandler, directory=str(video.parent))
    server = _QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = free_port()
    process = start_server(video.parent / "redis", port, detached=False)
    try:
        connection = redis.Redis(port=port)
        for _ in range(100):
            try:
                connection.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        models = AsrModels(LocalModelRegistry(video.parent / "models"), str(ct2), "ctranslate2", "cpu", threads)
        models._loaded = (
            models.source(),
            FasterWhisperRecogniser(  # loaded before the job, as a worker does
                str(ct2), device="cpu", cpu_threads=threads, max_new_tokens=tokens
            ),
        )
        runtime.install(runtime.SpeechRuntime(models=models, links=LinkPolicy(frozenset(), frozenset({"127.0.0.1"}))))
        url = f"http://127.0.0.1:{server.server_address[1]}/{video.name}"
        worker = SimpleWorker([TRANSCRIBE], connection=connection, serializer=JSONSerializer)
        measured: list[dict[str, float]] = []

        def one_job(reader: OutboxReader, source_id: str) -> dict[str, float]:
            request = TranscriptionRequest(
                task="transcribe", reply=ReplyTo("bench", "b").to_dict(), source_id=source_id, url=url
            )
            started = time.perf_counter()
            job = (
                JobQueue(connection)
                .queue(TRANSCRIBE)
                .enqueue("workers.speech.job.run", request.to_dict(), job_timeout=3600)
            )
            while True:
                messages = [message for _, message in reader.read(block_ms=100)]
                if any(message.final for message in messages):
                    break
            wall = time.perf_counter() - started
            result = job.latest_result(timeout=10)
            if result is None or not result.return_value:
                return {"error": f"the job failed: {messages[-1].text}"}  # type: ignore[dict-item]
            return {"wall_s": wall, **{k: v for k, v in result.return_value.items() if k.endswith("_s")}}

        def user() -> None:
            """Like a chat user: queue a job on a listening worker, wait for its last message; twice."""
            reader = OutboxReader(connection, "bench")
            time.sleep(1.0)
            try:
                # Different sources: the second is not a cache hit, only yt-dlp and friends are warm.
                measured.extend(one_job(reader, source) for source in ("bench-first", "bench-second"))
            finally:
                send_shutdown_command(connection, worker.name)

        thread = threading.Thread(target=user)
        thread.start()
        worker.work(logging_level="WARNING")
        thread.join()
        return measured
    finally:
        process.terminate()
        server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--tokens", type=int, default=100, help="tokens decoded per 30 s chunk by both")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    from workers.speech import audio
    from workers.speech.backends.ct2 import FasterWhisperRecogniser
    from workers.speech.backends.hf import TransformersRecogniser
    from workers.speech.chunks import speech_chunks

    with tempfile.TemporaryDirectory(prefix="bench-speech-") as temporary:
        directory = Path(temporary)
        video = make_speech(directory)
        hf, ct2 = make_model(directory, args.layers, args.width)
        samples = audio.decode(video, max_seconds=AUDIO_SECONDS)
        chunks = speech_chunks(samples)
        seconds = len(samples) / audio.SAMPLE_RATE
        transformers_s = time_backend(
            TransformersRecogniser(str(hf), device="cpu", max_new_tokens=args.tokens, cpu_threads=args.threads),
            samples,
            chunks,
        )
        ct2_s = time_backend(
            FasterWhisperRecogniser(str(ct2), device="cpu", cpu_threads=args.threads, max_new_tokens=args.tokens),
            samples,
            chunks,
        )
        jobs = whole_job(video, ct2, args.tokens, args.threads)
        for job in jobs:
            if "error" in job:
                sys.exit(str(job["error"]))
    print(f"machine: {_cpu()}, {args.threads} threads, {platform.platform()}")
    print(
        f"model: Whisper {args.layers}+{args.layers} layers x {args.width} (random weights), "
        f"{args.tokens} tokens per chunk; audio: {seconds:.1f} s of espeak-ng Swedish in {len(chunks)} chunks"
    )
    print(f"transformers (float32): {transformers_s:6.2f} s   RTF {transformers_s / seconds:.3f}")
    print(f"ctranslate2  (int8):    {ct2_s:6.2f} s   RTF {ct2_s / seconds:.3f}")
    print(f"ctranslate2 is {transformers_s / ct2_s:.1f}x faster than transformers")
    for name, job in zip(("first job (cold yt-dlp)", "second job"), jobs, strict=True):
        other = job["wall_s"] - job["recognise_s"]
        print(
            f"{name}: {job['wall_s']:.2f} s wall, recognition {job['recognise_s']:.2f} s, "
            f"fetch+decode {job['fetch_s']:.2f} s, speech detection {job['detect_s']:.2f} s; "
            f"not recognition: {other:.2f} s = {other / job['wall_s']:.1%}"
        )



def _cpu() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return f"{platform.machine()} ({line.split(':', 1)[1].strip()})"
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()

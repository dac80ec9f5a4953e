"""ffprobe and ffmpeg: is there an audio track, and the audio as 16 kHz mono float32 samples.

ffmpeg writes raw samples to a pipe, so decoding leaves no file behind.
"""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import VideoRejected

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Probe:
    has_audio: bool
    duration: float | None


def probe(path: Path) -> Probe:
    command = ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type:format=duration", "-of", "json", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        logger.info("ffprobe failed on %s: %s", path.name, done.stderr.strip()[-300:])
        raise VideoRejected("That file is not audio or video I can read.")
    data = json.loads(done.stdout or "{}")
    has_audio = any(stream.get("codec_type") == "audio" for stream in data.get("streams", []))
    duration = data.get("format", {}).get("duration")
    return Probe(has_audio=has_audio, duration=float(duration) if duration not in (None, "N/A") else None)


def decode(path: Path, *, max_seconds: float) -> np.ndarray:
    """Mono 16 kHz float32 samples of at most ``max_seconds`` (ffmpeg stops reading there)."""
    command = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-i",
        str(path),
        "-vn",
        "-t",
        str(max_seconds),
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-f",
        "f32le",
        "pipe:1",
    ]
    done = subprocess.run(command, capture_output=True, timeout=max(120.0, max_seconds), check=False)
    if done.returncode != 0:
        logger.info("ffmpeg failed on %s: %s", path.name, done.stderr.decode(errors="replace")[-300:])
        raise VideoRejected("I could not decode the sound of that video.")
    return np.frombuffer(done.stdout, dtype=np.float32).copy()

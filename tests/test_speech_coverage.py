"""Nothing heard is silently lost: on the real whisper-base, speech the detector found reaches the answer,
and what the model could not make out is named in it.

Whisper's no-speech rule threw away whole 30 s chunks of real speech that starts at 0.0 s (the
newsreel below: its first chunk, 0:00-0:29), and answered short clips with "I heard no speech".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from common.queues import JobQueue
from tests.swedish_narration import NEWSREEL, speak_narration
from tests.test_speech import console_session, documents, install_runtime, srt_cues
from workers.speech import audio
from workers.speech.backends import ct2
from workers.speech.backends.decoding import Decoded
from workers.speech.chunks import speech_chunks

pytest_plugins = ["tests.speech_fixtures"]

FIRST_CUE_WITHIN_S = 2.0


def whisper_called_silence(decoded: Decoded) -> bool:
    """Whisper's rule, which the job no longer applies: likely no speech, and unsure of its text."""
    return decoded.no_speech_prob > 0.6 and decoded.avg_logprob < -1.0


@pytest.fixture
def first_decodings(monkeypatch: pytest.MonkeyPatch) -> list[Decoded]:
    """Each chunk's first decoding, as the recogniser settles it (a spy: the real function runs)."""
    seen: list[Decoded] = []
    real_settle = ct2.settle

    def spy(first: Decoded, *args: object) -> Decoded:
        seen.append(first)
        return real_settle(first, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ct2, "settle", spy)
    return seen


@pytest.mark.slow
def test_a_first_chunk_whisper_calls_silence_is_transcribed_from_the_first_second(
    connection, media_server, media_dir: Path, real_whisper: Path, first_decodings: list[Decoded], tmp_path: Path
):
    """Nine newsreel sentences from 0.0 s: coverage at least 95 %, the first cue within 2 s of the speech."""
    path = speak_narration(NEWSREEL[18:27], media_dir / "newsreel.wav", pause_s=0.5, rate=160)
    install_runtime(real_whisper, "ctranslate2", tmp_path / "models")
    out = console_session(connection, f"/transcribe {media_server}/{path.name}\n", tmp_path)

    samples = audio.decode(path, max_seconds=600)
    first_speech = speech_chunks(samples)[0].start
    assert first_speech < 0.1, "the speech starts at once"
    assert any(whisper_called_silence(decoded) for decoded in first_decodings), [
        (round(d.no_speech_prob, 2), round(d.avg_logprob, 2)) for d in first_decodings
    ]
    job_id = out.split("Queued as job ")[1].split(":")[0]
    job = JobQueue(connection).fetch(job_id)
    assert job is not None
    result = job.return_value()
    assert result["coverage"] >= 0.95, result
    assert "could not make out" not in out
    cues = srt_cues(documents(connection)["srt"].decode())
    assert cues[0].start <= first_speech + FIRST_CUE_WITHIN_S, cues[0]
    assert "kungen" in out.lower(), "the first sentence (Kungen besökte ...) is in the transcript"

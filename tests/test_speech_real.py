"""The whole speech job on a real multilingual Whisper: OpenAI's whisper-base (CTranslate2, from PyPI).

espeak-ng Swedish narration (12 sentences, about 65 s) in a video served from 127.0.0.1, fetched by
yt-dlp, recognised by a real RQ worker with the project's default decoding (batched beam search),
answered through the console bot. The bounds were measured on this project's machine and are
stated beside each assertion; espeak-ng's Swedish is robotic, so whisper-base gets many words
wrong, but for real.
"""

from __future__ import annotations

from pathlib import Path

import jiwer
import pytest

from tests.swedish_narration import ENGLISH_FUNCTION_WORDS, SWEDISH_FUNCTION_WORDS, normalise
from tests.test_speech import console_session, documents, install_runtime, srt_cues
from workers.speech.subtitles import share_within_rules

pytest_plugins = ["tests.speech_fixtures"]

pytestmark = pytest.mark.slow

# Measured on this project's 2-core machine: CER 0.249 (WER 0.62) on these 12 sentences, whisper-base
# int8, beam 5, batch 8. faster-whisper's own batched pipeline gives about 0.3 on such audio; the
# bound leaves room for differences between CPUs' int8 kernels, not for a regression.
MAX_CER = 0.32


def words_of(text: str) -> list[str]:
    return normalise(text).split()


@pytest.fixture
def real_runtime(real_whisper: Path, tmp_path: Path):
    return install_runtime(real_whisper, "ctranslate2", tmp_path / "models", batch_size=8)


def test_transcribe_gives_swedish_text_within_the_measured_error(
    connection, media_server, narration, real_runtime, tmp_path
):
    """/transcribe: Swedish text (CER bound above), subtitles within broadcast rules, .vtt beside .srt."""
    name, reference = narration
    out = console_session(connection, f"/transcribe {media_server}/{name}\n", tmp_path, wait_s=240)
    files = documents(connection)
    transcript = files["txt"].decode()
    error = jiwer.cer(normalise(reference), normalise(transcript))
    assert error < MAX_CER, f"CER {error:.3f}: {transcript}"
    assert "Transcript (" in out
    cues = srt_cues(files["srt"].decode())
    assert share_within_rules(cues) >= 0.98, cues
    assert files["vtt"].decode().startswith("WEBVTT")


def test_translate_gives_english(connection, media_server, narration, real_runtime, tmp_path):
    """/translate: the words are English (its function words common, Swedish ones nearly absent)."""
    name, _ = narration
    out = console_session(connection, f"/translate {media_server}/{name}\n", tmp_path, wait_s=240)
    words = words_of(documents(connection)["txt"].decode())
    assert len(words) > 60, words
    english = sum(word in ENGLISH_FUNCTION_WORDS for word in words) / len(words)
    swedish = sum(word in SWEDISH_FUNCTION_WORDS for word in words) / len(words)
    # Measured: 20-32 % English function words and 5-8 % Swedish ones over runs with 1 and 2 threads
    # (where the model gives up on a robotic phrase it writes the Swedish). Running English text has
    # 40-50 % and no Swedish ones; whisper-base's Swedish transcript of the same video 0 % and 40 %.
    assert english > 0.15 and swedish < 0.12, (english, swedish, words)
    assert "Translation (" in out


def test_lang_auto_names_the_language_heard(connection, media_server, english_speech, real_runtime, tmp_path):
    """lang=auto on English speech: detected over the speech and named in the answer."""
    out = console_session(connection, f"/transcribe {media_server}/english.wav lang=auto\n", tmp_path, wait_s=240)
    assert "heard: English (en)" in out, out
    assert "Transcript (" in out


def test_lang_auto_refuses_when_the_model_is_unsure(connection, media_server, narration, real_runtime, tmp_path):
    """espeak-ng's robotic Swedish: whisper-base hears Latin at 43-74 % in its windows (measured), so
    lang=auto asks for the language instead of answering with a Latin transcript."""
    name, _ = narration
    out = console_session(connection, f"/transcribe {media_server}/{name} lang=auto\n", tmp_path, wait_s=240)
    assert "I could not tell which language that is" in out and "lang=xx" in out, out
    assert not connection.keys("artifact:*")

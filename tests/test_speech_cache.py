"""workers/speech/cache.py on a real Redis: transcripts and heard languages, keyed by what changes them.

The end-to-end check that a new model version misses the old one's transcripts is in
test_speech_models.py; these pin the keys, the round trip, the TTL and what a corrupt entry does.
"""

from __future__ import annotations

import logging

import pytest

from workers.speech import cache
from workers.speech.backends import Segment, Word
from workers.speech.coverage import Coverage

SEGMENTS = [
    Segment(0.0, 1.5, "Hej och välkommen.", (Word(0.0, 0.4, " Hej", 0.9), Word(0.5, 0.7, " och", 0.25))),
    Segment(1.5, 3.25, "Idag pratar vi om tåg."),
]
TRANSCRIPT = cache.Transcript(SEGMENTS, Coverage(40.0, 31.5, ((0.0, 8.5),)))


def test_the_keys_name_source_task_language_and_model():
    assert (
        cache.cache_key("youtube:abc", "transcribe", "sv", "asr v1") == "speech:result:youtube:abc:transcribe:sv:asr v1"
    )
    assert cache.language_key("youtube:abc", "asr v1") == "speech:language:youtube:abc:asr v1"


def test_segments_and_coverage_come_back_as_they_were_stored_with_their_ttl(connection):
    """A cached answer names what it could not make out, as the first one did."""
    key = cache.cache_key("youtube:abc", "transcribe", "sv", "asr v1")
    assert cache.load(connection, key) is None
    cache.store(connection, key, TRANSCRIPT, ttl_s=3600)
    assert cache.load(connection, key) == TRANSCRIPT
    assert 3590 <= connection.ttl(key) <= 3600


OLD_FORMAT = b'[{"start": 0.0, "end": 1.0, "text": "Hej."}]'  # segments without coverage, as before


@pytest.mark.parametrize(
    "stored",
    [b"not json", b'{"start": 1}', b'[{"start": 0}]', b"[1, 2]", OLD_FORMAT, b'{"segments": [], "coverage": {}}'],
)
def test_a_corrupt_transcript_is_dropped_and_reported(connection, caplog, stored):
    key = cache.cache_key("youtube:abc", "transcribe", "sv", "asr v1")
    connection.set(key, stored)
    with caplog.at_level(logging.WARNING, logger="workers.speech.cache"):
        assert cache.load(connection, key) is None
    assert connection.exists(key) == 0, "deleted, so the next job recognises again"
    assert caplog.messages == [f"dropping a corrupt cache entry {key}"]


def test_the_language_heard_comes_back_with_its_probability_and_ttl(connection):
    key = cache.language_key("youtube:abc", "asr v1")
    assert cache.load_language(connection, key) is None
    cache.store_language(connection, key, "fi", 0.875, ttl_s=600)
    assert cache.load_language(connection, key) == ("fi", 0.875)
    assert 590 <= connection.ttl(key) <= 600


@pytest.mark.parametrize(
    "stored", [b"nope", b'{"language": "sv"}', b'{"probability": 0.5}', b'{"language": "sv", "probability": "high"}']
)
def test_a_corrupt_language_entry_is_dropped(connection, stored):
    key = cache.language_key("youtube:abc", "asr v1")
    connection.set(key, stored)
    assert cache.load_language(connection, key) is None
    assert connection.exists(key) == 0

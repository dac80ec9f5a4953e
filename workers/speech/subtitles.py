"""Segments as plain text, SubRip (.srt), WebVTT (.vtt) and JSON.

Both subtitle formats write the same cues (:func:`build_cues`: broadcast rules, cut with word times);
the rules themselves are in :mod:`workers.speech.cue_rules`, re-exported here with the builder so that
callers need one import.
"""

from __future__ import annotations

import json

from workers.speech.backends import Segment
from workers.speech.cue_rules import Cue, cue_violations, share_within_rules
from workers.speech.cues import build_cues

__all__ = [
    "Cue",
    "build_cues",
    "cue_violations",
    "share_within_rules",
    "srt_from_cues",
    "srt_time",
    "to_json",
    "to_srt",
    "to_text",
    "to_vtt",
    "vtt_from_cues",
    "vtt_time",
]


def to_text(segments: list[Segment]) -> str:
    return "\n".join(segment.text for segment in segments if segment.text) + "\n"


def to_json(segments: list[Segment], language: str, task: str) -> str:
    """Whisper's own output form (as openai-whisper, whisper-asr-webservice and WhisperX write it):
    the text, then segments with their words' start, end and probability, in seconds."""
    document = {
        "text": " ".join(segment.text.strip() for segment in segments if segment.text.strip()),
        "language": language,
        "task": task,
        "segments": [
            {
                "id": number,
                "start": round(segment.start, 3),
                "end": round(segment.end, 3),
                "text": segment.text,
                "words": [
                    {"word": word.text, "start": round(word.start, 3), "end": round(word.end, 3),
                     "probability": round(word.probability, 4)}
                    for word in segment.words
                ],
            }
            for number, segment in enumerate(segments)
        ],
    }  # fmt: skip
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def to_srt(segments: list[Segment]) -> str:
    return srt_from_cues(build_cues(segments))


def to_vtt(segments: list[Segment]) -> str:
    return vtt_from_cues(build_cues(segments))


def srt_from_cues(cues: list[Cue]) -> str:
    """Numbered blocks separated by one blank line; cue lines never blank (a blank line ends a block)."""
    return "\n".join(
        f"{number}\n{srt_time(cue.start)} --> {srt_time(cue.end)}\n" + "".join(f"{line}\n" for line in cue.lines)
        for number, cue in enumerate(cues, start=1)
    )


def vtt_from_cues(cues: list[Cue]) -> str:
    """The WEBVTT header, then one block per cue; no numbers (cue identifiers are optional)."""
    blocks = [
        f"{vtt_time(cue.start)} --> {vtt_time(cue.end)}\n" + "".join(f"{_vtt_escape(line)}\n" for line in cue.lines)
        for cue in cues
    ]
    return "\n".join(["WEBVTT\n", *blocks])


def srt_time(seconds: float) -> str:
    return _clock(seconds, ",")


def vtt_time(seconds: float) -> str:
    return _clock(seconds, ".")


def _clock(seconds: float, decimal_mark: str) -> str:
    milliseconds = round(max(seconds, 0.0) * 1000)
    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    secs, milliseconds = divmod(milliseconds, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_mark}{milliseconds:03d}"


def _vtt_escape(line: str) -> str:
    """WebVTT reads & and < as markup, and a "-->" in the text as a timing line; escaped, they show as typed."""
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

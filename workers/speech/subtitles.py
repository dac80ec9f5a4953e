"""Segments as plain text and as SubRip (.srt): numbered cues, HH:MM:SS,mmm, never going backwards."""

from __future__ import annotations

from workers.speech.backends import Segment

MIN_CUE_S = 0.2


def to_text(segments: list[Segment]) -> str:
    return "\n".join(segment.text for segment in segments if segment.text) + "\n"


def to_srt(segments: list[Segment]) -> str:
    cues: list[str] = []
    previous_end = 0.0
    for segment in segments:
        if not segment.text:
            continue
        # Model timestamps can overlap or run backwards; players reject such files.
        start = max(segment.start, previous_end)
        end = max(segment.end, start + MIN_CUE_S)
        cues.append(f"{len(cues) + 1}\n{srt_time(start)} --> {srt_time(end)}\n{_one_block(segment.text)}\n")
        previous_end = end
    return "\n".join(cues)


def srt_time(seconds: float) -> str:
    milliseconds = round(max(seconds, 0.0) * 1000)
    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    secs, milliseconds = divmod(milliseconds, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{milliseconds:03d}"


def _one_block(text: str) -> str:
    """A blank line ends a cue, so the text may have none."""
    return "\n".join(line for line in text.strip().splitlines() if line.strip()) or "…"

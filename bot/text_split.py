"""A long text cut into pieces within a platform's limit, at the most natural place near it."""

from __future__ import annotations

import re

SENTENCE_END = r"[.!?…]['\")\]]*\s"


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, cut after a paragraph, line, sentence or word if one is near."""
    pieces: list[str] = []
    text = text.strip()
    while len(text) > limit:
        window = text[: limit + 1]  # every boundary ends in whitespace, which the cut drops
        cut = 0
        # A paragraph, line or sentence end in the second half of the window; else the last space.
        half = limit // 2
        for pattern, earliest in ((r"\n\s*\n", half), (r"\n", half), (SENTENCE_END, half), (r"\s", 1)):
            ends = [m.end() for m in re.finditer(pattern, window)]
            if ends and ends[-1] >= earliest:
                cut = ends[-1]
                break
        cut = cut or limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*pieces, text] if text else pieces

"""A long text cut into pieces within a platform's limit, at the most natural place near it.

Lengths are counted in UTF-16 code units, as Telegram counts them (an emoji outside the Basic
Multilingual Plane is two): a piece of 4096 Python characters with emoji in it is refused there.
Discord's limit is in characters, so this is a little stricter than it needs to be there.
"""

from __future__ import annotations

import re

SENTENCE_END = r"[.!?…]['\")\]]*\s"


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _characters_within(text: str, limit: int) -> int:
    """How many of ``text``'s first characters take at most ``limit`` UTF-16 code units."""
    units = 0
    for index, character in enumerate(text):
        units += 2 if ord(character) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-16 units (for texts that are short but must never be refused)."""
    return text[: _characters_within(text, limit)]


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` UTF-16 units, cut after a paragraph, line, sentence or word if one is near."""
    pieces: list[str] = []
    text = text.strip()
    while (fits := _characters_within(text, limit)) < len(text):
        window = text[: fits + 1]  # every boundary ends in whitespace, which the cut drops
        cut = 0
        # A paragraph, line or sentence end in the second half of the window; else the last space.
        half = fits // 2
        for pattern, earliest in ((r"\n\s*\n", half), (r"\n", half), (SENTENCE_END, half), (r"\s", 1)):
            ends = [m.end() for m in re.finditer(pattern, window)]
            if ends and ends[-1] >= earliest:
                cut = ends[-1]
                break
        cut = cut or fits or 1  # a limit below one emoji still moves on
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*pieces, text] if text else pieces

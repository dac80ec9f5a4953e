"""What both backends share: the decoding knobs, the fallback for loops, words into segments."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from common.settings import SpeechSettings
from workers.speech import loops
from workers.speech.backends import Segment, Word

SENTENCE_END = (".", "!", "?", "…", "。", "！", "？")
PAUSE_S = 1.0  # a pause this long between two words starts a new segment
MAX_WORD_S = 1.4  # no word lasts longer than this, nor twice the median word
# No reading of a piece needs more tokens than this per second of it (fast speech is 5-8; espeak-ng
# Swedish about 5): a decoder that runs on past it is looping or writing noise, so a short piece's
# search stops early instead of at the model's limit of 448.
TOKENS_PER_SECOND = 15


@dataclass(frozen=True)
class DecodeOptions:
    """All knobs of recognition (ASR_BEAM_SIZE and ASR_BATCH_SIZE come in here)."""

    beam_size: int = 5
    batch_size: int = 8  # pieces decoded together (recognise.py groups them)
    # Every beam search divides the scores of the tokens it has already written by this (CTRL's
    # penalty). Measured on whisper-base and 6 minutes of espeak-ng Swedish: with 1.2, CER 0.345 ->
    # 0.248, fewer tokens, and no window loops (without it, 1 of 12 loops when transcribing and 5
    # of 12 when translating, each costing a decoding to the token limit and the fallback below).
    repetition_penalty: float = 1.2
    # A piece that loops all the same is sampled at these temperatures, in order; the seed makes
    # the samples, and so the cached results, the same on every run.
    fallback_temperatures: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8, 1.0)
    best_of: int = 5  # samples per temperature, the likeliest taken (ctranslate2; transformers samples one)
    seed: int = 0
    trim_loops: bool = True  # a loop that survives the fallback is said once
    max_new_tokens: int | None = None  # a cap below token_budget's; None: that budget (and the model's limit)

    @classmethod
    def from_settings(cls, speech: SpeechSettings, device: str) -> DecodeOptions:
        """ASR_BEAM_SIZE, ASR_BATCH_SIZE (or the device's default) and ASR_REPETITION_PENALTY."""
        return cls(beam_size=speech.ASR_BEAM_SIZE, batch_size=speech.batch_size_for(device),
                   repetition_penalty=speech.ASR_REPETITION_PENALTY)  # fmt: skip


def token_budget(seconds: float, options: DecodeOptions) -> int:
    """New tokens allowed for a piece (or a batch, by its longest piece) of ``seconds``."""
    budget = int(TOKENS_PER_SECOND * seconds) + 16
    return min(budget, options.max_new_tokens) if options.max_new_tokens is not None else budget


@dataclass(frozen=True)
class Decoded:
    """One piece's decoding: text tokens (no special tokens) and the scores the checks need."""

    tokens: list[int]
    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    looping: bool = False  # still a loop after every fallback: the caller trims it


def settle(first: Decoded, resample: Callable[[float], Decoded], options: DecodeOptions) -> Decoded:
    """``first``, or a sample that replaces it when it loops.

    A loop is decoded again at each temperature until one does not loop. If all loop, the beam
    search result stays (its text before the loop is the likeliest), marked for trimming.

    Whisper's no-speech rule (skip a window whose no-speech probability is above 0.6 while its
    text's average log probability is below -1) is not applied: it was made for 30 s windows read
    one after another with no speech detector, and here the detector has already heard speech in
    every piece. Measured with whisper-base on 100 chunks of espeak-ng Swedish (two corpora, four
    speaking rates) it threw away 7 chunks of real speech, every one the first chunk of its audio,
    and not one of 20 chunks of reversed speech. What the model could not make out is found per
    word instead, by the words' probabilities, and told to the user (workers/speech/coverage.py).
    """
    if not loops.is_looping(first.text):
        return first
    for temperature in options.fallback_temperatures:
        again = resample(temperature)
        if again.text.strip() and not loops.is_looping(again.text):
            return again
    return replace(first, looping=options.trim_loops)


def tidy_words(words: list[Word]) -> list[Word]:
    """Words with no text dropped, and over-long words shortened.

    The alignment gives the pause before a sentence (or after it) to its first (or last) word;
    such a word ends up seconds long, and its cue with it. As Whisper does, a word is cut to
    twice the median word's length, at the side that borders the pause.
    """
    words = [word for word in words if word.text.strip()]
    lengths = [word.end - word.start for word in words if word.end > word.start]
    longest = min(MAX_WORD_S, 2 * statistics.median(lengths)) if lengths else MAX_WORD_S
    tidy: list[Word] = []
    for index, word in enumerate(words):
        if word.end - word.start > longest:
            after_pause = index == 0 or tidy[-1].text.rstrip().endswith(SENTENCE_END)
            word = replace(word, start=word.end - longest) if after_pause else replace(word, end=word.start + longest)
        tidy.append(word)
    return tidy


def segments_from_words(words: Sequence[Word]) -> list[Segment]:
    """Sentences as segments: a segment ends at a sentence's last word or before a long pause."""
    segments: list[Segment] = []
    current: list[Word] = []
    for index, word in enumerate(words):
        current.append(word)
        following = words[index + 1] if index + 1 < len(words) else None
        if following is None or word.text.rstrip().endswith(SENTENCE_END) or following.start - word.end >= PAUSE_S:
            text = "".join(w.text for w in current).strip()
            segments.append(Segment(current[0].start, current[-1].end, text, tuple(current)))
            current = []
    return segments


def trim_segment_text(segments: list[Segment]) -> list[Segment]:
    """A loop cut from segments without words (transformers): over all their words, kept in order."""
    items = [(index, word) for index, segment in enumerate(segments) for word in segment.text.split()]
    kept = loops.trim_repetition(items, key=lambda item: item[1])
    texts: dict[int, list[str]] = {}
    for index, word in kept:
        texts.setdefault(index, []).append(word)
    return [replace(segments[index], text=" ".join(words)) for index, words in sorted(texts.items())]

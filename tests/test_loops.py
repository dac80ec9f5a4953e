"""The pure parts of recognition: loop checks, the fallback order, words into segments, chunk times,
and the lang=auto decision. No model, no audio."""

from __future__ import annotations

import pytest

from common.errors import VideoRejected
from workers.speech import language, loops
from workers.speech.backends import Segment, Word
from workers.speech.backends.decoding import (
    Decoded,
    DecodeOptions,
    segments_from_words,
    settle,
    tidy_words,
    token_budget,
    trim_segment_text,
)
from workers.speech.chunks import Chunk

SENTENCE = "Stockholm är Sveriges huvudstad och ligger där Mälaren möter Östersjön"


def test_repetitive_text_compresses_far_better_than_speech():
    assert loops.compression_ratio(SENTENCE) < 1.6
    assert loops.compression_ratio(" ".join(["tack så mycket"] * 12)) > loops.COMPRESSION_RATIO_LIMIT
    assert loops.compression_ratio("") == 0.0


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("a b c d e a b c d e a b c d e", (0, 5, 3)),  # five words, three times
        ("x a b c d e a b c d e", None),  # twice is not a loop
        ("ja " * 15, (0, 1, 15)),  # one word fifteen times
        ("ja " * 14, None),
        ("hon sa " * 8, (0, 2, 8)),  # a period of 2, which a 5-word window alone misses
        ("nej nej nej, sa hon", None),
        (f"{SENTENCE}. {SENTENCE}. {SENTENCE}.", (0, 10, 3)),  # a sentence said three times
        ("Ett. Två, ETT två ett TVÅ ett två ett två ett två ett två ett två", (0, 2, 8)),  # case and punctuation
    ],
)
def test_a_loop_is_a_run_of_words_said_three_times_covering_fifteen(text, found):
    assert loops.find_repetition([loops.normal_word(w) for w in text.split()]) == found
    assert loops.has_repetition(text) is (found is not None)


def test_token_ids_find_a_loop_inside_one_long_word():
    tokens = [50, 60, *[7, 8] * 10, 90]
    assert loops.find_repetition(tokens) == (2, 2, 10)


def test_trimming_keeps_one_occurrence_and_what_follows():
    text = "det var en gång en katt " + "som sa mjau till mig " * 4 + "och sedan sov den"
    kept = " ".join(loops.trim_repetition(text.split()))
    assert kept == "det var en gång en katt som sa mjau till mig och sedan sov den"
    assert not loops.has_repetition(kept)
    words = [Word(i, i + 1, w) for i, w in enumerate(("hej " + "ja " * 20 + "då").split())]
    assert [w.text for w in loops.trim_repetition(words, key=lambda w: w.text)] == ["hej", "ja", "då"]
    assert loops.trim_repetition(SENTENCE.split()) == SENTENCE.split()


def test_a_loop_inside_one_word_is_cut_to_one_occurrence():
    assert loops.trim_repeated_characters("sorgfjoltongtongtongtongtongtongt.") == "sorgfjoltongt."
    assert loops.trim_repeated_characters("hahaha, kaffe") == "hahaha, kaffe"


def test_a_loop_over_segments_without_words_is_cut_across_them():
    """The transformers backend gives no words: the loop is found in the segments' text, in order."""
    segments = [Segment(0, 2, "Hej och välkommen."), *(Segment(2 + i, 3 + i, "vi ses snart igen") for i in range(5))]
    trimmed = trim_segment_text(segments)
    assert [(s.start, s.text) for s in trimmed] == [(0, "Hej och välkommen."), (2, "vi ses snart igen")]


def _decoded(text: str, no_speech: float = 0.0, logprob: float = -0.3) -> Decoded:
    return Decoded(tokens=[1], text=text, avg_logprob=logprob, no_speech_prob=no_speech)


LOOP = " ".join(["om och om igen"] * 6)


def test_a_looping_piece_is_sampled_at_rising_temperatures_until_one_does_not_loop():
    asked: list[float] = []
    answers = {0.2: _decoded(LOOP), 0.4: _decoded(""), 0.6: _decoded("om och om igen, sedan tyst")}

    def resample(temperature: float) -> Decoded:
        asked.append(temperature)
        return answers[temperature]

    chosen = settle(_decoded(LOOP), resample, DecodeOptions())
    assert chosen.text == "om och om igen, sedan tyst" and not chosen.looping
    assert asked == [0.2, 0.4, 0.6], "an empty sample is no way out either"


def test_when_every_sample_loops_the_beam_result_stays_marked_for_trimming():
    first = _decoded(LOOP)
    chosen = settle(first, lambda temperature: _decoded(LOOP), DecodeOptions())
    assert chosen.text == LOOP and chosen.looping
    assert not settle(first, lambda temperature: _decoded(LOOP), DecodeOptions(trim_loops=False)).looping


def test_good_text_is_not_decoded_again_and_a_likely_no_speech_drops_nothing():
    """The detector heard speech in every piece: Whisper's no-speech score alone never throws a piece away."""

    def never(temperature: float) -> Decoded:
        raise AssertionError("no fallback expected")

    assert settle(_decoded(SENTENCE), never, DecodeOptions()) == _decoded(SENTENCE)
    unsure = _decoded(SENTENCE, no_speech=0.67, logprob=-1.04)  # a real chunk of the newsreel that was dropped
    assert settle(unsure, never, DecodeOptions()) == unsure


def test_a_short_piece_may_not_decode_for_ever():
    assert token_budget(5.0, DecodeOptions()) == 91
    assert token_budget(30.0, DecodeOptions()) > 448 - 4, "a full window: the model's own limit decides"
    assert token_budget(30.0, DecodeOptions(max_new_tokens=100)) == 100


def test_words_become_sentences_and_a_pause_starts_a_new_segment():
    words = [
        Word(0.0, 0.4, " Hej"),
        Word(0.4, 0.9, " där."),
        Word(1.0, 1.3, " Nu"),
        Word(1.3, 1.6, " går"),
        Word(3.0, 3.5, " vi"),  # 1.4 s of pause before it
        Word(3.5, 3.9, " hem"),
    ]
    segments = segments_from_words(words)
    assert [(s.start, s.end, s.text) for s in segments] == [
        (0.0, 0.9, "Hej där."),
        (1.0, 1.6, "Nu går"),
        (3.0, 3.9, "vi hem"),
    ]
    assert segments[0].words == tuple(words[:2])


def test_a_word_stretched_over_a_pause_is_cut_at_the_pause_side():
    middle = [Word(3.0 + 0.3 * i, 3.3 + 0.3 * i, w) for i, w in enumerate((" kom", " hon", " hem", " till", " oss."))]
    words = [Word(0.0, 3.0, " Sedan"), *middle, Word(4.5, 7.0, " Ja"), Word(7.0, 9.0, " visst")]
    tidy = tidy_words(words)  # the median word lasts 0.3 s: no word may last more than 0.6 s
    assert (tidy[0].start, tidy[0].end) == pytest.approx((2.4, 3.0)), "the pause was before it"
    assert (tidy[6].start, tidy[6].end) == pytest.approx((6.4, 7.0)), "it follows a sentence's end"
    assert (tidy[7].start, tidy[7].end) == pytest.approx((7.0, 7.6)), "mid-sentence: the pause is after it"
    assert tidy[1:6] == middle
    assert tidy_words([Word(0.0, 0.0, " "), Word(0.0, 0.5, " ok")]) == [Word(0.0, 0.5, " ok")]


def test_times_in_a_chunk_of_joined_regions_map_back_to_the_audio():
    chunk = Chunk(((10.0, 12.0), (20.0, 25.0)))
    assert (chunk.start, chunk.end, chunk.length) == (10.0, 25.0, 7.0)
    assert chunk.to_audio_time(1.5) == 11.5
    assert chunk.to_audio_time(2.0) == 20.0 and chunk.to_audio_time(2.0, end=True) == 12.0
    assert chunk.to_audio_time(6.0) == 24.0
    assert chunk.to_audio_time(9.0) == 25.0, "past the end: the end"
    assert chunk.span_to_audio(1.8, 2.6) == (20.0, 20.6), "a word whose middle is in the second region stays there"
    assert chunk.span_to_audio(1.2, 2.2) == (11.2, 12.0)


def test_language_windows_are_spread_from_the_first_chunk_to_the_last():
    assert language.spread(list(range(12))) == [0, 3, 6, 8, 11]
    assert language.spread([1, 2]) == [1, 2]
    assert language.spread(list(range(9)), 1) == [0]


def test_language_probabilities_are_averaged_by_how_much_speech_each_window_holds():
    mean = language.average([{"sv": 0.9, "nn": 0.1}, {"sv": 0.2, "nn": 0.8}], [30.0, 10.0])
    assert mean == pytest.approx({"sv": 0.725, "nn": 0.275})


def test_a_clear_language_is_heard_and_an_unclear_one_refused_naming_the_two_likeliest():
    heard = language.decide({"sv": 0.93, "no": 0.05})
    assert heard == language.Heard("sv", 0.93, runner_up="no") and heard.describe() == "heard: Swedish (sv), 93%"
    with pytest.raises(VideoRejected) as refused:
        language.decide({"nn": 0.31, "sv": 0.45, "da": 0.24})
    assert str(refused.value) == (
        "I could not tell which language that is (maybe Swedish or Norwegian Nynorsk); send it again with lang=xx."
    )
    assert refused.value.buttons == [["Transcribe as Swedish", "transcribe:sv"],
                                     ["Transcribe as Norwegian Nynorsk", "transcribe:nn"]]
    with pytest.raises(VideoRejected, match="could not tell"):
        language.decide({})


def test_the_language_names_are_whispers_codes():
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    from workers.speech.languages import NAMES

    assert set(NAMES) == set(_LANGUAGE_CODES)

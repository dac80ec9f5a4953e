"""workers/speech/coverage.py: how much of the detector's speech the transcript's words make out."""

from __future__ import annotations

import pytest

from workers.speech import coverage
from workers.speech.backends import Segment, Word
from workers.speech.coverage import Coverage


def said(start: float, words: int, probability: float = 0.9, length: float = 0.4) -> Segment:
    """``words`` words of ``length`` s one after another from ``start`` with 0.1 s between them."""
    timed = tuple(
        Word(start + i * (length + 0.1), start + i * (length + 0.1) + length, f" ord{i}", probability)
        for i in range(words)
    )
    return Segment(timed[0].start, timed[-1].end, "".join(w.text for w in timed).strip(), timed)


def test_speech_said_word_after_word_is_covered_whole():
    """Pauses between words and the detector's padding at both ends count as covered."""
    found = coverage.measure([(0.0, 10.2)], [said(0.4, 19)])  # words from 0.4 to 9.8 s, then the pad
    assert found == Coverage(10.2, 10.2, ())
    assert coverage.notice(found) is None


def test_unsure_words_between_sure_ones_are_bridged():
    """Real speech has a fifth to a third of its words unsure, scattered: they do not make a hole."""
    words = list(said(0.4, 19).words)
    words[2::3] = [Word(w.start, w.end, w.text, 0.1) for w in words[2::3]]
    found = coverage.measure([(0.0, 10.2)], [Segment(0.4, 9.8, "x", tuple(words))])
    assert found.share == 1.0


def test_a_stretch_of_unsure_words_is_named_with_its_times():
    sure, unsure, again = said(0.0, 10), said(5.0, 40, probability=0.1), said(25.0, 10)
    found = coverage.measure([(0.0, 30.0)], [sure, unsure, again])
    (missed,) = found.missed
    assert missed == pytest.approx((5.3, 24.6))  # the unsure stretch less the padding around the sure words
    assert found.share == pytest.approx(1 - 19.3 / 30)
    assert coverage.notice(found) == "I could not make out 0:05-0:25 (36% of the speech made out)."


def test_speech_without_any_words_is_missed_and_pauses_between_regions_are_not_speech():
    regions = [(0.0, 31.0), (31.5, 40.0), (70.0, 80.0)]  # half a minute of silence between the last two
    found = coverage.measure(regions, [said(31.5, 17)])
    assert found.speech_s == pytest.approx(49.5)
    assert found.missed == ((0.0, 31.0), (70.0, 80.0))
    assert coverage.notice(found) == "I could not make out 0:00-0:31 and 1:10-1:20 (17% of the speech made out)."


def test_segments_without_words_count_whole_and_empty_text_counts_nothing():
    """Translated text and the transformers backend have no words: the segment is what was made out."""
    found = coverage.measure([(0.0, 20.0)], [Segment(0.0, 12.0, "Good evening."), Segment(12.0, 20.0, "  ")])
    assert found.covered_s == pytest.approx(12.4)
    assert found.missed == ((12.4, 20.0),)


def test_a_short_miss_is_not_named_and_ninety_percent_says_nothing():
    found = coverage.measure([(0.0, 11.4)], [said(0.0, 10), said(6.5, 10)])  # 1.6 s between 4.9 and 6.5
    assert found.share == pytest.approx(1 - 0.8 / 11.4) and found.missed == ()
    assert coverage.measure([(0.0, 11.4)], [said(0.0, 10), said(6.3, 10)]).share == 1.0, "1.4 s is bridged"
    small = Coverage(30.0, 27.0, ((10.0, 13.0),))
    assert coverage.notice(small) is None, "90 % made out is enough"
    assert coverage.notice(Coverage(30.0, 26.0, ((10.0, 14.0),))) is not None


def test_many_stretches_name_the_longest_five_in_order():
    spans = [(10.0 * i, 10.0 * i + 1 + i % 3) for i in range(8)]  # 1, 2, 3, 1, 2, 3, 1, 2 s long
    assert coverage.listing(spans) == "0:10-0:12, 0:20-0:23, 0:40-0:42, 0:50-0:53, 1:10-1:12 and 3 shorter stretches"


@pytest.mark.parametrize(("seconds", "shown"), [(0, "0:00"), (31.4, "0:31"), (59.6, "1:00"), (3725, "1:02:05")])
def test_times_are_named_as_a_clock(seconds, shown):
    assert coverage.clock(seconds) == shown


def test_coverage_survives_a_round_trip_as_plain_data():
    found = Coverage(49.5, 18.9, ((0.0, 31.1), (71.0, 80.0)))
    assert Coverage.from_dict(found.to_dict()) == found

"""Subtitle cues under broadcast rules (2 lines of 42, 1-7 s, 20 characters per second, no overlap),
cut with word timestamps or by text, and written as SubRip and WebVTT.

Tests of the builder judge its cues with ``cue_violations`` (the one definition of the rules); that
definition itself is tested at each rule's boundary, in whole milliseconds as the files write them.
"""

from __future__ import annotations

import re
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from common.jobs import ReplyTo, TranscriptionRequest
from common.outbox import OutboxReader
from tests.test_speech import assert_valid_srt, documents
from workers.speech.backends import Segment, Word
from workers.speech.cue_rules import MAX_LINE_CHARS
from workers.speech.phrases import LINKING_WORDS
from workers.speech.results import post_results
from workers.speech.subtitles import (
    Cue,
    build_cues,
    cue_violations,
    share_within_rules,
    srt_time,
    to_srt,
    to_text,
    to_vtt,
    vtt_time,
)

LECTURE = (
    "Hej och välkommen till dagens föreläsning i maskininlärning. Vi ska prata om hur datorer förstår "
    "tal, och om hur modellen sedan skriver ner det som sägs i korta och tydliga meningar."
)
VTT_TIMING = re.compile(r"(\d\d+):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d+):(\d\d):(\d\d)\.(\d\d\d)")


def spoken(text: str, start: float, end: float) -> Segment:
    """``text`` as Whisper's word timestamps would give it: time by length, pauses after punctuation."""
    words = text.split()
    pauses = [0.35 if w[-1] in ".?!" else 0.15 if w[-1] in ",;:" else 0.03 for w in words]
    pauses[-1] = 0.0
    speech = end - start - sum(pauses)
    per_char = speech / sum(len(w) + 1 for w in words)
    timed, clock = [], start
    for word, pause in zip(words, pauses, strict=True):
        duration = (len(word) + 1) * per_char
        timed.append(Word(round(clock, 3), round(clock + duration, 3), " " + word))
        clock += duration + pause
    return Segment(start, end, text, tuple(timed))


def cue_words(cues: list[Cue]) -> list[str]:
    return " ".join(" ".join(cue.lines) for cue in cues).split()


def ms(seconds: float) -> int:
    return round(seconds * 1000)


def assert_ordered(cues: list[Cue]) -> None:
    for cue, after in pairwise(cues):
        assert ms(cue.end) <= ms(after.start), (cue, after)
    assert all(ms(cue.start) < ms(cue.end) for cue in cues), cues
    assert all(cue.start >= 0 for cue in cues)


def violations(cues: list[Cue]) -> list[list[str]]:
    return [cue_violations(cue, after.start) for cue, after in pairwise(cues)] + [cue_violations(cues[-1])]


def at_phrase_boundary(before: str, after: str) -> bool:
    return before[-1] in ".?!,;:" or after.lower() in LINKING_WORDS


def parse_vtt(text: str) -> list[Cue]:
    """A strict reader: the header, a blank line, then blocks of a timing line and text lines."""
    assert text.startswith("WEBVTT\n\n") or text == "WEBVTT\n", text[:20]
    assert text.endswith("\n") and "\n\n\n" not in text
    cues = []
    for block in text.split("\n\n")[1:]:
        timing, *lines = block.strip("\n").split("\n")
        match = VTT_TIMING.fullmatch(timing)
        assert match, timing
        h1, m1, s1, f1, h2, m2, s2, f2 = (int(x) for x in match.groups())
        start, end = (h1 * 3600 + m1 * 60 + s1) * 1000 + f1, (h2 * 3600 + m2 * 60 + s2) * 1000 + f2
        assert lines and all(line.strip() for line in lines) and all("-->" not in line for line in lines)
        unescaped = tuple(line.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") for line in lines)
        cues.append(Cue(start / 1000, end / 1000, unescaped))
    return cues


# --- the builder on realistic speech -------------------------------------------------------------------


def test_a_long_swedish_segment_with_word_times_gives_cues_within_every_rule():
    """180 characters over 12 s: every cue within the rules, every word once and in order, cut at phrases."""
    assert 175 <= len(LECTURE) <= 185
    segment = spoken(LECTURE, 3.0, 15.0)
    cues = build_cues([segment])
    assert len(cues) >= 3, "more than two lines' worth of text: several cues"
    assert violations(cues) == [[] for _ in cues]
    assert cue_words(cues) == LECTURE.split()
    assert_ordered(cues)
    assert cues[0].start == segment.words[0].start, "a cue appears when its first word is said"
    for cue in cues:
        assert all(len(line) <= MAX_LINE_CHARS for line in cue.lines) and 1 <= len(cue.lines) <= 2
        if len(cue.lines) == 2:
            assert at_phrase_boundary(cue.lines[0].split()[-1], cue.lines[1].split()[0]), cue.lines
    for cue, after in pairwise(cues):
        assert at_phrase_boundary(cue.lines[-1].split()[-1], after.lines[0].split()[0]), (cue, after)
    assert any(cue.lines[-1].endswith("maskininlärning.") for cue in cues), "a sentence ends a cue"
    assert build_cues([segment]) == cues, "deterministic"


def test_lines_prefer_a_sentence_end_then_a_clause_then_a_linking_word():
    """Within one cue, the line break goes to the strongest phrase boundary that keeps both lines within 42."""

    def lines(text: str) -> tuple[str, ...]:
        cues = build_cues([spoken(text, 0.0, 5.0)])
        assert len(cues) == 1, cues
        return cues[0].lines

    assert lines("Vi åkte till Stockholm i går. Sedan tog vi tåget hem igen") == (
        "Vi åkte till Stockholm i går.",
        "Sedan tog vi tåget hem igen",
    )
    assert lines("När tåget äntligen kom fram, gick alla passagerare av genast") == (
        "När tåget äntligen kom fram,",
        "gick alla passagerare av genast",
    )
    assert lines("Passagerarna väntade länge vid perrongen och gick sedan hem igen") == (
        "Passagerarna väntade länge vid perrongen",
        "och gick sedan hem igen",
    )


def test_lines_without_phrase_boundaries_are_balanced_and_never_end_on_a_linking_word():
    """No punctuation: two lines of about equal length, and no line left ending on "och" or "to"."""
    text = "alfa beta gamma delta epsilon zeta eta theta iota kappa lambda my ny"
    (cue,) = build_cues([spoken(text, 0.0, 5.0)])
    first, second = cue.lines
    assert abs(len(first) - len(second)) <= 6, cue.lines
    english = "we walked slowly along the river to the old bridge near the quiet market"
    (cue,) = build_cues([spoken(english, 0.0, 5.0)])
    assert cue.lines[0].split()[-1] not in LINKING_WORDS, cue.lines
    assert cue.lines[1].split()[0] in LINKING_WORDS, "a break before 'to' or 'near the' beats any other space"


def test_a_long_pause_ends_a_cue_even_mid_sentence():
    """Text is not left on screen through a silence: a 2 s pause inside a sentence ends the cue."""
    first = spoken("Det här är den första delen av", 0.0, 1.8)
    second = spoken("en mening som fortsätter senare.", 3.8, 5.6)
    cues = build_cues([first, second])
    assert [" ".join(cue.lines) for cue in cues] == [first.text, second.text]
    assert violations(cues) == [[], []]


# --- timing: minimum duration, reading speed, gaps -----------------------------------------------------


def test_a_short_cue_is_held_one_second_into_the_silence_after_it_and_no_longer():
    """ "Ja." said in 0.2 s, then silence: the cue lasts exactly the minimum 1 s."""
    cues = build_cues([Segment(2.0, 2.2, "Ja.", (Word(2.0, 2.2, " Ja."),)), spoken("Sedan något annat.", 6.0, 7.5)])
    assert (cues[0].start, cues[0].end) == (2.0, 3.0)
    assert cues[1].start == 6.0
    assert violations(cues) == [[], []]


def test_a_short_cue_without_silence_after_it_starts_earlier_into_the_silence_before():
    """ "Ja." at 2.0 s with the next word at 2.5 s: it touches that word and starts at 1.5 s to last 1 s.

    (The sentence after is too long to share a cue with it, so "Ja." stands alone.)
    """
    after = spoken("Sedan kom alla andra gäster in i rummet, och festen kunde äntligen börja på allvar.", 2.5, 7.0)
    cues = build_cues([Segment(2.0, 2.2, "Ja.", (Word(2.0, 2.2, " Ja."),)), after])
    assert [cue.lines for cue in cues] == [("Ja.",), ("Sedan kom alla andra gäster in i rummet,", after.text[41:])]
    assert (cues[0].start, cues[0].end) == (1.5, 2.5)
    assert violations(cues) == [[], []]


def test_the_last_cue_stays_within_the_audio_where_the_silence_before_it_allows():
    """The last cue is held to its segment's end, then starts earlier; only then does it outlast the audio."""
    last = Segment(4.0, 4.6, "Slut.", (Word(4.0, 4.3, " Slut."),))
    cues = build_cues([spoken("Först en mening här.", 0.0, 2.0), last])
    assert (cues[-1].start, cues[-1].end) == (3.6, 4.6)
    assert build_cues([Segment(0.0, 0.5, "Hej.")])[0].end == 1.0, "no silence before it: past the end"
    assert violations(cues) == [[], []]


def test_fast_speech_is_extended_into_the_following_gap_but_not_over_the_next_cue():
    """80 characters said in 1.6 s need 4 s on screen: the cues take the silence after them, up to the next."""
    fast = spoken("Snabbt tal som ingen hinner läsa, och ännu mer text som kommer direkt efteråt här", 1.0, 2.6)
    after = spoken("Sedan en lugn mening.", 7.0, 8.5)
    cues = build_cues([fast, after])
    assert cue_words(cues) == fast.text.split() + after.text.split()
    assert violations(cues) == [[] for _ in cues]
    assert_ordered(cues)
    last_fast = cues[-2]
    assert last_fast.end <= 7.0 - 0.04 + 1e-9, "a gap is kept where time allows"
    for cue in cues[:-1]:
        # no more than needed: the end is where the rules are first met, or the last word's natural end
        assert ms(cue.end) - ms(cue.start) == max(1000, cue.chars * 50), cue


def test_speech_too_fast_to_read_breaks_one_cue_at_most_and_that_one_takes_every_gap():
    """75 characters in the first second, the next sentence at 1.2 s: no split meets every rule, so one cue
    breaks one, and it runs from the start of the audio to the next cue, without overlapping it."""
    fast = spoken("Här kommer väldigt mycket text på mycket kort tid, mer än någon hinner läsa", 0.0, 1.0)
    after = spoken("Och så något lugnt igen.", 1.2, 2.9)
    cues = build_cues([fast, after])
    assert cue_words(cues) == fast.text.split() + after.text.split()
    assert_ordered(cues)
    broken = [(index, v) for index, v in enumerate(violations(cues)) if v]
    assert len(broken) == 1 and set(broken[0][1]) <= {"cps", "duration"}, broken
    index = broken[0][0]
    assert ms(cues[index].end) == ms(cues[index + 1].start), "it touches the next cue"
    assert ms(cues[index].start) == (ms(cues[index - 1].end) if index else 0), "and the one before"


def test_a_single_word_longer_than_a_line_stands_alone_and_whole():
    """A word of 50 characters is never split: it is a cue of its own, breaking only the line length."""
    giant = "Rikskommunikationsdepartementsöverinspektörsassistent"
    text = f"Han var {giant} i många år."
    cues = build_cues([spoken(text, 1.0, 7.0)])
    assert cue_words(cues) == text.split()
    (alone,) = [cue for cue in cues if giant in " ".join(cue.lines)]
    assert alone.lines == (giant,)
    assert [v for v in violations(cues) if v] == [["line length"]]


def test_a_word_stretched_over_ten_seconds_is_shown_for_the_last_seven():
    """Whisper sometimes starts a word in the silence before it; the cue keeps the word's end and lasts 7 s."""
    cues = build_cues([Segment(0.0, 10.0, "Hallå", (Word(0.0, 10.0, " Hallå"),))])
    assert [(cue.start, cue.end, cue.lines) for cue in cues] == [(3.0, 10.0, ("Hallå",))]


# --- segments without usable word times ----------------------------------------------------------------


def test_segments_without_words_are_cut_by_text_in_proportion_to_their_span():
    """No word timestamps: the segment's 12 s are shared out by characters, and the rules still hold."""
    segment = Segment(10.0, 22.0, LECTURE)
    cues = build_cues([segment])
    assert cue_words(cues) == LECTURE.split()
    assert violations(cues) == [[] for _ in cues]
    assert cues[0].start == 10.0 and cues[-1].end <= 22.0 + 1.0
    position = 0
    for cue in cues:
        # a cue starts where its first character lies in the text, as a share of the segment's time
        offset = LECTURE.index(cue.lines[0], position)
        assert abs(cue.start - (10.0 + 12.0 * offset / len(LECTURE))) < 0.3, (cue, offset)
        position = offset + 1


def test_word_times_that_do_not_spell_the_text_are_ignored():
    """A translated segment keeps its Swedish words: the English text is cut by length, never by them."""
    swedish = spoken("Hej och välkommen till föreläsningen.", 0.0, 3.0)
    translated = Segment(swedish.start, swedish.end, "Hello and welcome to the lecture.", swedish.words)
    cues = build_cues([translated])
    assert cue_words(cues) == translated.text.split()
    assert violations(cues) == [[]]


def test_a_piece_written_without_a_space_is_glued_to_the_word_before():
    """Whisper's words are split by spaces; a piece without one belongs to the word before and is never cut off."""
    words = (Word(0.0, 0.4, " Stock"), Word(0.4, 0.9, "holm"), Word(1.0, 1.3, " är"), Word(1.3, 1.9, " vackert."))
    cues = build_cues([Segment(0.0, 1.9, "Stockholm är vackert.", words)])
    assert [cue.lines for cue in cues] == [("Stockholm är vackert.",)]
    assert (cues[0].start, cues[0].end) == (0.0, 1.9)


# --- hostile model output ------------------------------------------------------------------------------


def test_overlapping_and_backwards_model_times_give_ordered_cues_and_a_valid_srt():
    """Segments that overlap or end before they start, and words that run backwards: still ordered cues."""
    segments = [
        spoken("Det första som sägs i början.", 0.0, 3.0),
        Segment(2.0, 1.0, "Bakåt i tiden."),
        Segment(
            1.5,
            4.0,
            "Ord som går baklänges.",
            (Word(3.0, 2.0, " Ord"), Word(2.5, 2.6, " som"), Word(4.0, 3.5, " går"), Word(1.0, 1.2, " baklänges.")),
        ),
        spoken("Och sedan ett normalt slut.", 3.8, 6.0),
    ]
    cues = build_cues(segments)
    assert cue_words(cues) == " ".join(segment.text for segment in segments).split()
    assert_ordered(cues)
    parsed = assert_valid_srt(to_srt(segments))
    assert [(start, end) for _, start, end, _ in parsed] == [(cue.start, cue.end) for cue in cues]


def test_words_without_any_time_still_give_cues_that_players_accept():
    """All times zero: cues may not meet the rules, but each starts after the last and lasts at least 1 ms."""
    words = tuple(Word(0.0, 0.0, f" ord{i}") for i in range(40))
    segments = [Segment(0.0, 0.0, " ".join(w.text for w in words), words), Segment(0.0, 0.0, "slut")]
    cues = build_cues(segments)
    assert_ordered(cues)
    assert cue_words(cues) == [f"ord{i}" for i in range(40)] + ["slut"]
    assert_valid_srt(to_srt(segments))


def test_empty_texts_give_no_cues():
    """Segments with nothing to show add nothing; the files stay well-formed."""
    empty = [Segment(0.0, 1.0, ""), Segment(1.0, 2.0, "   "), Segment(2.0, 3.0, " ", (Word(2.0, 3.0, "  "),))]
    assert build_cues(empty) == []
    assert to_srt(empty) == ""
    assert parse_vtt(to_vtt(empty)) == []
    cues = build_cues([*empty, Segment(4.0, 5.5, "Något.")])
    assert [(cue.start, cue.end, cue.lines) for cue in cues] == [(4.0, 5.5, ("Något.",))]


def test_hours_are_written_in_both_formats():
    """Times past an hour, and past a hundred hours, keep every field."""
    assert srt_time(3600.5) == "01:00:00,500" and vtt_time(3600.5) == "01:00:00.500"
    assert srt_time(2 * 3600 + 3 * 60 + 4.0456) == "02:03:04,046"
    assert vtt_time(100 * 3600 + 59.9996) == "100:01:00.000"
    assert srt_time(-1.0) == "00:00:00,000"
    segments = [spoken("En mening efter en timme.", 3725.25, 3727.0)]
    assert "01:02:05,250 --> " in to_srt(segments)
    assert "01:02:05.250 --> " in to_vtt(segments)


# --- the formats ---------------------------------------------------------------------------------------


def test_vtt_parses_back_to_the_same_cues_as_the_srt():
    """WEBVTT header, blank line, a timing line and the lines per cue; the same cues as the .srt."""
    segments = [spoken(LECTURE, 0.0, 12.0), spoken("Frågor? Skriv <till> mig & kursen -->", 14.0, 17.0)]
    cues = build_cues(segments)
    vtt = to_vtt(segments)
    assert parse_vtt(vtt) == cues
    assert "&lt;till&gt; mig &amp; kursen --&gt;" in vtt, "markup characters show as typed"
    srt = assert_valid_srt(to_srt(segments))
    assert [(start, end, body.split("\n")) for _, start, end, body in srt] == [
        (cue.start, cue.end, list(cue.lines)) for cue in cues
    ]


def test_plain_text_keeps_one_segment_per_line():
    segments = [Segment(0.0, 1.0, "Första."), Segment(1.0, 2.0, ""), Segment(2.0, 3.0, "Andra.")]
    assert to_text(segments) == "Första.\nAndra.\n"


# --- the rules' own definition -------------------------------------------------------------------------


def test_cue_violations_names_each_rule_a_cue_breaks():
    """Each rule at its boundary: what is allowed exactly, and one step beyond."""
    line = "x" * 42
    assert cue_violations(Cue(0.0, 5.0, (line, line))) == []
    assert cue_violations(Cue(0.0, 5.0, (line + "x",))) == ["line length"]
    assert cue_violations(Cue(0.0, 5.0, ("a", "b", "c"))) == ["lines"]
    assert cue_violations(Cue(0.0, 5.0, ())) == ["lines"]
    assert cue_violations(Cue(0.0, 5.0, ("a", " "))) == ["lines"]
    assert cue_violations(Cue(0.0, 1.0, ("kort",))) == []
    assert cue_violations(Cue(0.0, 0.999, ("kort",))) == ["duration"]
    assert cue_violations(Cue(10.0, 17.0, ("lång",))) == []
    assert cue_violations(Cue(10.0, 17.001, ("lång",))) == ["duration"]
    assert cue_violations(Cue(0.0, 1.0, ("y" * 20,))) == [], "20 characters in 1 s is the limit"
    assert cue_violations(Cue(0.0, 1.0, ("y" * 21,))) == ["cps"]
    assert cue_violations(Cue(0.0, 2.0, ("y" * 20, "y" * 20))) == [], "the line break is not a character"
    assert cue_violations(Cue(0.0, 2.0, ("y" * 20, "y" * 21))) == ["cps"]
    assert cue_violations(Cue(1.0, 1.0, ("z",))) == ["duration", "cps"]
    assert cue_violations(Cue(0.0, 2.0, ("z",)), next_start=2.0) == [], "touching is allowed"
    assert cue_violations(Cue(0.0, 2.0, ("z",)), next_start=1.999) == ["overlap"]
    assert cue_violations(Cue(0.0, 0.5, ("z" * 50, "a", "b")), next_start=0.1) == [
        "lines",
        "line length",
        "duration",
        "cps",
        "overlap",
    ]


def test_share_within_rules_judges_each_cue_against_the_next_one():
    good, late = Cue(0.0, 2.0, ("bra",)), Cue(1.5, 3.0, ("sen",))
    assert share_within_rules([good, Cue(2.0, 3.0, ("också",))]) == 1.0
    assert share_within_rules([good, late]) == 0.5, "the first overlaps the second"
    assert share_within_rules([late, good]) == 0.5, "the first overlaps the second (it starts before it ends)"
    assert share_within_rules([]) == 1.0


# --- the files sent to the user ------------------------------------------------------------------------


def test_the_results_are_a_txt_an_srt_and_a_vtt_with_the_last_one_final(connection):
    """Three documents after the text; the .srt and .vtt show the same cues."""
    reply = ReplyTo(outbox="console-subtitles", chat="me")
    request = TranscriptionRequest(task="transcribe", reply=reply, source_id="upload:x", filename="talk.ogg")
    segments = [spoken(LECTURE, 0.0, 12.0)]
    keys = post_results(connection, "job-1", request, segments, "test")
    messages = [m for _, m in OutboxReader(connection, "console-subtitles").read(block_ms=10, count=50)]
    files = [m for m in messages if m.kind == "document"]
    assert [(m.filename, m.text, m.final) for m in files] == [
        ("talk-transcribe-sv.txt", "The text as a file.", False),
        ("talk-transcribe-sv.srt", "Subtitles (.srt) with the times.", False),
        ("talk-transcribe-sv.vtt", "Subtitles (.vtt) for web players.", True),
    ]
    assert [m.artifact for m in files] == keys
    stored = documents(connection)
    assert parse_vtt(stored["vtt"].decode()) == build_cues(segments)
    assert stored["srt"].decode() == to_srt(segments)
    assert not any(m.final for m in messages if m.kind == "text")
    texts = [m for m in messages if m.kind == "text"]
    assert len(texts) == 1 and texts[0].text.startswith("Transcript (test):"), "one message: the bot splits it"


# --- properties over random speech ---------------------------------------------------------------------

LETTERS = "abcdefghijklmnoprstuvyåäöABCÅÄÖ"
WORDS = st.tuples(
    # mostly words of a few letters, now and then one longer than a line
    st.integers(0, 24).flatmap(
        lambda k: st.text(LETTERS, min_size=13, max_size=60) if k == 0 else st.text(LETTERS, min_size=1, max_size=12)
    ),
    st.sampled_from(["", "", "", ".", ",", "?", "!", ":"]),
    st.floats(0.01, 1.2),  # how long the word is said
    st.one_of(st.just(0.0), st.floats(0.0, 0.1), st.floats(0.0, 3.0)),  # the pause after it
).map(lambda w: (w[0] + w[1], w[2], w[3]))


@st.composite
def transcripts(draw: st.DrawFn, all_words: bool = False) -> list[Segment]:
    """Whisper-like segments: consecutive runs of timed words, some with word timestamps and some without."""
    words = draw(st.lists(WORDS, min_size=0, max_size=120))
    cuts = sorted(draw(st.sets(st.integers(1, max(len(words) - 1, 1)), max_size=8)))
    clock, timed = draw(st.floats(0.0, 5000.0)), []
    for text, duration, pause in words:
        timed.append(Word(clock, clock + duration, " " + text))
        clock += duration + pause
    segments = []
    for first, last in zip([0, *cuts], [*cuts, len(timed)], strict=True):
        group = tuple(timed[first:last])
        if group:
            text = " ".join(word.text.strip() for word in group)
            keep = all_words or draw(st.booleans()) or draw(st.booleans())
            segments.append(Segment(group[0].start, group[-1].end, text, group if keep else ()))
    return segments


@st.composite
def scrambled(draw: st.DrawFn) -> list[Segment]:
    """The same, with every time replaced by a random one: overlapping, backwards, out of order."""
    times = st.floats(0.0, 100.0)
    return [
        Segment(
            draw(times),
            draw(times),
            segment.text,
            tuple(Word(draw(times), draw(times), word.text) for word in segment.words),
        )
        for segment in draw(transcripts())
    ]


@settings(max_examples=150, deadline=None, database=None)
@given(transcripts())
def test_property_no_text_is_lost_reordered_or_overlapped(segments):
    """Every word once and in order, cues never overlapping, within two lines of 42 where the words allow."""
    cues = build_cues(segments)
    assert cue_words(cues) == " ".join(segment.text for segment in segments).split()
    assert_ordered(cues)
    assert all(1 <= len(cue.lines) <= 2 for cue in cues)
    longest = max((len(word) for segment in segments for word in segment.text.split()), default=0)
    if longest <= MAX_LINE_CHARS:
        assert all(len(line) <= MAX_LINE_CHARS for cue in cues for line in cue.lines)
    assert build_cues(segments) == cues


@settings(max_examples=150, deadline=None, database=None)
@given(transcripts())
def test_property_a_cue_too_short_or_too_fast_has_no_silence_left_to_take(segments):
    """A cue breaks the duration or reading-speed rule only when it already touches both neighbours."""
    cues = build_cues(segments)
    for index, cue in enumerate(cues):
        broken = cue_violations(cue, cues[index + 1].start if index + 1 < len(cues) else None)
        assert "overlap" not in broken
        if "duration" in broken or "cps" in broken:
            assert index + 1 < len(cues), "the last cue can always be extended"
            assert ms(cue.end) == ms(cues[index + 1].start), (cue, cues[index + 1])
            assert ms(cue.start) == (ms(cues[index - 1].end) if index else 0), cue


@settings(max_examples=150, deadline=None, database=None)
@given(transcripts(all_words=True))
def test_property_each_cue_is_on_screen_while_its_words_are_said_and_not_while_others_are(segments):
    """A cue shows from its first word (or before) to its last (or after), never while other words are said."""
    words = [word for segment in segments for word in segment.words]
    cues = build_cues(segments)
    first = 0
    for cue in cues:
        last = first + len(" ".join(cue.lines).split()) - 1
        assert ms(cue.start) <= ms(words[first].start) and ms(cue.end) >= ms(words[last].end), cue
        if first > 0:
            assert ms(cue.start) >= ms(words[first - 1].end), cue
        if last + 1 < len(words):
            assert ms(cue.end) <= ms(words[last + 1].start), cue
        first = last + 1
    assert first == len(words)


@settings(max_examples=100, deadline=None, database=None)
@given(scrambled())
def test_property_any_model_times_give_a_valid_srt_and_vtt(segments):
    """Whatever times the model gives: every word once, ordered cues, files that players accept."""
    cues = build_cues(segments)
    assert cue_words(cues) == " ".join(segment.text for segment in segments).split()
    assert_ordered(cues)
    if cues:
        assert_valid_srt(to_srt(segments))
    assert parse_vtt(to_vtt(segments)) == cues

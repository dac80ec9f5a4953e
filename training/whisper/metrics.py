"""Word error rate (jiwer) and BLEU (sacrebleu), computed locally.

`evaluate.load("wer")` downloads a metric script from the Hub at run time; these do not. WER is
reported on normalised text (lower case, punctuation removed, as the Whisper paper's basic
normaliser does for non-English text) and raw; both in percent, as the lab quoted it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_PUNCTUATION = re.compile(r"[^\w\s']|_")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_PUNCTUATION.sub(" ", text).split())


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str], *, normalised: bool = True) -> float:
    """Percent of reference words substituted, deleted or inserted; empty references are left out."""
    import jiwer

    pairs = [
        (normalise(ref) if normalised else ref.strip(), normalise(hyp) if normalised else hyp.strip())
        for ref, hyp in zip(references, hypotheses, strict=True)
    ]
    pairs = [(ref, hyp) for ref, hyp in pairs if ref]
    if not pairs:
        return 0.0
    return 100.0 * float(jiwer.wer([ref for ref, _ in pairs], [hyp for _, hyp in pairs]))


def bleu(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)

"""Which optional parts of the install are here, and the one line that says what to install.

The default install serves every queue, speech with faster-whisper (CTranslate2); the speech extra
(torch, transformers) is needed by ASR_BACKEND=transformers, Marian translation (MT_MODEL) and
`python -m training.whisper`. Start-up errors and `--check` both word a missing part from here.
"""

from __future__ import annotations

import importlib.util

from common.errors import StartupError

FASTER_WHISPER = ("faster_whisper", "ctranslate2")
SPEECH_EXTRA = ("torch", "transformers")


def installed(*modules: str) -> bool:
    """Whether each module can be imported (found, not imported: torch alone takes seconds)."""
    return all(importlib.util.find_spec(name) is not None for name in modules)


def speech_extra_installed() -> bool:
    return installed(*SPEECH_EXTRA)


def missing_speech_extra(what: str) -> str | None:
    """The line "<what> needs the speech extra: ..." where torch or transformers is missing, else None."""
    return None if speech_extra_installed() else f"{what} needs the speech extra: pip install '.[speech]'"


def require_speech_extra(what: str) -> None:
    problem = missing_speech_extra(what)
    if problem:
        raise StartupError(problem)


def transcribe_problem(backend: str, mt_model: str | None) -> str | None:
    """Why this install cannot serve the transcribe queue with these settings; None when it can."""
    if not installed(*FASTER_WHISPER):
        return "the transcribe queue needs faster-whisper and ctranslate2: pip install ."
    if backend == "transformers" and (problem := missing_speech_extra("ASR_BACKEND=transformers")):
        return problem
    return missing_speech_extra("MT_MODEL (Marian translation)") if mt_model else None

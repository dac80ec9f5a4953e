"""What a transcribe worker process sets up once, before its first job (workers/__main__.py)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.video_links import LinkPolicy
from workers.installed import Installed
from workers.speech.backends import Recogniser
from workers.speech.batcher import BatchedRecogniser, Batcher
from workers.speech.models import AsrModels, ModelSource

if TYPE_CHECKING:
    from workers.speech.download_slots import YoutubePacing


@dataclass
class SpeechRuntime:
    models: AsrModels
    links: LinkPolicy
    cookies: Path | None = None
    mt_model: str | None = None  # a Marian sv->en id or path; None: Whisper's own translate task
    cache_ttl_s: int = 7 * 24 * 3600
    max_chunk_s: float = 30.0  # Whisper's window; tests use less to get several chunks
    youtube_pacing: YoutubePacing | None = None  # None: YouTube downloads are not paced (tests)
    batcher: Batcher | None = None  # None: one of the models' batch size (the worker's jobs share it)
    _translators: dict[str, Any] = field(default_factory=dict)
    _loading: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.batcher is None:
            self.batcher = Batcher(self.models.options.batch_size)

    def recogniser(self) -> tuple[ModelSource, Recogniser]:
        """The current model, its windows decoded in batches shared with this process's other jobs."""
        source, recogniser = self.models.current()
        assert self.batcher is not None
        return source, BatchedRecogniser(recogniser, self.batcher)

    def translator(self) -> Any:
        """The Marian translator, loaded on first use and kept; one load for all of the process's job slots."""
        from workers.speech.translate import SegmentTranslator

        assert self.mt_model, "no MT_MODEL set"
        with self._loading:
            if self.mt_model not in self._translators:
                self._translators[self.mt_model] = SegmentTranslator(self.mt_model, self.models.device)
            return self._translators[self.mt_model]


_installed: Installed[SpeechRuntime] = Installed("speech runtime")
install = _installed.install
current = _installed.current

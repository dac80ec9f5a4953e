"""The ASR model of a worker process: loaded once, swapped when the registry names a new version.

Registry contract (the training pipeline's Whisper export writes to it):

- The registry name is ``asr`` (common.registry.LocalModelRegistry under MODEL_DIR).
- A version directory holds either a CTranslate2 model (``model.bin``, ``config.json``, the
  vocabulary and ``tokenizer.json``, ``preprocessor_config.json``) or a transformers model
  (``config.json``, weights, ``generation_config.json``, tokenizer and processor files), and
  ``ModelVersion.extra["backend"]`` says which: ``"ctranslate2"`` or ``"transformers"``.
- Or ``ModelVersion.uri`` is a Hugging Face Hub id (loaded with that backend; default ctranslate2).
- With no current ``asr`` version, the ASR_MODEL setting (a Hub id or a local path) is used with
  ASR_BACKEND.

The pointer is one small file, read before each job: a newly registered version is loaded by the
next job, without a restart. Results are cached under the version's ``tag``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from common.errors import DataError
from common.installs import require_speech_extra
from common.metrics import events as metric_events
from workers.speech.backends import Recogniser
from workers.speech.backends.decoding import DecodeOptions

logger = logging.getLogger(__name__)

REGISTRY_NAME = "asr"
BACKENDS = ("ctranslate2", "transformers")


@dataclass(frozen=True)
class ModelSource:
    tag: str  # identifies the weights in cache keys and replies: "asr v3" or the Hub id / path
    location: str  # a local directory or a Hub id
    backend: str


def load_recogniser(
    source: ModelSource,
    device: str,
    cpu_threads: int = 0,
    options: DecodeOptions = DecodeOptions(),  # noqa: B008
) -> Recogniser:
    if source.backend == "ctranslate2":
        from workers.speech.backends.ct2 import FasterWhisperRecogniser

        return FasterWhisperRecogniser(source.location, device=device, cpu_threads=cpu_threads, options=options)
    # A registered version may name this backend while the worker has only the default install.
    require_speech_extra("ASR_BACKEND=transformers")
    from workers.speech.backends.hf import TransformersRecogniser

    return TransformersRecogniser(source.location, device=device, cpu_threads=cpu_threads, options=options)


class AsrModels:
    """``current()`` -> (source, recogniser) of the model in use, loading it at most once.

    ``registry`` is a LocalModelRegistry or the Hopsworks one (same methods); ``options`` (beam
    and batch size) apply to every model it loads.
    """

    def __init__(
        self,
        registry: Any,
        fallback: str,
        backend: str,
        device: str,
        cpu_threads: int = 0,
        options: DecodeOptions = DecodeOptions(),  # noqa: B008  # frozen, so one shared default is safe
    ) -> None:
        if backend not in BACKENDS:
            raise DataError(f"unknown ASR backend {backend!r}; expected one of {', '.join(BACKENDS)}")
        self.registry = registry
        self.fallback = ModelSource(tag=f"{fallback} ({backend})", location=fallback, backend=backend)
        self.device = device
        self.cpu_threads = cpu_threads
        self.options = options
        self._loaded: tuple[ModelSource, Recogniser] | None = None
        self._lock = threading.Lock()

    def source(self) -> ModelSource:
        """Which model the next job uses: the registry's current version, else the setting."""
        number = self.registry.current_version_number(REGISTRY_NAME)
        if number is None:
            return self.fallback
        version = self.registry.get(REGISTRY_NAME, number)
        backend = str(version.extra.get("backend", "ctranslate2"))
        if backend not in BACKENDS:
            raise DataError(f"asr version {number} names an unknown backend {backend!r}")
        location = version.uri or str(self.registry.path(REGISTRY_NAME, number))
        return ModelSource(tag=f"asr v{number}", location=location, backend=backend)

    def current(self) -> tuple[ModelSource, Recogniser]:
        source = self.source()
        with self._lock:
            if self._loaded is None or self._loaded[0] != source:
                # The old model is dropped first, so two never share the GPU's memory.
                self._loaded = None
                self._loaded = (source, load_recogniser(source, self.device, self.cpu_threads, self.options))
                logger.info("loaded ASR model %s from %s on %s", source.tag, source.location, self.device)
                metric_events.model_tag_loaded(REGISTRY_NAME, source.tag)
            return self._loaded

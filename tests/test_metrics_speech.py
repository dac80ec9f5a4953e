"""The speech worker's model gauge: the ASR model from the setting is version 0, a registered one its
number, set when the real (tiny) CTranslate2 model is loaded."""

from __future__ import annotations

import shutil

from prometheus_client import REGISTRY

from common.registry import LocalModelRegistry
from workers.speech.models import AsrModels

pytest_plugins = ["tests.speech_fixtures"]


def test_the_asr_model_version_follows_the_registry(tiny_models, tmp_path):
    registry = LocalModelRegistry(tmp_path / "models")
    models = AsrModels(registry, str(tiny_models["ctranslate2"]), "ctranslate2", "cpu")
    models.current()
    assert REGISTRY.get_sample_value("mlchat_model_version", {"model": "asr"}) == 0
    for _ in range(2):
        registry.register(
            "asr", lambda d: [shutil.copy(f, d / f.name) for f in tiny_models["ctranslate2"].iterdir()],
            metrics={"wer": 1.0}, feature_schema=[], extra={"backend": "ctranslate2"},
        )
    source, _ = models.current()
    assert source.tag == "asr v2"
    assert REGISTRY.get_sample_value("mlchat_model_version", {"model": "asr"}) == 2

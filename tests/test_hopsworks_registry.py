"""common/hopsworks_backend.py's registry: which version is current, against a stand-in of hsml's model API.

Hopsworks cannot be reached offline; the stand-in keeps only what the backend calls (create_model,
save, get_models, get_model) and numbers versions as Hopsworks does, one up per save.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.hopsworks_backend import HopsworksModelRegistry


@dataclass
class StoredModel:
    name: str
    description: str
    training_metrics: dict[str, float]
    owner: StandInRegistry
    version: int | None = None
    files: list[str] = field(default_factory=list)

    def save(self, folder: str) -> None:
        self.files = sorted(path.name for path in Path(folder).iterdir())
        self.version = 1 + sum(1 for model in self.owner.models if model.name == self.name)
        self.owner.models.append(self)


class StandInRegistry:
    def __init__(self) -> None:
        self.models: list[StoredModel] = []
        self.python = self

    def create_model(self, name: str, metrics: dict[str, float], description: str) -> StoredModel:
        return StoredModel(name, description, metrics, self)

    def get_models(self, name: str) -> list[StoredModel]:
        return [model for model in self.models if model.name == name]

    def get_model(self, name: str, version: int) -> StoredModel | None:
        return next((m for m in self.get_models(name) if m.version == version), None)


class StandInProject:
    def __init__(self) -> None:
        self.registry = StandInRegistry()

    def get_model_registry(self) -> Any:
        return self.registry


def test_a_version_registered_without_make_current_does_not_become_current(tmp_path: Path):
    """`export --no-current` on Hopsworks: version 2 is stored, workers keep serving version 1."""
    registry = HopsworksModelRegistry(StandInProject(), tmp_path)

    def write(folder: Path) -> None:
        (folder / "model.bin").write_bytes(b"weights")

    first = registry.register("asr", write, metrics={"wer": 30.0}, feature_schema=["audio"])
    assert registry.current_version_number("asr") == first.version == 1
    held = registry.register("asr", write, metrics={"wer": 25.0}, feature_schema=["audio"], make_current=False)
    assert held.version == 2
    assert registry.current_version_number("asr") == 1
    assert registry.get("asr", 2).metrics == {"wer": 25.0}, "stored all the same"
    third = registry.register("asr", write, metrics={"wer": 20.0}, feature_schema=["audio"])
    assert registry.current_version_number("asr") == third.version == 3

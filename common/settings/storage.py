"""Where data and models live, which tabular models are loaded, and where training data comes from."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator

from common.settings.base import Area, split_items

TITANIC_SHA256 = "4a437fde05fe5264e1701a7387ac6fb75393772ba38bb2c9c566405af5af4bd7"
# The labs' copy of the 891-passenger training set.
TITANIC_DEFAULT_URL = (
    "https://raw.githubusercontent.com/ID2223KTH/id2223kth.github.io/master/assignments/lab1/titanic.csv"
)


class StorageSettings(Area):
    DATA_DIR: Path = Path("data")
    # Not ./models: that is the models/ package of the source tree.
    MODEL_DIR: Path = Path("data/models")


class ModelSettings(Area):
    """More tabular models beside Iris and Titanic: modules that each export MODEL (see models/)."""

    EXTRA_MODELS: str = ""

    @field_validator("EXTRA_MODELS")
    @classmethod
    def _module_paths(cls, value: str) -> str:
        for item in split_items(value):
            if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", item):
                raise ValueError(f"has '{item[:60]}', which is not a module path (e.g. mypackage.penguins)")
        return value

    @property
    def extra_models(self) -> tuple[str, ...]:
        return split_items(self.EXTRA_MODELS)


class DataSettings(Area):
    TITANIC_URL: str = TITANIC_DEFAULT_URL
    HOPSWORKS_API_KEY: SecretStr | None = None
    HOPSWORKS_HOST: str | None = None

    @field_validator("TITANIC_URL")
    @classmethod
    def _titanic_source(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in {"https", "http", "file", ""}:
            raise ValueError("must be an https:// or file:// URL or a path")
        return value

"""The tabular models, one module each (iris.py, titanic.py), and the registry that every process iterates.

Adding a model is one module exporting ``MODEL`` (a :class:`models.base.TabularModel`) plus its
registration: a line in models/registry.py, or its module path in EXTRA_MODELS.
"""

from models.base import DataSources, Sample, TabularModel
from models.registry import MODELS, load_extra, register

__all__ = ["MODELS", "DataSources", "Sample", "TabularModel", "load_extra", "register"]

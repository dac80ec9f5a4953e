"""MODELS: every tabular model by name, in the order the commands list them.

The bots parse, reply and list commands from it; the workers predict, draw and check with it; the
scheduler monitors each model in it. Iris and Titanic are built in (one line each below); more
models come from the modules named in EXTRA_MODELS, each exporting ``MODEL``, a
:class:`models.base.TabularModel`, loaded by every entry point with :func:`load_extra`.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Iterable

from common.errors import StartupError
from models import iris, titanic
from models.base import TabularModel

logger = logging.getLogger(__name__)

MODELS: dict[str, TabularModel] = {}
NAME = re.compile(r"[a-z_]{1,32}")
# The bots' own commands (bot/parsing.py; a test keeps the two equal): a model of one of these names
# would be shadowed by the command, or shadow it.
BUILT_IN_COMMANDS = frozenset(
    {
        "help", "start", "status", "cancel", "subscribe", "unsubscribe", "monitor",
        "transcribe", "translate", "settings", "stats",
    }
)


def register(model: TabularModel) -> None:
    """Add a model; registering the same object again is harmless, another one of the name is refused."""
    if not NAME.fullmatch(model.name):
        # The name is a chat command: Telegram takes lowercase letters and underscores, the parser too.
        raise StartupError(f"the model name {model.name!r} cannot be a command: use a-z and _ (at most 32)")
    if model.name in BUILT_IN_COMMANDS:
        raise StartupError(
            f"the model name {model.name!r} is a built-in command (/{model.name}): "
            f"give the model another name (taken: {', '.join(sorted(BUILT_IN_COMMANDS))})"
        )
    if MODELS.get(model.name, model) is not model:
        raise StartupError(f"two models are called {model.name!r}: {MODELS[model.name]!r} and {model!r}")
    MODELS[model.name] = model


def load_extra(modules: Iterable[str]) -> None:
    """Import each module (EXTRA_MODELS) and register its ``MODEL``; a bad one stops the start, named."""
    for path in modules:
        try:
            module = importlib.import_module(path)
        except ImportError as exc:
            raise StartupError(f"EXTRA_MODELS names {path}, which cannot be imported: {exc}") from exc
        model = getattr(module, "MODEL", None)
        if not isinstance(model, TabularModel):
            raise StartupError(f"EXTRA_MODELS names {path}, which has no MODEL (a models.base.TabularModel)")
        register(model)
        logger.debug("registered model %s from %s", model.name, path)


register(iris.MODEL)
register(titanic.MODEL)

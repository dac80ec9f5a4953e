"""The Discord slash commands: typed, described options that are turned back into the text command.

One command per model in MODELS, its options made from the model's schema (a number, a whole
number, or a choice; optional ones may be left out), so parsing and validation stay in
bot.commands; then the speech, subscription, job and help commands.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Literal

import discord
from discord import app_commands

from common.schemas import ChoiceFeature, Feature
from models import MODELS, TabularModel

Ask = Callable[[discord.Interaction, str], Awaitable[None]]
Speak = Callable[[discord.Interaction, str, str | None, discord.Attachment | None, str | None], Awaitable[None]]
CHOICES_UP_TO = 5  # a whole number with this few values is offered as a menu (Titanic's pclass)
DESCRIPTION_LIMIT = 100  # Discord's, for commands and options


def register(tree: app_commands.CommandTree, ask: Ask, speak: Speak, upload_limit: int) -> None:
    for model in MODELS.values():
        tree.add_command(model_command(model, ask))
    tree.add_command(_speech("translate", "Swedish speech in a video or file, as English text", speak, upload_limit))
    tree.add_command(_speech("transcribe", "Swedish speech in a video or file, as Swedish text", speak, upload_limit))
    names = tuple(MODELS)
    tree.add_command(
        _model_choice(
            "subscribe",
            "A daily monitoring picture in this channel",
            "which model to follow",
            (*names, "all"),
            ask,
            required=True,
        )
    )
    tree.add_command(
        _model_choice(
            "unsubscribe",
            "Stop the daily monitoring pictures in this channel",
            "which model to stop following (default: all)",
            (*names, "all"),
            ask,
            required=False,
        )
    )
    tree.add_command(
        _model_choice("monitor", "The monitoring picture of a model, now", "which model", names, ask, required=True)
    )
    tree.add_command(_with_argument("status", "Where your job is", "job", "the job id I gave when I queued it", ask))
    tree.add_command(_with_argument("cancel", "Stop your job", "job", "the job id I gave when I queued it", ask))

    @tree.command(name="settings", description="This channel's language, files and voice notes (admins change them)")
    @app_commands.describe(
        lang="the spoken language's code (sv, en, fi, ...) or auto",
        task="what a file sent without a command gets",
        voice="whether voice messages and audio files are transcribed unasked",
        files="the files that come with a transcript: any of txt,srt,vtt,json",
    )
    async def settings(
        interaction: discord.Interaction,
        lang: str | None = None,
        task: Literal["transcribe", "translate"] | None = None,
        voice: Literal["auto", "off"] | None = None,
        files: str | None = None,
    ) -> None:
        chosen = {"lang": lang, "task": task, "voice": voice, "files": files}
        await ask(interaction, " ".join(["/settings", *(f"{key}={value}" for key, value in chosen.items() if value)]))

    @tree.command(name="stats", description="Jobs, failures, waits and workers (the bot's admins only)")
    async def stats(interaction: discord.Interaction) -> None:
        await ask(interaction, "/stats")

    @tree.command(name="help", description="What I can do")
    async def help_(interaction: discord.Interaction) -> None:
        await ask(interaction, "/help")


def model_command(model: TabularModel, ask: Ask) -> app_commands.Command:
    """``/<model>`` with one option per feature, sent on as ``/<model> name=value ...``."""

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        given = " ".join(f"{name}={_text(value)}" for name, value in values.items() if value is not None)
        await ask(interaction, f"/{model.name} {given}".strip())

    options = [_option(feature) for feature in model.schema.features]
    descriptions = {feature.name: _described(feature) for feature in model.schema.features}
    return _command(model.name, model.summary, callback, options, descriptions)


def _option(feature: Feature) -> inspect.Parameter:
    annotation: Any
    if isinstance(feature, ChoiceFeature):
        annotation = Literal[feature.choices]
    elif feature.integer and feature.maximum - feature.minimum < CHOICES_UP_TO:
        annotation = Literal[tuple(range(int(feature.minimum), int(feature.maximum) + 1))]
    else:
        annotation = int if feature.integer else float
    if feature.required:
        return inspect.Parameter(feature.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
    return inspect.Parameter(feature.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation | None, default=None)


def _described(feature: Feature) -> str:
    unit = getattr(feature, "unit", "")
    text = feature.help or feature.name.replace("_", " ")
    text += f" ({unit})" if unit and unit not in text else ""
    return text[:DESCRIPTION_LIMIT]


def _model_choice(
    name: str, description: str, help_text: str, choices: Sequence[str], ask: Ask, *, required: bool
) -> app_commands.Command:
    """/subscribe, /unsubscribe, /monitor: one model (a menu of MODELS' names), sent as ``/name <model>``."""

    async def callback(interaction: discord.Interaction, model: str | None = None) -> None:
        await ask(interaction, f"/{name} {model or ''}".strip())

    annotation: Any = Literal[tuple(choices)]
    option = (
        inspect.Parameter("model", inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
        if required
        else (inspect.Parameter("model", inspect.Parameter.KEYWORD_ONLY, annotation=annotation | None, default=None))
    )
    return _command(name, description, callback, [option], {"model": help_text})


def _command(
    name: str,
    description: str,
    callback: Callable[..., Coroutine[Any, Any, None]],
    options: list[inspect.Parameter],
    descriptions: dict[str, str],
) -> app_commands.Command:
    """A command whose options are built at run time: discord.py reads them from the signature."""
    interaction = inspect.Parameter(
        "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
    )
    callback.__signature__ = inspect.Signature([interaction, *options])  # type: ignore[attr-defined]
    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=name, description=description[:DESCRIPTION_LIMIT], callback=callback
    )
    return app_commands.describe(**descriptions)(command)


def _text(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _with_argument(name: str, description: str, argument: str, help_text: str, ask: Ask) -> app_commands.Command:
    """A command with one text option (named ``argument`` in the form), sent as ``/name <text>``."""

    async def callback(interaction: discord.Interaction, text: str) -> None:
        await ask(interaction, f"/{name} {text}")

    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=name, description=description, callback=callback
    )
    return app_commands.rename(text=argument)(app_commands.describe(text=help_text)(command))


def _speech(task: str, description: str, speak: Speak, upload_limit: int) -> app_commands.Command:
    """/transcribe or /translate: a link or a file (exactly one), and the spoken language."""

    async def callback(
        interaction: discord.Interaction,
        link: str | None = None,
        file: discord.Attachment | None = None,
        lang: str | None = None,
    ) -> None:
        await speak(interaction, task, link, file, lang)

    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=task, description=description, callback=callback
    )
    return app_commands.describe(
        link="a YouTube link",
        file=f"or an audio or video file (up to {upload_limit // 2**20} MB)",
        lang="the spoken language's code, e.g. sv (the default), en, fi",
    )(command)

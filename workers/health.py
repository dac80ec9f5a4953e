"""python -m workers --check: Redis, MODEL_DIR and the models the selected queues need.

The Iris and Titanic models are loaded as a worker would load them (a corrupt file fails, naming its
path). The speech model is only resolved, not loaded: loading it takes seconds to minutes and a GPU's
memory; the check says where it comes from and whether its files are there. For YouTube it runs the
JavaScript runtime, solves a test challenge with the solver scripts as yt-dlp would, reads the
cookies file, and says how many download slots are taken.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import redis

from common.backends import model_registry
from common.connection import client_for
from common.embedded_redis import EmbeddedRedis
from common.errors import DataError, ProjectError, StartupError
from common.health import TIMEOUT_S, Check, check_redis, run_checks
from common.installs import missing_speech_extra, transcribe_problem
from common.queues import PREDICT, RENDER, TRANSCRIBE
from common.settings import Settings, SpeechSettings, VideoSettings
from models import MODELS, load_extra
from models.cache import ModelCache

logger = logging.getLogger(__name__)


def check(queues: list[str]) -> int:
    return run_checks(lambda settings: checks(settings, queues))


def checks(settings: Settings, queues: list[str]) -> list[Check]:
    results = [check_redis(settings.redis.REDIS_URL, settings.storage.DATA_DIR, tuple(queues))]
    results.append(check_model_dir(settings.storage.MODEL_DIR))
    try:
        registry = model_registry(settings)
    except Exception as exc:  # Hopsworks login: any failure means the registry is not usable
        results.append(Check("model registry", False, f"not usable: {exc}"))
        return results
    if {PREDICT, RENDER} & set(queues):
        try:
            load_extra(settings.models.extra_models)
        except StartupError as exc:
            results.append(Check("EXTRA_MODELS", False, str(exc)))
        results.extend(check_model(registry, name) for name in MODELS)
    if TRANSCRIBE in queues:
        results.append(check_asr(registry, settings.speech))
        results.extend(check_youtube(settings.video))
        results.append(check_slots(settings))
    return results


def check_model_dir(path: Path) -> Check:
    if not path.is_dir():
        return Check("MODEL_DIR", False, f"{path} is not a directory (train a model, or mount the shared volume)")
    if not os.access(path, os.R_OK | os.X_OK):
        return Check("MODEL_DIR", False, f"{path} is not readable by this user")
    return Check("MODEL_DIR", True, f"{path} is readable")


def check_model(registry: Any, name: str) -> Check:
    try:
        version = registry.current_version_number(name)
        if version is None:
            how = MODELS[name].training if name in MODELS else f"python -m training.{name}"
            return Check(name, False, f"no version registered: run `{how}`")
        ModelCache(registry).get(name)
    except ProjectError as exc:
        return Check(name, False, str(exc))
    return Check(name, True, f"version {version} loads")


def check_asr(registry: Any, speech: SpeechSettings) -> Check:
    """Whether this install can serve transcribe jobs, where the next job's model comes from, and its files."""
    from workers.speech.models import AsrModels  # numpy only; the ML libraries load with the model

    problem = transcribe_problem(speech.ASR_BACKEND, speech.MT_MODEL)  # what would stop the worker's start
    if problem:
        return Check("asr", False, problem)
    try:
        source = AsrModels(registry, speech.ASR_MODEL, speech.ASR_BACKEND, speech.ASR_DEVICE).source()
    except ProjectError as exc:
        return Check("asr", False, str(exc))
    if source.backend == "transformers" and (problem := missing_speech_extra(f"{source.tag} (transformers)")):
        return Check("asr", False, problem)  # a registered version that names the backend: every job would fail
    origin = "registry " + source.tag if source.location != speech.ASR_MODEL else "ASR_MODEL"
    where = f"{origin} ({source.backend} backend, device {speech.ASR_DEVICE})"
    if Path(source.location).is_dir():
        return Check("asr", True, f"{where}: files in {source.location}, not loaded by the check")
    if not _looks_like_hub_id(source.location):
        return Check("asr", False, f"{where}: {source.location} is not a directory")
    cached = "in the local Hugging Face cache" if _in_hub_cache(source.location) else "downloaded at first load"
    return Check("asr", True, f"{where}: Hub id {source.location}, {cached}")


def _looks_like_hub_id(location: str) -> bool:
    parts = location.split("/")
    return len(parts) <= 2 and all(part and not part.startswith(".") for part in parts)


def _in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def check_youtube(video: VideoSettings, deno: Path | None = None) -> list[Check]:
    """The JavaScript runtime (``deno``: the deno package's binary when None), the solver, the cookies."""
    from workers.speech import js_runtime

    results = []
    runtime: js_runtime.JsRuntime | None = None
    try:
        runtime = js_runtime.probe_deno(deno)
        results.append(Check("javascript runtime", True, f"{runtime} (yt-dlp solves YouTube's challenges with it)"))
    except js_runtime.JsRuntimeError as exc:
        results.append(Check("javascript runtime", False, str(exc)))
    version = js_runtime.solver_version()
    if version is None:
        results.append(Check("challenge solver", False, "yt-dlp-ejs is not installed: pip install 'yt-dlp[default]'"))
    elif runtime is None:
        results.append(
            Check("challenge solver", False, f"yt-dlp-ejs {version} cannot run without a JavaScript runtime")
        )
    else:
        try:
            results.append(
                Check("challenge solver", True, f"yt-dlp-ejs {version}: {js_runtime.solve_test_challenge(runtime)}")
            )
        except js_runtime.JsRuntimeError as exc:
            results.append(Check("challenge solver", False, f"yt-dlp-ejs {version}: {exc}"))
    results.append(check_po_tokens())
    if video.YTDLP_COOKIES is not None:
        results.append(check_cookies(video.YTDLP_COOKIES))
    return results


def check_po_tokens() -> Check:
    """Which PO-token provider plugins yt-dlp loads (optional: they help past YouTube's bot check)."""
    from yt_dlp import YoutubeDL
    from yt_dlp.extractor.youtube.pot._director import initialize_pot_director

    said = _DebugLines()
    with YoutubeDL({"quiet": True, "verbose": True, "logger": said, "cachedir": False}) as ydl:
        initialize_pot_director(ydl.get_info_extractor("Youtube"))  # it lists the providers at debug level
    found = next(
        (line.split("PO Token Providers: ", 1)[1] for line in said.lines if "PO Token Providers: " in line), "none"
    )
    if found == "none":
        return Check("po tokens", True, "no provider plugin (optional; e.g. bgutil-ytdlp-pot-provider, see README)")
    return Check("po tokens", True, f"provider plugins: {found}")


def check_cookies(path: Path) -> Check:
    from workers.speech.cookies import read_cookies

    try:
        summary = read_cookies(path)
    except DataError as exc:
        return Check("YTDLP_COOKIES", False, str(exc))
    return Check("YTDLP_COOKIES", True, f"{path}: {summary.describe()}; use a throwaway account's, YouTube may ban it")


def check_slots(settings: Settings) -> Check:
    """How many of the YouTube download slots that all workers share are taken now (nothing is purged)."""
    from workers.speech.download_slots import DownloadSlots, YoutubePacing

    pacing = YoutubePacing.from_settings(settings.video)
    detail = f"at most {pacing.slots} at a time over all workers, {pacing.sleep_s:g} s between requests"
    url = settings.redis.REDIS_URL or EmbeddedRedis(settings.storage.DATA_DIR).running_url()
    if url is None:
        return Check("youtube downloads", True, detail)
    client = client_for(url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S)
    try:
        taken = DownloadSlots(client, pacing.slots, pacing.lease_s).in_use()
    except redis.RedisError:
        return Check("youtube downloads", True, detail)  # the redis line says what is wrong with it
    finally:
        client.close()
    return Check("youtube downloads", True, f"{detail}; {taken} taken now")


class _DebugLines:
    """A yt-dlp logger that keeps its debug lines, where yt-dlp lists what it loaded."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def debug(self, message: str) -> None:
        self.lines.append(message)

    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def error(self, message: str) -> None:
        pass

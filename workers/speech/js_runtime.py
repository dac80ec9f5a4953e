"""The JavaScript runtime and challenge-solver scripts that yt-dlp needs for YouTube since 2025.11.

YouTube's player hides the media URLs behind "n" and signature challenges written in JavaScript.
yt-dlp solves them by running the yt-dlp-ejs scripts in an external runtime; without one it falls
back to clients that lose formats or fail. The worker names Deno's binary (from the ``deno`` PyPI
package) explicitly, so nothing depends on PATH, and probes it with a timeout first: yt-dlp's own
probe has none, so a hung binary would hang the job.

Used by yt-dlp's options (metadata.py), by the jobs (a missing runtime is one sentence to the user)
and by ``python -m workers --check`` (name, version, path, and a real solve of a built-in challenge).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.errors import StartupError, VideoRejected

logger = logging.getLogger(__name__)

# yt-dlp's DenoJsRuntime.MIN_SUPPORTED_VERSION; an older Deno is ignored by yt-dlp.
MIN_DENO = (2, 3, 0)
PROBE_TIMEOUT_S = 10.0
FIX = "pip install 'deno>=2.3' 'yt-dlp[default]>=2025.11.12'"
# A player of our own in the shape yt-dlp-ejs looks for: a function marked with ("alr", "yes") that
# returns a URL object whose one method rewrites its "n" and "s" parameters. Solving it proves that
# the runtime runs the solver scripts, offline, without a real YouTube player.
TEST_PLAYER_URL = "https://www.youtube.com/s/player/0123abcd/player_ias.vflset/en_US/base.js"
TEST_PLAYER = r"""
(function (g) {
  var Query = function (href, key, value) { this.params = {}; if (value !== undefined) this.params[key] = value; };
  Query.prototype.set = function (key, value) { this.params[key] = value; };
  Query.prototype.get = function (key) { return this.params[key]; };
  Query.prototype.scramble = function () {
    var p = this.params;
    if (p.n) p.n = p.n.split("").reverse().join("") + "-ok";
    if (p.s) p.s = p.s.split("").reverse().join("");
  };
  var flags = { mark: function () {} };
  function build(href, key, value) { flags.mark("alr", "yes"); return new Query(href, key, value); }
  g.build = build;
}).call(this, {});
"""
TEST_N, SOLVED_N = "abcdef", "fedcba-ok"


class JsRuntimeError(StartupError):
    """The JavaScript runtime is missing or does not work; the text names what to fix."""


@dataclass(frozen=True)
class JsRuntime:
    name: str
    version: str
    path: Path

    def ytdlp_option(self) -> dict[str, dict[str, str]]:
        """yt-dlp's ``js_runtimes``: {runtime: {"path": binary}}, the same as ``--js-runtimes deno:PATH``."""
        return {self.name: {"path": str(self.path)}}

    def __str__(self) -> str:
        return f"{self.name} {self.version} at {self.path}"


def deno_path() -> Path | None:
    """The binary the ``deno`` package installed (the venv's bin/), or None without the package."""
    try:
        from deno import find_deno_bin
    except ImportError:
        return None
    try:
        return Path(find_deno_bin())
    except FileNotFoundError:  # the package without its binary (a broken install)
        return None


def probe_deno(path: Path | None = None, timeout_s: float = PROBE_TIMEOUT_S) -> JsRuntime:
    """Run ``deno --version`` (``path``: the package's binary when None); JsRuntimeError says why not."""
    path = path or deno_path()
    if path is None:
        raise JsRuntimeError(f"no Deno found (the deno package is not installed); yt-dlp needs it for YouTube: {FIX}")
    if not path.is_file():
        raise JsRuntimeError(f"Deno is missing at {path}; yt-dlp needs it for YouTube: {FIX}")
    if not os.access(path, os.X_OK):
        raise JsRuntimeError(f"Deno at {path} is not executable: chmod +x it, or reinstall: {FIX}")
    try:
        answer = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise JsRuntimeError(
            f"Deno at {path} did not answer `--version` within {timeout_s:g} s; reinstall it: {FIX}"
        ) from None
    except OSError as exc:  # a corrupt file: "Exec format error"
        raise JsRuntimeError(f"Deno at {path} does not run ({exc.strerror}); reinstall it: {FIX}") from None
    found = re.match(r"deno (\d+)\.(\d+)\.(\d+)", answer.stdout)
    if answer.returncode or not found:
        said = (answer.stdout or answer.stderr).strip().splitlines()[:1] or ["nothing"]
        raise JsRuntimeError(f"{path} does not answer like Deno (exit {answer.returncode}: {said[0][:80]}): {FIX}")
    version = tuple(int(part) for part in found.groups())
    if version < MIN_DENO:
        wanted = ".".join(map(str, MIN_DENO))
        raise JsRuntimeError(f"Deno {found.group(0)[5:]} at {path} is older than {wanted}, which yt-dlp needs: {FIX}")
    return JsRuntime("deno", ".".join(map(str, version)), path)


_working: dict[Path | None, JsRuntime] = {}
_lock = threading.Lock()


def runtime_for_jobs(path: Path | None = None) -> JsRuntime:
    """The runtime a YouTube job hands to yt-dlp; a broken one refuses the job in one sentence.

    A working runtime is remembered for the process; a failure is probed again at the next job, so
    a reinstall needs no restart.
    """
    with _lock:
        if path in _working:
            return _working[path]
        try:
            runtime = probe_deno(path)
        except JsRuntimeError as exc:
            logger.error("YouTube links fail until this is fixed: %s (see `python -m workers --check`)", exc)
            raise VideoRejected(
                "This server is missing a part it needs for YouTube right now; try again later or send the file."
            ) from None
        _working[path] = runtime
        return runtime


def log_at_start(path: Path | None = None) -> bool:
    """One line at worker start: what YouTube jobs will use, or (as an error) what to fix; True when usable."""
    try:
        runtime = probe_deno(path)
        version = solver_version()
        if version is None:
            raise JsRuntimeError(
                "yt-dlp-ejs (the challenge solver scripts) is not installed: pip install 'yt-dlp[default]'"
            )
        solved = solve_test_challenge(runtime)
    except JsRuntimeError as exc:
        logger.error("YouTube links will fail or lose formats until this is fixed: %s", exc)
        return False
    logger.info("YouTube: %s, yt-dlp-ejs %s (%s)", runtime, version, solved)
    return True


def solver_version() -> str | None:
    """The version of the yt-dlp-ejs solver scripts, or None when the package is not installed."""
    try:
        import yt_dlp_ejs
    except ImportError:
        return None
    return str(yt_dlp_ejs.version)


def solve_test_challenge(runtime: JsRuntime, timeout_s: float = 30.0) -> str:
    """Solve TEST_PLAYER's challenge the way yt-dlp's YouTube extractor does; a line on how it went.

    Runs yt-dlp's own challenge director (provider choice, script loading and hash checks, the Deno
    call, response validation), with the player put in the extractor's code cache instead of being
    downloaded. Raises JsRuntimeError with yt-dlp's own warnings when the challenge stays unsolved.
    """
    from yt_dlp import YoutubeDL
    from yt_dlp.extractor.youtube.jsc._director import initialize_jsc_director
    from yt_dlp.extractor.youtube.jsc.provider import JsChallengeRequest, JsChallengeType, NChallengeInput

    said: list[str] = []
    results: list[Any] = []
    options = {"js_runtimes": runtime.ytdlp_option(), "logger": _Collect(said), "quiet": True, "cachedir": False}

    def solve() -> None:
        with YoutubeDL(options) as ydl:
            extractor: Any = ydl.get_info_extractor("Youtube")
            extractor._code_cache[extractor._player_js_cache_key(TEST_PLAYER_URL)] = TEST_PLAYER
            director = initialize_jsc_director(extractor)
            request = JsChallengeRequest(JsChallengeType.N, NChallengeInput(TEST_PLAYER_URL, [TEST_N]), "selftest")
            results.extend(response.output.results for _, response in director.bulk_solve([request]))

    started = time.monotonic()
    # A thread, since yt-dlp waits for Deno without a timeout; a hung one is left behind, not waited for.
    worker = threading.Thread(target=solve, name="js-solver-check", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise JsRuntimeError(f"{runtime} did not solve a test challenge within {timeout_s:g} s")
    if results != [{TEST_N: SOLVED_N}]:
        reason = "; ".join(line.splitlines()[0] for line in said if line) or "no answer"
        raise JsRuntimeError(f"yt-dlp could not solve a test challenge with {runtime}: {reason[:300]}")
    return f"solved a test challenge with {runtime.name} in {time.monotonic() - started:.1f} s"


class _Collect:
    """A yt-dlp logger that keeps its warnings and errors (the reason a solve failed)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def debug(self, message: str) -> None:
        pass

    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        self.lines.append(message)

    def error(self, message: str) -> None:
        self.lines.append(message)

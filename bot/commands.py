"""The platform-neutral bot: text in, an immediate answer out, jobs queued for the workers.

Adapters (console, Telegram, Discord) call :meth:`Commands.handle` and send its answer; the
job's results come back later through their outbox.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace

from rq.command import send_stop_job_command
from rq.job import Job, JobStatus

from bot.access import Access, NotAllowed
from bot.job_lookup import find_job
from bot.limits import Limits
from bot.metrics_updates import counts_updates, refusal_reason
from bot.parsing import (
    SETTINGS_HELP,
    ChatConfig,
    Help,
    JobControl,
    Predict,
    Speech,
    Stats,
    Subscription,
    parse,
    spoken_language,
)
from bot.platform import Buttons
from bot.presses import cancel_button, parse_press
from bot.queue_watch import QueueWatch
from bot.replies import acknowledgement, help_text, ordinal, subscribed, unsubscribed
from bot.stats import stats_text
from common import artifacts, durations, usage
from common.chat_settings import ChatSettingsStore
from common.errors import BadCommand, Busy, UserError
from common.jobs import DashboardRequest, PredictionRequest, ReplyTo, TranscriptionRequest, cancel_key
from common.metrics import events as metric_events
from common.queues import PREDICT, RENDER, TRANSCRIBE, Enqueued, JobQueue
from common.settings import YOUTUBE_HOSTS
from common.subscriptions import Subscriber, Subscriptions
from common.video_links import LinkPolicy, Resolver, resolve_addresses, validate_link
from models import MODELS

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# Recognition on a CPU may take a few times the audio's length: RQ's default 180 s would cut it.
SPEECH_TIMEOUT_BASE_S = 600
SPEECH_TIMEOUT_PER_AUDIO_S = 4
# A worker does hundreds of predictions a second, so with this many ahead the verdict still comes
# within the quick answer's window; with more, the place in line is worth telling at once.
QUICK_POSITION = 50


@dataclass(frozen=True)
class Answer:
    text: str
    job_id: str | None = None  # set when a job was queued: its results follow through the outbox
    # Its answer is expected within about a second: the adapter may hold the acknowledgement and send
    # the answer alone (bot.quick).
    quick: bool = False
    # A refusal this chat had lately: say nothing where the platform allows (Discord must answer:
    # only the sender sees it).
    quiet: bool = False
    buttons: Buttons = ()  # under the answer: Cancel under a speech job's acknowledgement
    refusal: str | None = None  # why it was refused (limit, access, bad_input), for the metrics


class Commands:
    def __init__(
        self, queue: JobQueue, links: LinkPolicy | None = None, resolve: Resolver = resolve_addresses,
        subscriptions: Subscriptions | None = None, limits: Limits | None = None, watch: QueueWatch | None = None,
        access: Access | None = None,
    ) -> None:
        self.access = access  # None: everyone may use everything
        self.chat_settings = ChatSettingsStore(queue.connection)
        self.queue = queue
        self.watch = watch or QueueWatch(queue.connection)  # says when no worker serves a job's queue
        self.limits = limits  # None: no rate limit or queue cap (the console)
        self.subscriptions = subscriptions or Subscriptions(queue.connection, models=tuple(MODELS))
        self.links = links or LinkPolicy(frozenset(YOUTUBE_HOSTS.split(",")))
        self.resolve = resolve

    @counts_updates()
    def handle(self, text: str, reply: ReplyTo, *, chat_admin: bool = True) -> Answer:
        """``chat_admin``: the sender may change this chat's settings (the adapter asks the platform)."""
        try:
            self._check(reply)
            command = parse(text)
            if isinstance(command, Help):
                return Answer(help_text())
            if isinstance(command, Predict):
                return self._predict(command, reply)
            if isinstance(command, JobControl):
                return Answer(self._job_control(command, reply))
            if isinstance(command, Speech):
                self._check(reply, speech=True)
                return self._speech(command, reply)
            if isinstance(command, Subscription):
                return self._subscription(command, reply)
            if isinstance(command, ChatConfig):
                return Answer(self._settings(command, reply, chat_admin=chat_admin))
            if isinstance(command, Stats):
                return Answer(self._stats(reply))
        except UserError as exc:
            return _refused(exc)
        raise AssertionError(f"unhandled command {command!r}")

    def _predict(self, command: Predict, reply: ReplyTo) -> Answer:
        request = PredictionRequest(model=command.model, features=command.features, reply=reply)
        self._admit(reply, PREDICT)
        enqueued = self.queue.enqueue(PREDICT, "workers.predict.run", request.to_dict(), timeout=60)
        logger.info("queued %s job %s", command.model, enqueued.job_id)
        return self._acknowledged(enqueued, PREDICT, reply, quick=enqueued.position <= QUICK_POSITION)

    def _speech(self, command: Speech, reply: ReplyTo) -> Answer:
        links = command.arguments  # lang= was taken out by the parser
        if len(links) != 1:
            raise BadCommand(
                f"/{command.task} takes one video link (and optionally lang=xx or lang=auto, default sv): "
                f"/{command.task} https://www.youtube.com/watch?v=dQw4w9WgXcQ"
            )
        link = validate_link(links[0], self.links, self.resolve)
        chat = self.chat_settings.get(reply)
        request = TranscriptionRequest(
            task=command.task, reply=reply, source_id=link.source_id, url=link.url,
            language=command.language or chat.language, files=chat.files,
        )
        return self._enqueue_speech(request)

    @counts_updates()
    def transcribe_upload(
        self, task: str | None, reply: ReplyTo, data: bytes, filename: str, language: str | None = None, *,
        admitted: bool = False,
    ) -> Answer:
        """A chat attachment (voice note, audio or video file) through the speech pipeline.

        The adapters download the file (they hold the token its URL needs) and pass its bytes; the
        worker reads them back from a short-lived artifact. ``admitted``: the adapter already let
        :meth:`admit` count this job before downloading, so it is not counted again.
        """
        chat = self.chat_settings.get(reply)  # what a caption (or Discord option) left open
        task, language = task or chat.task, language or chat.language
        try:
            if task not in {"transcribe", "translate"}:
                raise BadCommand("Attachments can be transcribed or translated: add /transcribe or /translate.")
            if len(data) > MAX_UPLOAD_BYTES:
                raise BadCommand(f"That file is over {MAX_UPLOAD_BYTES // 2**20} MB; send a shorter one.")
            if not data:
                raise BadCommand("That file is empty.")
            key = artifacts.store(self.queue.connection, data, ttl_s=SPEECH_TIMEOUT_BASE_S * 12)
            request = TranscriptionRequest(
                task=task, reply=reply, source_id="upload:" + hashlib.sha256(data).hexdigest()[:32],
                artifact=key, filename=filename[:100], language=spoken_language(language), files=chat.files,
            )
            return self._enqueue_speech(request, admitted=admitted)
        except UserError as exc:
            return _refused(exc)

    def _enqueue_speech(self, request: TranscriptionRequest, *, admitted: bool = False) -> Answer:
        timeout = SPEECH_TIMEOUT_BASE_S + SPEECH_TIMEOUT_PER_AUDIO_S * self.links.max_seconds
        if not admitted:
            self._check(request.reply, speech=True)
            self._admit(request.reply, TRANSCRIBE)
        # No automatic retry: a refusal would only repeat, and a download is not free.
        enqueued = self.queue.enqueue(
            TRANSCRIBE, "workers.speech.job.run", request.to_dict(), timeout=timeout, retries=0
        )
        logger.info("queued %s job %s for %s", request.task, enqueued.job_id, request.source_id)
        answer = self._acknowledged(enqueued, TRANSCRIBE, request.reply)
        return replace(answer, buttons=cancel_button(enqueued.job_id))

    @counts_updates()
    def press(self, data: str, reply: ReplyTo) -> Answer:
        """A button under one of the bot's messages, pressed by ``reply.user`` in ``reply.chat``.

        Handled as that user's own command: the same access rules and limits, and only a job of this
        chat is found (the data may be forged: bot/presses.py). Cancel is for the job's own sender;
        English and "Transcribe as" queue a new job for the presser on the same source, reusing the
        audio the first job kept (or the cached transcript) where it can.
        """
        try:
            self._check(reply)
            press = parse_press(data)
            job = find_job(self.queue, press.job_id, reply)
            if job is None or job.func_name != "workers.speech.job.run":
                return Answer("That job is gone (finished jobs are forgotten after a while); send it again.")
            first = TranscriptionRequest.from_dict(job.args[0])
            if press.action == "cancel":
                if first.reply.user != reply.user:
                    return Answer(f"Only the one who sent job {job.id} can stop it.")
                return Answer(self._cancel(job))
            self._check(reply, speech=True)
            outcome = job.return_value() if job.is_finished else None
            kept = outcome.get("audio") if isinstance(outcome, dict) else None
            again = replace(
                first, reply=reply, task=press.action, files=self.chat_settings.get(reply).files,
                language=press.language or first.language, artifact=kept or first.artifact,
            )  # fmt: skip
            return self._enqueue_speech(again)
        except UserError as exc:
            return _refused(exc)

    def _acknowledged(self, enqueued: Enqueued, queue: str, reply: ReplyTo, *, quick: bool = False) -> Answer:
        """The acknowledgement; it says so when no live worker serves ``queue`` (the job would wait unseen)."""
        usage.queued(self.queue.connection, queue, f"{reply.outbox}:{reply.user or reply.chat}")
        note = self.watch.acknowledgement_note(queue) if enqueued.position > 0 else ""
        text = acknowledgement(enqueued.job_id, enqueued.position, self._wait(queue, enqueued.position))
        # A note is news for the user at once, not after the quick answer's wait.
        return Answer(text + note, enqueued.job_id, quick and not note)

    def _wait(self, queue: str, position: int) -> str:
        """About how long until a job ``position`` in line is done; "" without workers or figures."""
        if position <= 0:
            return ""
        typical = durations.typical_run_s(self.queue.connection, queue)
        seconds = durations.wait_s(typical, position, self.watch.live_workers(queue))
        return durations.about(seconds) if seconds is not None else ""

    @counts_updates(refusals_only=True)
    def admit(self, reply: ReplyTo, queue: str) -> Answer | None:
        """Count a job the adapter is about to fetch an attachment for: a refusal or 'busy' answer, or None.

        Checked before the download, so a stranger or a user over the limit costs no transfer; an
        admitted job is counted here (also when the download then fails), and its transcribe_upload
        gets ``admitted=True`` so the count is not taken twice.
        """
        try:
            self._check(reply, speech=queue == TRANSCRIBE)
            self._admit(reply, queue)
        except (Busy, NotAllowed) as exc:
            return _refused(exc)
        return None

    def _check(self, reply: ReplyTo, *, speech: bool = False) -> None:
        if self.access is not None:
            self.access.check(reply, speech=speech)

    def _admit(self, reply: ReplyTo, queue: str) -> None:
        """Raises Busy when this user sent too many jobs lately or the queue is full."""
        if self.limits is not None:
            self.limits.admit(f"{reply.outbox}:{reply.user or reply.chat}", queue)

    def _subscription(self, command: Subscription, reply: ReplyTo) -> Answer:
        chat = Subscriber(reply.outbox, reply.chat)
        if command.action == "monitor":
            models = _models(command, default=())
            if len(models) != 1:
                raise BadCommand(f"/monitor takes one model: {_or(f'/monitor {name}' for name in MODELS)}")
            # Drawn by a worker (the bot never imports matplotlib), posted to this chat.
            request = DashboardRequest(model=models[0], reply=reply)
            self._admit(reply, RENDER)
            enqueued = self.queue.enqueue(RENDER, "scheduler.jobs.dashboard", request.to_dict(), timeout=120)
            return self._acknowledged(enqueued, RENDER, reply)
        if command.action == "subscribe":
            models = _models(command, default=tuple(MODELS))
            self.subscriptions.subscribe(chat, models)
            logger.info("%s chat subscribed to %s", reply.outbox, ", ".join(models))
            return Answer(subscribed(models))
        models = _models(command, default=tuple(MODELS))
        removed = self.subscriptions.unsubscribe(chat, models)
        return Answer(unsubscribed(models, removed, self.subscriptions.models_of(chat),
                                   fixed=self.subscriptions.is_fixed(chat)))

    def _settings(self, command: ChatConfig, reply: ReplyTo, *, chat_admin: bool) -> str:
        private = reply.user is not None and reply.user == reply.chat
        if not command.changes:
            shown = self.chat_settings.get(reply).shown(private=private)
            return f"Settings here: {shown}. Change them with {SETTINGS_HELP}"
        if not chat_admin:
            return "In a group only its admins change the settings; ask one of them."
        changed = self.chat_settings.change(reply, **command.changes)
        logger.info("%s chat settings changed: %s", reply.outbox, ", ".join(command.changes))
        return f"Settings here are now: {changed.shown(private=private)}."

    def _stats(self, reply: ReplyTo) -> str:
        if self.access is not None and not self.access.is_admin(reply):
            return "Only this bot's admins (ADMIN_USERS) see /stats."
        return stats_text(self.queue.connection, self.watch)

    def _job_control(self, command: JobControl, reply: ReplyTo) -> str:
        job = find_job(self.queue, command.job_id, reply)  # the full id or its first 6+ characters
        if job is None:
            return f"I have no job {command.job_id} of yours (finished jobs are forgotten after a while)."
        if command.action == "cancel":
            return self._cancel(job)
        status = job.get_status()
        if status == JobStatus.QUEUED:
            position = (job.get_position() or 0) + 1
            wait = self._wait(job.origin, position)
            return f"Job {job.id} is {ordinal(position)} in line" + (f" ({wait})." if wait else ".")
        progress = job.meta.get("progress") if status == JobStatus.STARTED else None
        if progress:  # long jobs (speech) report their step in job.meta
            return f"Job {job.id} is running: {progress.get('stage', 'working')} {progress.get('percent', 0)}%."
        return f"Job {job.id} is {status.value if status else 'unknown'}."

    def _cancel(self, job: Job) -> str:
        status = job.get_status()
        if status in {JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED}:
            job.cancel()
            metric_events.job_finished(job, "cancelled")
            return f"Cancelled job {job.id}."
        if status == JobStatus.STARTED:
            # A SimpleWorker cannot kill its own job: long jobs watch this flag between steps.
            self.queue.connection.set(cancel_key(job.id), 1, ex=24 * 3600)
            send_stop_job_command(self.queue.connection, job.id)
            return f"Stopping job {job.id}."
        return f"Job {job.id} is already {status.value if status else 'gone'}."


def _refused(exc: UserError) -> Answer:
    return Answer(str(exc), quiet=isinstance(exc, NotAllowed) and exc.quiet, refusal=refusal_reason(exc))


def _models(command: Subscription, default: tuple[str, ...]) -> tuple[str, ...]:
    """Model names (`iris`, `titanic`, ...) or `all` -> the models; nothing -> ``default``."""
    names = [name.lower().strip(",") for name in command.arguments if name.strip(",")]
    if not names:
        return default
    unknown = [name for name in names if name not in {*MODELS, "all"}]
    if unknown:
        raise BadCommand(f"/{command.action} takes {', '.join(MODELS)} or all, not '{unknown[0][:20]}'.")
    return tuple(MODELS) if "all" in names else tuple(dict.fromkeys(names))


def _or(choices: Iterable[str]) -> str:
    """'a or b', 'a, b or c'."""
    words = list(choices)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]

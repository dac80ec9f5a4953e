"""The metric objects, in the process's default registry (in a worker child: prometheus-client's
multiprocess files, as PROMETHEUS_MULTIPROC_DIR is set before the child starts)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# From milliseconds (a prediction) to an hour (a long video on a CPU).
JOB_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600,
)
RTF_BUCKETS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10)
SLOT_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)

JOBS_ENQUEUED = Counter("mlchat_jobs_enqueued", "Jobs queued, by queue and kind (model or speech task).",
                        ["queue", "kind"])
JOBS_FINISHED = Counter("mlchat_jobs_finished", "Jobs ended: done, failed, cancelled or refused (bad input).",
                        ["queue", "kind", "outcome"])
JOB_WAIT = Histogram("mlchat_job_wait_seconds", "From enqueued to started (RQ's times).", ["queue", "kind"],
                     buckets=JOB_BUCKETS)
JOB_RUN = Histogram("mlchat_job_run_seconds", "From started to ended (RQ's times).", ["queue", "kind"],
                    buckets=JOB_BUCKETS)

UPDATES = Counter("mlchat_updates", "Chat updates the bot handled, by result (queued, answered, refused, error).",
                  ["platform", "result"])
PLATFORM_REQUESTS = Counter("mlchat_platform_requests", "Requests to the chat platform's API, by method and status.",
                            ["platform", "method", "status"])
RETRY_AFTER = Counter("mlchat_platform_retry_after_seconds",
                      "Seconds the platform asked the bot to wait (429 Too Many Requests).", ["platform"])
REPEATS_DROPPED = Counter("mlchat_delivery_repeats_dropped",
                          "Answer parts not sent again because they were delivered before.", ["platform"])
REFUSALS = Counter("mlchat_refusals", "Commands refused: limit, access or bad_input.", ["platform", "reason"])

SPEECH_AUDIO = Counter("mlchat_speech_audio_seconds", "Seconds of audio recognised (cache hits left out).",
                       ["task"])
SPEECH_RTF = Histogram("mlchat_speech_realtime_factor", "A speech job's run time over its audio length.",
                       buckets=RTF_BUCKETS)
YOUTUBE_SLOT_WAIT = Histogram("mlchat_youtube_slot_wait_seconds", "How long a job waited for a YouTube download slot.",
                              buckets=SLOT_BUCKETS)

# A worker child that died leaves no value behind (live*); the newest load wins.
MODEL_VERSION = Gauge("mlchat_model_version", "The registry version this process has loaded.", ["model"],
                      multiprocess_mode="livemostrecent")
MONITOR_ACCURACY = Gauge("mlchat_monitor_accuracy", "Monitoring accuracy: window 7d (the last 7 days) or all.",
                         ["model", "window"], multiprocess_mode="mostrecent")
MONITOR_DRIFT = Gauge("mlchat_monitor_drift", "1 while the 7-day accuracy is below CV accuracy by more than "
                      "MONITOR_DRIFT_THRESHOLD.", ["model"], multiprocess_mode="mostrecent")

"""What the metric hooks cost per job, in memory (METRICS_LISTEN unset) and in prometheus-client's
multiprocess files (a worker child of a supervisor with METRICS_LISTEN), beside the job itself.

    python bench/metrics_cost.py [--jobs 20000] [--job-ms 3.3]

Each mode runs in its own process (prometheus-client picks its storage at import). A job's hooks are
one ``job_enqueued`` and one ``job_succeeded`` (a counter each, two histograms) on a real RQ job with
RQ's times set; the job's own cost is that of `bench/predict.py`'s throughput (about 3 ms a job here).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(jobs: int) -> float:
    """Microseconds of the hooks per job, in this process's mode."""
    sys.path.insert(0, str(REPO))
    import redis
    from rq.job import Job
    from rq.serializers import JSONSerializer

    from common.metrics import events

    payload = {"model": "iris", "features": {}}
    job = Job.create("workers.predict.run", args=(payload,), connection=redis.Redis(), serializer=JSONSerializer,
                     origin="predict")
    job.enqueued_at = datetime.now(UTC)
    job.started_at = job.enqueued_at + timedelta(milliseconds=2)
    job.ended_at = job.started_at + timedelta(milliseconds=1)
    started = time.perf_counter()
    for _ in range(jobs):
        events.job_enqueued("predict", "workers.predict.run", payload)
        events.job_succeeded(job)
    return (time.perf_counter() - started) / jobs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--job-ms", type=float, default=3.3,
                        help="a job's own time to compare with (bench/predict.py: 1000 / its jobs/s)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(f"{measure(args.jobs):.2f}")
        return
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory() as directory:
        runs = {
            "in memory (METRICS_LISTEN unset)": env,
            "multiprocess files (a supervised worker)": {**env, "PROMETHEUS_MULTIPROC_DIR": directory},
        }
        for mode, environment in runs.items():
            done = subprocess.run([sys.executable, __file__, "--measure", "--jobs", str(args.jobs)], env=environment,
                                  capture_output=True, text=True, check=True)
            micros = float(done.stdout)
            share = micros / (args.job_ms * 10)  # per cent of the job's own time
            print(f"{mode:42} {micros:6.1f} us per job ({share:.2f} % of a {args.job_ms:g} ms job)")


if __name__ == "__main__":
    main()

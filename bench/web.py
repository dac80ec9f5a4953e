"""Time to the verdict through the web server's API, beside the console path, in one run; the web process's memory.

    python bench/web.py [--sessions 1,8,32] [--requests 20]

Starts its own redis-server, trains the models into a temporary registry, starts `python -m workers`
(one process on `predict`, one on `render`) and `python -m web` on a free port. Each session is a
gradio_client Client (its own Gradio session, so its own per-session limit) submitting Iris
predictions one after another (the next once the picture came); all sessions run at once. The
time is from the submit to the generator's output that carries the verdict text (the picture
follows on its own queue). The
console path is bot.commands.Commands -> Redis -> worker -> outbox, read in this process, one
request at a time (bench/predict.py's end_to_end). Memory: the web process's resident set
(VmRSS) after start and after the run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import redis
from harness import DEFAULT_TITANIC_CSV, REPO, percentile, process_env, start_redis, start_workers, stop, train_models
from predict import end_to_end

from common.embedded_redis import free_port

VERDICT = 1  # the predict_iris endpoint's outputs: status, verdict, picture


def start_web(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "web"], env={**env, "WEB_LISTEN": f"127.0.0.1:{port}"},
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "healthz", timeout=1):  # noqa: S310 - our own http:// URL
                return process, url
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("python -m web did not start within 60 s")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def session(url: str, requests: int, times: list[float], errors: list[str]) -> None:
    from gradio_client import Client

    # The picture stays on the server: the browser fetches it, and it is not part of the verdict's time.
    client = Client(url, verbose=False, download_files=False)
    for _ in range(requests):
        started = time.perf_counter()
        job = client.submit(5.1, 3.5, 1.4, 0.2, api_name="/predict_iris")
        verdict = ""
        for output in job:  # each of the handler's yields as it comes
            if str(output[VERDICT]).startswith("Iris:"):
                verdict = output[VERDICT]
                times.append(time.perf_counter() - started)
                break
        if not verdict:
            errors.append(str(job.outputs()[-1] if job.outputs() else job.status()))
        job.result()  # let the picture come, so the next request starts on a finished one


def web_run(url: str, sessions: int, requests: int) -> tuple[list[float], list[str], float]:
    times: list[float] = []
    errors: list[str] = []
    def guarded() -> None:
        try:
            session(url, requests, times, errors)
        except Exception as exc:  # one session's failure is a figure of the run, not its end
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=guarded) for _ in range(sessions)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, errors, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", default="1,8,32", help="concurrent browser sessions, one run per number")
    parser.add_argument("--requests", type=int, default=20, help="predictions per session")
    parser.add_argument("--titanic-csv", default=DEFAULT_TITANIC_CSV)
    args = parser.parse_args()
    os.environ["no_proxy"] = "127.0.0.1,localhost"

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        server, redis_url = start_redis(root / "redis")
        model_dir = train_models(root, args.titanic_csv)
        # The per-user limit would refuse a benchmark's sessions after 10 jobs a minute.
        env = process_env(root, redis_url, model_dir, USER_JOBS_PER_MINUTE="10000", GRADIO_ANALYTICS_ENABLED="False")
        processes = [start_workers(env, queue) for queue in ("predict", "render")]
        try:
            web, url = start_web(env)
            processes.append(web)
            connection = redis.Redis.from_url(redis_url)
            end_to_end(connection, "iris", 20)  # warm-up: the worker loads its models
            web_run(url, 1, 5)
            at_start = rss_mib(web.pid)
            print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
                  f"one predict and one render worker process")  # fmt: skip
            print(f"{'path':24} {'sessions':>8} {'verdicts':>8} {'p50':>9} {'p95':>9} {'answers/s':>10}")
            console = end_to_end(connection, "iris", args.requests * 5)
            print(f"{'console (Commands)':24} {1:>8} {len(console):>8} {percentile(console, 0.5) * 1e3:7.1f}ms "
                  f"{percentile(console, 0.95) * 1e3:7.1f}ms {len(console) / sum(console):10.1f}")  # fmt: skip
            for count in (int(n) for n in args.sessions.split(",")):
                times, errors, elapsed = web_run(url, count, args.requests)
                print(f"{'web (gradio_client)':24} {count:>8} {len(times):>8} {percentile(times, 0.5) * 1e3:7.1f}ms "
                      f"{percentile(times, 0.95) * 1e3:7.1f}ms {len(times) / elapsed:10.1f}"
                      + (f"  {len(errors)} without a verdict: {errors[0][:80]}" if errors else ""))  # fmt: skip
            after = rss_mib(web.pid)
            print(f"web process memory: {at_start:.0f} MiB resident after start, {after:.0f} MiB after the runs")
        finally:
            for process in processes:
                stop(process)
            stop(server)


if __name__ == "__main__":
    main()

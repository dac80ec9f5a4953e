"""Prometheus metrics of every process (names start with ``mlchat_``; README lists them).

``definitions`` holds the metric objects, ``events`` the one-line calls the bots, workers and the
scheduler make, ``serve`` the /metrics endpoint on METRICS_LISTEN, ``multiprocess`` the worker
supervisor's view of its children, ``queues`` the queue and worker gauges read from Redis at scrape
time. No label takes a user, chat or job id or a URL: every label has a handful of values.
"""

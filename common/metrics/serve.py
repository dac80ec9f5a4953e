"""/metrics on METRICS_LISTEN: one call at an entry point, in a daemon thread beside the process's work.

The web front end (or any later process) calls :func:`serve_metrics` with its settings, or mounts
prometheus-client's ``make_asgi_app()`` in its own app instead.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

from common.errors import StartupError
from common.settings.metrics import MetricsSettings

logger = logging.getLogger(__name__)


class MetricsServer:
    """The running endpoint; ``close()`` stops it (tests, a clean stop)."""

    def __init__(self, server: Any, thread: Any, address: tuple[str, int]) -> None:
        self._server, self._thread, self.address = server, thread, address

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve(listen: tuple[str, int], registry: CollectorRegistry = REGISTRY) -> MetricsServer:
    host, port = listen
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise StartupError(f"METRICS_LISTEN {host}:{port} cannot be served: {exc.strerror or exc}") from None
    address = server.server_address[:2]
    logger.info("metrics on http://%s:%d/metrics", host, address[1])
    return MetricsServer(server, thread, (host, address[1]))


def serve_metrics(settings: MetricsSettings, registry: CollectorRegistry = REGISTRY) -> MetricsServer | None:
    """Serve ``registry`` where METRICS_LISTEN says; None (nothing served) when it is unset."""
    listen = settings.listen
    return serve(listen, registry) if listen else None

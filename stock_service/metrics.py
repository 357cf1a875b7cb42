"""The service's Prometheus metrics (the flash-sale notes' observability) and the GlobalHub design's sync series
(docs/background.md), on /metrics.

Requests by route template, method and status; latency by route; reservations by
outcome (reserved, out_of_stock = the 409 conflicts, rate_limited, unavailable, …).
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from commerce_core.monitoring.sync_metrics import SyncMetricsCollector

KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
RESERVATION_OUTCOMES = {201: "reserved", 200: "replayed", 409: "out_of_stock", 429: "rate_limited",
                        404: "unknown_sku", 400: "bad_request", 503: "unavailable"}


class ServiceMetrics:
    def __init__(self, engine):
        self.registry = CollectorRegistry()
        self.requests = Counter("stock_service_requests", "HTTP requests", ["route", "method", "status"],
                                registry=self.registry)
        self.latency = Histogram("stock_service_request_duration_seconds", "HTTP answer time", ["route"],
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5), registry=self.registry)
        self.reservations = Counter("stock_reservations", "Reservation answers by outcome", ["outcome"],
                                    registry=self.registry)
        self.conflicts = Counter("stock_reservation_conflicts", "Reservations refused for lack of stock (409)",
                                 registry=self.registry)
        self.registry.register(SyncMetricsCollector(engine))
        # Labelled children by label values, looked up once (labels() costs more than the increment).
        self._children: dict[tuple, object] = {}

    def _child(self, metric, *values: str):
        key = (metric, values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def reservation(self, status_code: int) -> None:
        self._child(self.reservations, RESERVATION_OUTCOMES.get(status_code, str(status_code))).inc()
        if status_code == 409:
            self.conflicts.inc()

    def answered(self, route: str, method: str, status_code: int, seconds: float) -> None:
        """One HTTP answer, counted under its route template (never the raw path) and timed."""
        method = method if method in KNOWN_METHODS else "other"  # clients choose it
        self._child(self.requests, route, method, str(status_code)).inc()
        self._child(self.latency, route).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI: times every HTTP request and counts it under its route template (never the raw path)."""

    def __init__(self, app, metrics_of):
        self.app = app
        self.metrics_of = metrics_of  # called per request: the metrics exist once the lifespan started

    async def __call__(self, scope, receive, send):
        metrics = self.metrics_of() if scope["type"] == "http" else None
        if metrics is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def record_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            metrics.answered(_template(scope), scope["method"], status[0], time.perf_counter() - started)


def _template(scope) -> str:
    route = scope.get("route")  # Starlette's router records the route it matched
    return route.path if route is not None else "unmatched"

"""What the simulators' outbound calls share (Shopline webhooks, Next Engine stock pushes): the
outcome of one attempt, and a log of every delivery with its attempts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx


def attempt(send: Callable[[], httpx.Response]) -> tuple[int | str, httpx.Response | None]:
    """One call: its HTTP status and answer, or "timeout" / "unreachable" and no answer."""
    try:
        answer = send()
    except httpx.TimeoutException:
        return "timeout", None
    except httpx.TransportError:
        return "unreachable", None
    return answer.status_code, answer


class DeliveryLog:
    """Every delivery in order (anything with `attempts` and `delivered`); safe across request threads."""

    def __init__(self) -> None:
        self._deliveries: list[Any] = []
        self._lock = threading.Lock()

    def add(self, delivery: Any) -> None:
        with self._lock:
            self._deliveries.append(delivery)

    def all(self) -> list[Any]:
        with self._lock:
            return list(self._deliveries)

    def summary(self) -> dict[str, int]:
        deliveries = self.all()
        return {"sent": len(deliveries),
                "attempts": sum(len(d.attempts) for d in deliveries),
                "delivered": sum(d.delivered for d in deliveries)}

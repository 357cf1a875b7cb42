"""Alerts for people: a webhook POST when HUB_NOTIFY_WEBHOOK_URL is set, else the log.

The webhook gets `{"title", "message", "severity", "details", "sentAt"}` as
JSON, with the same retries as every other outbound call; an alert that still
cannot be delivered is logged rather than failing the work that raised it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, timezone

from commerce_core.http.resilience import HttpCallError, ResilientHttpClient

SEVERITIES = ("info", "warning", "critical")


class Notifier(ABC):
    @abstractmethod
    def send(self, title: str, message: str, *, severity: str = "warning", details: dict | None = None) -> bool:
        """True when the alert reached its channel."""

    def close(self) -> None:
        """Release connections."""


class LogNotifier(Notifier):
    def __init__(self, log: Callable[[str], None]):
        self.log = log

    def send(self, title: str, message: str, *, severity: str = "warning", details: dict | None = None) -> bool:
        self.log(f"ALERT [{severity}] {title}: {message}" + (f" {details}" if details else ""))
        return True


class WebhookNotifier(Notifier):
    def __init__(self, http: ResilientHttpClient, url: str, fallback: LogNotifier):
        self.http = http
        self.url = url
        self.fallback = fallback

    def send(self, title: str, message: str, *, severity: str = "warning", details: dict | None = None) -> bool:
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
        body = {"title": title, "message": message, "severity": severity, "details": details or {},
                "sentAt": datetime.now(timezone.utc).isoformat()}
        try:
            self.http.post_json(self.url, body)
            return True
        except HttpCallError as error:
            self.fallback.send(title, f"{message} (webhook failed: {error})", severity=severity, details=details)
            return False

    def close(self) -> None:
        self.http.close()

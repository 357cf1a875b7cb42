"""The Next Engine simulator's stock pushes (在庫連携, docs/protocols/nextengine.md "Stock push"): signed GETs to
our edge, the way Next Engine calls a generic shop when free stock changes.

Each push is `GET {url}?StoreAccount=&Code=&Stock=&ts=&.sig=` (in that order; values UTF-8,
percent-encoded), `Stock` empty for unlimited stock, `ts` Japan time `YYYYMMDDhhmmss`, and `.sig`
the lowercase hex MD5 the stock service verifies, computed by the same function
(commerce_core.stock.nextengine_push.expected_signature). The EUC-JP XML answer's `Processed`
is read: 0 delivered, -2 refused for good, -3 (or a 5xx, a timeout, no connection) retried
after a short delay up to `max_attempts` in all, with the SAME ts and .sig, so the receiver
sees a replay and applies it once. Sending happens inside the admin call, which answers with
what each push saw; GET /_sim/pushes lists them all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote_from_bytes

import httpx
from lxml import etree

from commerce_core.stock.nextengine_push import (
    JST,
    PARAMETER_ORDER,
    PROCESSED_OK,
    PROCESSED_SYSTEM_ERROR,
    expected_signature,
)
from simulators.deliveries import DeliveryLog, attempt

PUSH_TIMEOUT_SECONDS = 1.0  # the contract's answer deadline for our edge
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class PushTarget:
    """Where the simulated Next Engine sends stock pushes, for which shop, signed with which key."""

    url: str  # e.g. http://127.0.0.1:8000/webhooks/nextengine/stock
    store_account: str
    key: str = field(repr=False)  # the shop's authentication key: a secret, kept out of reprs and logs
    timeout_seconds: float = PUSH_TIMEOUT_SECONDS
    max_attempts: int = MAX_ATTEMPTS
    retry_delay_seconds: float = 0.2


@dataclass
class PushDelivery:
    params: dict[str, str]  # the query as sent, in order (StoreAccount, Code, Stock, ts, .sig)
    # One entry per attempt: {"status": HTTP status | "timeout" | "unreachable", "processed": int | None}
    attempts: list[dict] = field(default_factory=list)
    processed: int | None = None  # Processed of the last answer; None when it had no readable one
    delivered: bool = False  # answered Processed 0


def format_ts(moment: datetime) -> str:
    return moment.astimezone(JST).strftime("%Y%m%d%H%M%S")


def signed_params(target: PushTarget, code: str, stock: int | None, ts: str) -> dict[str, str]:
    values = {"StoreAccount": target.store_account, "Code": code, "Stock": "" if stock is None else str(stock),
              "ts": ts}
    sig = expected_signature({name: value.encode("utf-8") for name, value in values.items()}, target.key)
    return {**values, ".sig": sig}


def query_string(params: dict[str, str]) -> str:
    # quote everything (safe=""): a Code may hold '&', '=', '+' or Japanese text
    return "&".join(f"{name}={quote_from_bytes(params[name].encode('utf-8'), safe='')}" for name in PARAMETER_ORDER)


def processed_of(body: bytes) -> int | None:
    """The `Processed` value of a ShoppingUpdateStock answer (EUC-JP, as the XML declares), or None."""
    try:
        text = etree.fromstring(body).findtext(".//Processed")
        return int(text) if text is not None else None
    except (etree.XMLSyntaxError, ValueError):
        return None


class StockPusher:
    """Sends stock pushes to the target and keeps a log of every delivery."""

    def __init__(self, target: PushTarget, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.target = target
        self.now = now  # the simulator passes its own clock, so an advanced clock sends a later ts
        self.deliveries = DeliveryLog()

    def push(self, items: list[tuple[str, int | None]], ts: str | None = None) -> list[PushDelivery]:
        """Push (code, stock | None = unlimited) items in order, all stamped `ts` (default: now); blocking."""
        ts = ts if ts is not None else format_ts(self.now())
        with httpx.Client(timeout=self.target.timeout_seconds) as client:
            return [self._deliver(client, signed_params(self.target, code, stock, ts)) for code, stock in items]

    def _deliver(self, client: httpx.Client, params: dict[str, str]) -> PushDelivery:
        target = self.target
        delivery = PushDelivery(params=params)
        separator = "&" if "?" in target.url else "?"
        url = f"{target.url}{separator}{query_string(params)}"
        for number in range(target.max_attempts):
            if number:
                time.sleep(target.retry_delay_seconds)
            status, answer = attempt(lambda: client.get(url))
            processed = processed_of(answer.content) if answer is not None else None
            delivery.attempts.append({"status": status, "processed": processed})
            delivery.processed = processed
            # Only a system-side failure is worth repeating: -2 (a client error) would be refused again.
            if not (isinstance(status, str) or status >= 500 or processed == PROCESSED_SYSTEM_ERROR):
                break
        delivery.delivered = delivery.processed == PROCESSED_OK
        self.deliveries.add(delivery)
        return delivery

    def log(self) -> list[dict]:
        return [asdict(delivery) for delivery in self.deliveries.all()]

    def summary(self) -> dict[str, int]:
        return self.deliveries.summary()

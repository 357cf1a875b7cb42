"""Next Engine REST client (docs/protocols/nextengine.md): form-encoded calls, tokens rotating on every call.

Every answer, even an error, may carry a new access/refresh pair; it is
persisted (token_store) before the answer is looked at, so a crash right after
a call loses nothing. The platform retires a pair as soon as it issues the
next, so the calls of one shop take turns: in a process, in arrival order
(a fair lock per shop); across processes, through a lock held in the database
from reading the pair until the next one is committed (token_store.turn). A
call therefore always sends the newest pair; a caller waits for its turn, up to
`lock_timeout` seconds (then TokensBusy, naming the shop, and nothing is sent).
A call after the access token expired works through the refresh token, which
Next Engine accepts in the same call.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine

from commerce_core.connectors import token_store
from commerce_core.connectors.token_store import TokenPair
from commerce_core.http.resilience import ResilientHttpClient

PLATFORM = "nextengine"
JST = timezone(timedelta(hours=9))
MAX_LIMIT = 10_000
# How long a call waits for the other calls of its shop (each holds the tokens for one API call,
# retries included) before giving up with TokensBusy.
LOCK_TIMEOUT_SECONDS = 120.0
_LOCKS_GUARD = threading.Lock()


class NextEngineError(RuntimeError):
    def __init__(self, path: str, code: str, message: str):
        super().__init__(f"{path}: Next Engine error {code}: {message}")
        self.code = code


def _end_date(value) -> datetime | None:
    """'YYYY-MM-DD hh:mm:ss' in Japan time -> aware UTC (None when absent or malformed)."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=JST).astimezone(timezone.utc)
    except ValueError:
        return None


def issued_pair(body: Mapping) -> TokenPair | None:
    if not isinstance(body, Mapping) or not body.get("access_token") or not body.get("refresh_token"):
        return None
    return TokenPair(str(body["access_token"]), str(body["refresh_token"]),
                     _end_date(body.get("access_token_end_date")), _end_date(body.get("refresh_token_end_date")))


class FairLock:
    """A lock taken in arrival order (a threading.Lock lets the thread that releases it take it straight
    back, so a busy caller could keep another waiting)."""

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._waiting: deque[object] = deque()
        self._held = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = object()
        with self._changed:
            self._waiting.append(me)
            my_turn = self._changed.wait_for(lambda: not self._held and self._waiting[0] is me,
                                             timeout if blocking and timeout >= 0 else None if blocking else 0)
            if my_turn:
                self._held = True
            self._waiting.remove(me)
            self._changed.notify_all()  # the next in line may be first now
            return my_turn

    def release(self) -> None:
        with self._changed:
            if not self._held:
                raise RuntimeError("release of an unheld FairLock")
            self._held = False
            self._changed.notify_all()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


_SHOP_LOCKS: dict[str, FairLock] = {}


def _shop_lock(shop: str) -> FairLock:
    with _LOCKS_GUARD:
        return _SHOP_LOCKS.setdefault(shop, FairLock())


class NextEngineClient:
    def __init__(self, http: ResilientHttpClient, engine: Engine, shop: str, *,
                 lock: FairLock | threading.Lock | None = None, lock_timeout: float = LOCK_TIMEOUT_SECONDS):
        self.http = http
        self.engine = engine
        self.shop = shop
        # One lock per shop and process unless given; between processes the database lock decides.
        self.lock = lock or _shop_lock(shop)
        self.lock_timeout = lock_timeout

    def call(self, path: str, fields: Mapping[str, str] | None = None) -> dict:
        deadline = time.monotonic() + self.lock_timeout
        if not self.lock.acquire(timeout=self.lock_timeout):
            raise token_store.TokensBusy(PLATFORM, self.shop, self.lock_timeout)
        try:
            with token_store.turn(self.engine, PLATFORM, self.shop, max(0.0, deadline - time.monotonic()),
                                  waited_for=self.lock_timeout) as turn:
                body = self.http.post_form(path, {**(fields or {}), "access_token": turn.used.access_token,
                                                  "refresh_token": turn.used.refresh_token})
                new = issued_pair(body)
                if new is not None:  # before anything else is done with the answer; ends the turn
                    turn.store(new)
        finally:
            self.lock.release()
        if isinstance(body, dict) and body.get("result") == "success":
            return body
        code = str(body.get("code", "")) if isinstance(body, dict) else ""
        message = str(body.get("message", body)) if isinstance(body, dict) else str(body)[:200]
        raise NextEngineError(path, code, message)

    def search(self, path: str, *, limit: int = 1000, fields: Mapping[str, str] | None = None) -> Iterator[list[dict]]:
        """Every record, a page at a time (offset + limit), until a short page or `count` is reached."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIMIT}, got {limit}")
        offset = 0
        while True:
            body = self.call(path, {**(fields or {}), "offset": str(offset), "limit": str(limit)})
            page = body.get("data") or []
            if page:
                yield page
            offset += len(page)
            total = int(body.get("count") or 0)
            if len(page) < limit or offset >= total:
                return

    def close(self) -> None:
        self.http.close()

"""Next Engine REST client (docs/protocols/nextengine.md): form-encoded calls, tokens rotating on every call.

Every answer, even an error, may carry a new access/refresh pair; it is
persisted (token_store) before the answer is looked at, so a crash right after
a call loses nothing. Calls of one shop are serialised within a process (the
platform retires a pair as soon as it issues the next); across processes a call
that lost the race — its pair retired by another process's call — re-reads the
stored pair and tries again, a few times, before reporting the error. A call after the access token expired works
through the refresh token, which Next Engine accepts in the same call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine

from commerce_core.connectors import token_store
from commerce_core.connectors.token_store import TokenPair
from commerce_core.http.resilience import ResilientHttpClient

PLATFORM = "nextengine"
JST = timezone(timedelta(hours=9))
MAX_LIMIT = 10_000
TOKEN_ATTEMPTS = 5  # a refused pair is re-read this often (0.02 .. 0.16 s apart) before giving up
_SHOP_LOCKS: dict[str, threading.Lock] = {}
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


def _shop_lock(shop: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _SHOP_LOCKS.setdefault(shop, threading.Lock())


class NextEngineClient:
    def __init__(self, http: ResilientHttpClient, engine: Engine, shop: str, *, lock: threading.Lock | None = None):
        self.http = http
        self.engine = engine
        self.shop = shop
        # One lock per shop and process unless given (another process has its own: the store settles races).
        self.lock = lock or _shop_lock(shop)

    def call(self, path: str, fields: Mapping[str, str] | None = None) -> dict:
        with self.lock:
            for attempt in range(TOKEN_ATTEMPTS):
                with self.engine.connect() as conn:
                    used = token_store.load(conn, PLATFORM, self.shop)
                body = self.http.post_form(path, {**(fields or {}), "access_token": used.access_token,
                                                  "refresh_token": used.refresh_token})
                new = issued_pair(body)
                if new is not None:  # before anything else is done with the answer
                    with self.engine.begin() as conn:
                        token_store.save_rotated(conn, PLATFORM, self.shop, used, new)
                if isinstance(body, dict) and body.get("result") == "success":
                    return body
                code = str(body.get("code", "")) if isinstance(body, dict) else ""
                message = str(body.get("message", body)) if isinstance(body, dict) else str(body)[:200]
                if not code.startswith("002") or attempt == TOKEN_ATTEMPTS - 1:
                    raise NextEngineError(path, code, message)
                # Token refused: another process's call may have retired our pair; its answer (and the
                # pair that came with it) is stored within moments.
                time.sleep(0.02 * 2 ** attempt)
        raise AssertionError("unreachable")

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

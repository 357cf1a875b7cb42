"""OAuth tokens per platform and shop, for APIs that rotate them on every call (Next Engine).

The rule of the contract: the new pair that comes back with any answer is
persisted before anything else is done with that answer. A pair is only
written over the pair the call used (compare-and-set), or over an older one,
so a slow answer can never put back a pair the platform already retired.

`turn()` gives one caller at a time, across processes, the shop's pair: a lock
held in the database from reading the pair until the next pair is stored
(PostgreSQL: the token row, SELECT ... FOR UPDATE; SQLite: the database's write
lock, BEGIN IMMEDIATE). The next caller waits and then reads the newest pair.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, insert, or_, select, update
from sqlalchemy.exc import OperationalError

from commerce_core.db.cursors import utcnow
from commerce_core.db.schema import oauth_tokens

_PG_LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout expired
_SQLITE_BUSY = 5


class TokensMissing(RuntimeError):
    """No tokens for this platform and shop: the shop must be authorised first."""


class TokensBusy(TimeoutError):
    """Other calls of the shop kept its tokens longer than this caller would wait; nothing was sent."""

    def __init__(self, platform: str, shop: str, timeout: float):
        super().__init__(f"gave up after {timeout:g} s waiting for the {platform} tokens of shop {shop}: other "
                         f"calls of this shop held them all that time; nothing was sent")
        self.platform = platform
        self.shop = shop


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None


def load(conn: Connection, platform: str, shop: str) -> TokenPair:
    row = conn.execute(select(oauth_tokens).where(oauth_tokens.c.platform == platform,
                                                  oauth_tokens.c.shop == shop)).first()
    return _pair(row, platform, shop)


def _pair(row, platform: str, shop: str) -> TokenPair:
    if row is None:
        raise TokensMissing(f"no {platform} tokens for shop {shop}: authorise the shop first")
    return TokenPair(row.access_token, row.refresh_token, row.access_token_expires_at, row.refresh_token_expires_at)


def authorise(conn: Connection, platform: str, shop: str, pair: TokenPair) -> None:
    """Store the pair an authorisation produced (replacing whatever was there)."""
    values = {"access_token": pair.access_token, "refresh_token": pair.refresh_token,
              "access_token_expires_at": pair.access_expires_at, "refresh_token_expires_at": pair.refresh_expires_at,
              "updated_at": utcnow()}
    updated = conn.execute(update(oauth_tokens).where(oauth_tokens.c.platform == platform,
                                                      oauth_tokens.c.shop == shop).values(**values)).rowcount
    if not updated:
        conn.execute(insert(oauth_tokens).values(platform=platform, shop=shop, rotations=0, **values))


def save_rotated(conn: Connection, platform: str, shop: str, used: TokenPair, new: TokenPair) -> bool:
    """Persist `new` unless another call already stored a pair at least as new; True when written."""
    tokens = oauth_tokens.c
    newer_than_stored = or_(tokens.access_token_expires_at.is_(None),
                            tokens.access_token_expires_at < new.access_expires_at) \
        if new.access_expires_at is not None else tokens.access_token == used.access_token
    return conn.execute(
        update(oauth_tokens)
        .where(tokens.platform == platform, tokens.shop == shop,
               or_(tokens.access_token == used.access_token, newer_than_stored))
        .values(access_token=new.access_token, refresh_token=new.refresh_token,
                access_token_expires_at=new.access_expires_at, refresh_token_expires_at=new.refresh_expires_at,
                rotations=tokens.rotations + 1, updated_at=utcnow())
    ).rowcount == 1


class Turn:
    """One caller's exclusive use of a shop's tokens: `used` is the newest stored pair."""

    def __init__(self, conn: Connection, platform: str, shop: str, used: TokenPair):
        self._conn = conn
        self.platform = platform
        self.shop = shop
        self.used = used
        self.stored = False

    def store(self, new: TokenPair) -> bool:
        """Persist the pair the call produced and commit, which ends the turn (the next caller reads it)."""
        written = save_rotated(self._conn, self.platform, self.shop, self.used, new)
        self._conn.commit()
        self.stored = True
        return written


@contextmanager
def turn(engine: Engine, platform: str, shop: str, timeout: float, *,
         waited_for: float | None = None) -> Iterator[Turn]:
    """Wait (at most `timeout` seconds, else TokensBusy) until no other connection holds the shop's
    tokens, then hold them until `Turn.store` or the end of the block. waited_for: the caller's whole
    wait, for the error message, when part of it was spent before (the caller's own lock)."""
    wait_ms = max(1, int(timeout * 1000))  # 0 would mean "forever" to PostgreSQL
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        try:
            if sqlite:
                # The database's single write lock; a reader (WAL) is never blocked by it.
                busy_ms = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {wait_ms}")
                try:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                finally:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(busy_ms)}")
            else:
                # Waiters queue on the row lock in arrival order; SET LOCAL settings end with the transaction.
                # The holder is idle in its transaction while the API answers: no server timeout may end it.
                conn.execute(select(func.set_config("lock_timeout", f"{wait_ms}ms", True),
                                    func.set_config("idle_in_transaction_session_timeout", "0", True)))
            row = conn.execute(select(oauth_tokens).where(oauth_tokens.c.platform == platform,
                                                          oauth_tokens.c.shop == shop)
                               .with_for_update()).first()  # FOR UPDATE is left out on SQLite
        except OperationalError as error:
            if _lock_timed_out(error):
                raise TokensBusy(platform, shop, timeout if waited_for is None else waited_for) from error
            raise
        current = Turn(conn, platform, shop, _pair(row, platform, shop))
        try:
            yield current
        finally:
            if not current.stored:
                conn.rollback()  # nothing written: just let the next caller in


def _lock_timed_out(error: OperationalError) -> bool:
    orig = error.orig
    if _PG_LOCK_NOT_AVAILABLE in (getattr(orig, "pgcode", None), getattr(orig, "sqlstate", None)):
        return True
    return (getattr(orig, "sqlite_errorcode", 0) or 0) & 0xFF == _SQLITE_BUSY or "database is locked" in str(orig)

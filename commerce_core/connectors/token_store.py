"""OAuth tokens per platform and shop, for APIs that rotate them on every call (Next Engine).

The rule of the contract: the new pair that comes back with any answer is
persisted before anything else is done with that answer. A pair is only
written over the pair the call used (compare-and-set), or over an older one,
so a slow answer can never put back a pair the platform already retired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, or_, select, update

from commerce_core.db.cursors import utcnow
from commerce_core.db.schema import oauth_tokens


class TokensMissing(RuntimeError):
    """No tokens for this platform and shop: the shop must be authorised first."""


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None


def load(conn: Connection, platform: str, shop: str) -> TokenPair:
    row = conn.execute(select(oauth_tokens).where(oauth_tokens.c.platform == platform,
                                                  oauth_tokens.c.shop == shop)).first()
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

"""Tenants and their E0501 number pools in the database.

Every read of tenant data filters by tenant_id. The one deliberate exception is
the overlap check of a new range: a track and number identify an invoice across
the whole country, so a range that overlaps *anyone's* registered range is
refused — the answer says only that it overlaps, never whose range it hit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, insert, select, update

from commerce_core.db.cursors import utcnow
from commerce_core.db.schema import invoice_number_pools as pools
from commerce_core.db.schema import tenants
from commerce_core.einvoice.ban import is_valid_ban
from commerce_core.einvoice.e0501 import AssignedRange, E0501Rejected
from commerce_core.einvoice.f0401 import Seller


class TenantError(ValueError):
    """A tenant cannot be registered or used; the message says why."""


@dataclass(frozen=True)
class Tenant:
    id: int
    ban: str
    name: str
    address: str
    status: str

    @property
    def seller(self) -> Seller:
        return Seller(self.ban, self.name, self.address)


def add_tenant(conn: Connection, ban: str, name: str, address: str = "") -> Tenant:
    if not is_valid_ban(ban):
        raise TenantError(f"BAN {ban!r} fails the BAN checksum")
    if not 1 <= len(name) <= 60 or len(address) > 100:
        raise TenantError("a tenant needs a name of 1–60 characters and an address of at most 100")
    if tenant_by_ban(conn, ban) is not None:
        raise TenantError(f"tenant {ban} is already registered")
    conn.execute(insert(tenants).values(ban=ban, name=name, address=address, status="active", created_at=utcnow()))
    return tenant_by_ban(conn, ban)


def tenant_by_ban(conn: Connection, ban: str) -> Tenant | None:
    row = conn.execute(select(tenants).where(tenants.c.ban == ban)).mappings().first()
    return Tenant(row["id"], row["ban"], row["name"], row["address"], row["status"]) if row else None


def tenants_by_id(conn: Connection, ids) -> dict[int, Tenant]:
    rows = conn.execute(select(tenants).where(tenants.c.id.in_(list(ids)))).mappings()
    return {row["id"]: Tenant(row["id"], row["ban"], row["name"], row["address"], row["status"]) for row in rows}


def active_tenant(conn: Connection, ban: str) -> Tenant:
    tenant = tenant_by_ban(conn, ban)
    if tenant is None:
        raise TenantError(f"tenant {ban} is not registered (hub einvoice add-tenant)")
    if tenant.status != "active":
        raise TenantError(f"tenant {ban} is {tenant.status}")
    return tenant


def register_range(conn: Connection, tenant: Tenant, assigned: AssignedRange, source: str) -> int:
    """Store an E0501 range as the tenant's pool; refuse a foreign, repeated or overlapping one."""
    if assigned.ban != tenant.ban:
        raise E0501Rejected("ban-mismatch", f"{source}: Ban {assigned.ban} is not tenant {tenant.ban}")
    if conn.dialect.name == "postgresql":  # two files for the same track at once must not both pass the check
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(
            func.concat(func.current_schema(), f":e0501:{assigned.period}:{assigned.track}")))))
    clash = conn.execute(
        select(pools.c.tenant_id, pools.c.begin_no, pools.c.end_no, pools.c.source).where(
            pools.c.period == assigned.period, pools.c.track == assigned.track,
            pools.c.begin_no <= assigned.end_no, pools.c.end_no >= assigned.begin_no)
    ).first()
    if clash is not None:
        if clash.tenant_id == tenant.id and (clash.begin_no, clash.end_no) == (assigned.begin_no, assigned.end_no):
            raise E0501Rejected("repeated-range", f"{source}: {assigned.label()} is already registered "
                                f"(from {clash.source})")
        raise E0501Rejected("overlapping-range", f"{source}: {assigned.label()} overlaps a range already registered")
    result = conn.execute(insert(pools).values(
        tenant_id=tenant.id, period=assigned.period, invoice_type=assigned.invoice_type, track=assigned.track,
        begin_no=assigned.begin_no, end_no=assigned.end_no, next_no=assigned.begin_no,
        booklets=assigned.booklets, source=source[:500], created_at=utcnow()))
    return result.inserted_primary_key[0]


@dataclass(frozen=True)
class PoolStatus:
    period: str
    invoice_type: str
    track: str
    begin_no: int
    end_no: int
    used: int
    left: int


def pool_status(conn: Connection, tenant_id: int, period: str | None = None) -> list[PoolStatus]:
    query = select(pools).where(pools.c.tenant_id == tenant_id)
    if period:
        query = query.where(pools.c.period == period)
    rows = conn.execute(query.order_by(pools.c.period, pools.c.track, pools.c.begin_no)).mappings()
    return [PoolStatus(r["period"], r["invoice_type"], r["track"], r["begin_no"], r["end_no"],
                       r["next_no"] - r["begin_no"], r["end_no"] + 1 - r["next_no"]) for r in rows]


def lock_pools(conn: Connection, tenant_id: int, period: str, invoice_type: str) -> list[dict]:
    """Take the write lock on the tenant's ranges for the period, then read them, oldest first.

    The no-op UPDATE is the lock on both databases: PostgreSQL row locks held to
    commit, and on SQLite the write lock taken before anything is read, so a
    second batch for the same pool waits here and then sees the first one's numbers.
    """
    scope = and_(pools.c.tenant_id == tenant_id, pools.c.period == period, pools.c.invoice_type == invoice_type)
    conn.execute(update(pools).where(scope).values(next_no=pools.c.next_no))
    rows = conn.execute(select(pools.c.id, pools.c.track, pools.c.next_no, pools.c.end_no).where(scope)
                        .order_by(pools.c.track, pools.c.begin_no)).mappings()
    return [dict(row) for row in rows]


def advance_pool(conn: Connection, tenant_id: int, pool_id: int, next_no: int) -> None:
    conn.execute(update(pools).where(pools.c.tenant_id == tenant_id, pools.c.id == pool_id).values(next_no=next_no))

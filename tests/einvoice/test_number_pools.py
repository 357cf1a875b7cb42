"""Number pools on SQLite and PostgreSQL: ranges, concurrent batches without gaps or duplicates,
exhaustion, and tenant isolation."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import select

from commerce_core.db.engine import get_engine
from commerce_core.db.schema import invoices
from commerce_core.einvoice import invoice_store
from commerce_core.einvoice.e0501 import AssignedRange, E0501Rejected
from commerce_core.einvoice.invoice_store import PoolExhausted, assign_numbers
from commerce_core.einvoice.tenancy import TenantError, add_tenant, pool_status, register_range
from tests.einvoice.helpers import SELLER_A, SELLER_B, consumer_rows, tenant_with_pool, upload


def _numbers(engine, tenant_id: int) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(select(invoices.c.invoice_number).where(
            invoices.c.tenant_id == tenant_id, invoices.c.invoice_number.is_not(None))).scalars().all()
    return sorted(int(number[2:]) for number in rows)


def test_ranges_overlapping_repeated_or_foreign_are_refused(database_url):
    engine = get_engine(database_url)
    tenant = tenant_with_pool(engine, SELLER_A, begin=10000000, size=100)
    other = tenant_with_pool(engine, SELLER_B, size=0)
    cases = [
        (tenant, AssignedRange(SELLER_A, "07", "11402", "AB", 10000000, 10000099, 2), "repeated-range"),
        (tenant, AssignedRange(SELLER_A, "07", "11402", "AB", 10000050, 10000149, 2), "overlapping-range"),
        (other, AssignedRange(SELLER_B, "07", "11402", "AB", 10000000, 10000049, 1), "overlapping-range"),
        (other, AssignedRange(SELLER_A, "07", "11402", "AB", 20000000, 20000049, 1), "ban-mismatch"),
    ]
    for owner, assigned, rule in cases:
        with pytest.raises(E0501Rejected) as refused, engine.begin() as conn:
            register_range(conn, owner, assigned, "case")
        assert refused.value.rule == rule
        if rule == "overlapping-range" and owner is other:
            assert SELLER_A not in str(refused.value)  # never says whose range it hit
    with engine.begin() as conn:  # the same numbers in another track or period are a different range
        register_range(conn, tenant, AssignedRange(SELLER_A, "07", "11402", "AC", 10000000, 10000049, 1), "ok")
        register_range(conn, tenant, AssignedRange(SELLER_A, "07", "11404", "AB", 10000000, 10000049, 1), "ok")
        assert [p.left for p in pool_status(conn, tenant.id)] == [100, 50, 50]
        assert pool_status(conn, other.id) == []
        with pytest.raises(TenantError):
            add_tenant(conn, "88117126", "Bad BAN")


def test_concurrent_batches_hand_out_every_number_once_without_gaps(database_url):
    """Eight days of one tenant's period numbered by eight threads at once, each its own transaction."""
    engine = get_engine(database_url)
    tenant = tenant_with_pool(engine, SELLER_A, begin=10000000, size=1000)
    days = [f"2025-01-{day:02d}" for day in range(10, 18)]
    for day in days:
        upload(engine, tenant, consumer_rows(SELLER_A, 60, day, prefix=f"D{day[-2:]}-"), name=f"{day}.csv")
    errors, start = [], threading.Barrier(len(days))

    def batch(day: str) -> None:
        try:
            start.wait()
            assign_numbers(engine, tenant, date.fromisoformat(day))
        except Exception as error:  # noqa: BLE001 - reported below, with the day
            errors.append(f"{day}: {error!r}")

    threads = [threading.Thread(target=batch, args=(day,)) for day in days]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = _numbers(engine, tenant.id)
    assert numbers == list(range(10000000, 10000000 + 8 * 60))  # all, once each, no gap
    with engine.connect() as conn:
        assert pool_status(conn, tenant.id)[0].left == 1000 - 480
    # A second wave on the same days finds nothing to number.
    for day in days:
        assert assign_numbers(engine, tenant, date.fromisoformat(day)).assigned == 0
    assert _numbers(engine, tenant.id) == numbers


def test_same_day_batches_at_once_do_not_share_numbers(database_url):
    engine = get_engine(database_url)
    tenant = tenant_with_pool(engine, SELLER_A, size=500)
    upload(engine, tenant, consumer_rows(SELLER_A, 300))
    results, start = [], threading.Barrier(4)

    def batch():
        start.wait()
        results.append(assign_numbers(engine, tenant, date(2025, 1, 15)).assigned)

    threads = [threading.Thread(target=batch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 0, 0, 300]
    assert _numbers(engine, tenant.id) == list(range(10000000, 10000300))


def test_exhausted_pool_numbers_what_fits_and_says_how_many_wait(database_url):
    engine = get_engine(database_url)
    tenant = tenant_with_pool(engine, SELLER_A, size=50)
    upload(engine, tenant, consumer_rows(SELLER_A, 70))
    with pytest.raises(PoolExhausted) as exhausted:
        assign_numbers(engine, tenant, date(2025, 1, 15))
    assert exhausted.value.waiting == 20 and "11402" in str(exhausted.value)
    assert _numbers(engine, tenant.id) == list(range(10000000, 10000050))
    with engine.begin() as conn:  # a new E0501 range lets the rest through, from the new range
        register_range(conn, tenant, AssignedRange(SELLER_A, "07", "11402", "AD", 0, 49, 1), "second")
    assert assign_numbers(engine, tenant, date(2025, 1, 15)).assigned == 20
    with engine.connect() as conn:
        assert invoice_store.count_by_status(conn, "accepted") == 0


def test_a_tenant_never_numbers_or_reads_another_tenants_invoices(database_url):
    engine = get_engine(database_url)
    tenant_a = tenant_with_pool(engine, SELLER_A, track="AB", size=100)
    tenant_b = tenant_with_pool(engine, SELLER_B, track="XY", size=100)
    # B uploads rows that claim to be A's: every one is rejected, nothing lands under either tenant.
    stored = upload(engine, tenant_b, consumer_rows(SELLER_A, 5) + consumer_rows(SELLER_B, 3, prefix="B"))
    assert (stored.accepted, stored.rejected) == (3, 5)
    with engine.connect() as conn:
        page = invoice_store.upload_rejects_page(conn, tenant_b.id, stored.upload_id)
        assert {row["rule"] for row in page} == {"tenant"}
        assert invoice_store.upload_rejects_page(conn, tenant_a.id, stored.upload_id) == []
        assert invoice_store.upload_log_page(conn, tenant_a.id) == []
        assert invoice_store.documents_to_write(conn, tenant_a.id, date(2025, 1, 15)) == []
    assert assign_numbers(engine, tenant_a, date(2025, 1, 15)).assigned == 0
    numbering = assign_numbers(engine, tenant_b, date(2025, 1, 15))
    assert (numbering.assigned, numbering.first) == (3, "XY10000000")
    with engine.connect() as conn:
        assert pool_status(conn, tenant_a.id)[0].used == 0


def test_reject_pages_and_duplicate_orders(database_url):
    engine = get_engine(database_url)
    tenant = tenant_with_pool(engine, SELLER_A)
    bad = [f"{SELLER_A},BAD{i},2025-01-15,08:00:00,,,,,0,,Q,x,1,1,1,1" for i in range(230)]
    stored = upload(engine, tenant, consumer_rows(SELLER_A, 10) + bad)
    assert (stored.accepted, stored.rejected) == (10, 230)
    with engine.connect() as conn:
        pages = [invoice_store.upload_rejects_page(conn, tenant.id, stored.upload_id, page=n) for n in (1, 2, 3, 4)]
    assert [len(page) for page in pages] == [100, 100, 30, 0]
    assert pages[0][0]["row_numbers"] == "12" and pages[0][0]["rule"] == "print-mark"
    again = upload(engine, tenant, consumer_rows(SELLER_A, 12), name="again.csv")  # O0..O9 exist already
    assert (again.accepted, again.rejected) == (2, 10)


def test_two_uploads_of_one_order_at_once_make_one_invoice(database_url):
    engine = get_engine(database_url)
    tenant = tenant_with_pool(engine, SELLER_A)
    start, outcomes = threading.Barrier(2), []

    def send(day: str) -> None:
        start.wait()
        try:
            outcomes.append(upload(engine, tenant, consumer_rows(SELLER_A, 1, day, prefix="SAME"), name=day))
        except Exception as error:  # noqa: BLE001 - SQLite may refuse the late writer outright; that is fine too
            outcomes.append(error)

    threads = [threading.Thread(target=send, args=(day,)) for day in ("2025-01-15", "2025-01-16")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as conn:
        assert conn.execute(select(invoices.c.order_id).where(invoices.c.tenant_id == tenant.id)).scalars().all() \
            == ["SAME0"]
    accepted = [o.accepted for o in outcomes if not isinstance(o, Exception)]
    assert sorted(accepted) in ([0, 1], [1])

"""F0401 files into Turnkey's SRC, Turnkey's answers back, resends with backoff, archiving: both databases."""

from __future__ import annotations

import gzip
import hashlib
from datetime import date, timedelta

import pytest
from lxml import etree
from sqlalchemy import select, update

from commerce_core.db.cursors import set_cursor, utcnow
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import invoices
from commerce_core.einvoice import invoice_store, schemas
from commerce_core.einvoice.issuing import issue_day, write_documents
from commerce_core.einvoice.partitions import ArchiveRefused, archive_month, months_present
from commerce_core.einvoice.results import read_results, resend_due
from commerce_core.einvoice.turnkey import TurnkeyFolders
from simulators.turnkey import TurnkeySimulator
from tests.einvoice.helpers import BUYER, SELLER_A, consumer_rows, tenant_with_pool, upload

DAY = date(2025, 1, 15)


def _files(folder) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.iterdir()
            if not path.name.startswith(".")}


def _statuses(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(invoices.c.order_id, invoices.c.status)).all())


@pytest.fixture
def folders(tmp_path) -> TurnkeyFolders:
    return TurnkeyFolders(tmp_path / "turnkey").create()


def test_every_file_is_xsd_valid_and_a_rerun_writes_nothing_new(database_url, folders):
    engine = get_engine(database_url)
    tenant = tenant_with_pool(engine, SELLER_A)
    b2b = f"{SELLER_A},B2B,2025-01-15,09:00:00,{BUYER},Acme & Sons <Ltd>,,,0,,Y,Diesel,10,28,280,1"
    upload(engine, tenant, consumer_rows(SELLER_A, 20) + [b2b])
    issued = issue_day(engine, folders, tenant, DAY)
    assert (issued.numbering.assigned, issued.written, issued.errors) == (21, 21, [])
    written = _files(folders.src)
    assert sorted(written) == [f"F0401_{SELLER_A}_AB{n:08d}.xml" for n in range(10000000, 10000021)]
    for name in written:
        schemas.validate("F0401", etree.parse(str(folders.src / name)).getroot())
    assert not list(folders.src.glob(".*"))  # no temporary file left behind
    again = issue_day(engine, folders, tenant, DAY)
    assert (again.numbering.assigned, again.written) == (0, 0)
    assert _files(folders.src) == written
    assert set(_statuses(engine).values()) == {"uploaded"}


def test_a_crash_after_writing_is_not_written_twice_and_a_changed_invoice_is_refused(database_url, folders):
    engine = get_engine(database_url)
    tenant = tenant_with_pool(engine, SELLER_A)
    upload(engine, tenant, consumer_rows(SELLER_A, 3))
    invoice_store.assign_numbers(engine, tenant, DAY)
    with engine.connect() as conn:
        pending = invoice_store.documents_to_write(conn, tenant.id, DAY)
    # First attempt: hashes recorded and files written, then the process died before marking them.
    write_documents(engine, folders, tenant, DAY, pending)
    with engine.begin() as conn:
        conn.execute(update(invoices).values(status="numbered"))
    TurnkeySimulator(folders.root).process_pending()  # Turnkey took them meanwhile (SRC → BAK)
    with engine.connect() as conn:
        pending = invoice_store.documents_to_write(conn, tenant.id, DAY)
    assert [item.file_sha256 is not None for item in pending] == [True] * 3
    assert write_documents(engine, folders, tenant, DAY, pending)[:2] == (0, 3)
    assert _files(folders.src) == {}
    # Someone edits an issued invoice: the same invoice would now give different bytes.
    with engine.begin() as conn:
        conn.execute(update(invoices).where(invoices.c.order_id == "O1").values(status="numbered", buyer_name="X"))
    with engine.connect() as conn:
        pending = invoice_store.documents_to_write(conn, tenant.id, DAY)
    written, _, errors = write_documents(engine, folders, tenant, DAY, pending)
    assert written == 0 and len(errors) == 1 and "different bytes" in errors[0]


def test_turnkey_answers_confirm_or_fail_and_failures_are_resent_with_backoff(database_url, folders):
    engine = get_engine(database_url)
    tenant = tenant_with_pool(engine, SELLER_A)
    upload(engine, tenant, consumer_rows(SELLER_A, 4))
    issue_day(engine, folders, tenant, DAY)
    TurnkeySimulator(folders.root, error_rate=1.0).process_pending()  # the platform refuses everything
    read = read_results(engine, folders)
    assert (read.confirmed, read.failed, read.unreadable) == (0, 4, [])
    assert set(_statuses(engine).values()) == {"failed"}
    assert read_results(engine, folders).failed == 0  # the same answers twice change nothing
    with engine.connect() as conn:
        first_retry = conn.execute(select(invoices.c.next_attempt_at)).scalars().first()
    assert timedelta(seconds=50) < first_retry - utcnow() <= timedelta(minutes=1)
    assert resend_due(engine, folders, utcnow()).files == 0  # not yet
    gaps = []
    for attempt in range(1, 6):  # five resends, each refused again
        with engine.connect() as conn:
            row = conn.execute(select(invoices.c.next_attempt_at, invoices.c.uploaded_at)).first()
        gaps.append(row.next_attempt_at - row.uploaded_at)
        assert resend_due(engine, folders, row.next_attempt_at + timedelta(seconds=1)).files == 4
        assert set(_statuses(engine).values()) == {"uploaded"}
        TurnkeySimulator(folders.root, error_rate=1.0, seed=attempt).process_pending()
        read = read_results(engine, folders)
        assert read.failed == 4
    assert [round(gap.total_seconds() / 60) for gap in gaps] == [1, 5, 15, 60, 240]
    assert set(_statuses(engine).values()) == {"abandoned"} and len(read.abandoned) == 4


def test_a_stale_refusal_never_fails_the_resend_and_acceptance_confirms(database_url, folders):
    engine = get_engine(database_url)
    tenant = tenant_with_pool(engine, SELLER_A)
    upload(engine, tenant, consumer_rows(SELLER_A, 2))
    issue_day(engine, folders, tenant, DAY)
    TurnkeySimulator(folders.root, error_rate=1.0).process_pending()
    read_results(engine, folders)
    with engine.begin() as conn:  # the backoff is over; pretend the refusal came two minutes ago
        conn.execute(update(invoices).values(next_attempt_at=utcnow() - timedelta(seconds=1),
                                             uploaded_at=utcnow() - timedelta(minutes=2)))
    assert resend_due(engine, folders, utcnow()).files == 2
    with engine.begin() as conn:
        # The resend went out after the refusals (in life at least a minute later: the first backoff)…
        conn.execute(update(invoices).values(uploaded_at=utcnow() + timedelta(seconds=5)))
        set_cursor(conn, "turnkey_results", "0")  # …and the reader sees the old ERR files and refusals again
    assert read_results(engine, folders).failed == 0
    assert set(_statuses(engine).values()) == {"uploaded"}
    TurnkeySimulator(folders.root).process_pending()
    assert read_results(engine, folders).confirmed == 2
    assert set(_statuses(engine).values()) == {"confirmed"}


def test_hostile_or_invalid_result_messages_are_reported_not_applied(database_url, folders):
    engine = get_engine(database_url)
    tenant_with_pool(engine, SELLER_A)
    folders.results.mkdir(parents=True, exist_ok=True)
    (folders.results / "evil.xml").write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<ProcessResult xmlns="urn:GEINV:ProcessResult:4.0">&x;</ProcessResult>')
    (folders.results / "invalid.xml").write_bytes(b'<ProcessResult xmlns="urn:GEINV:ProcessResult:4.0"/>')
    read = read_results(engine, folders)
    assert len(read.unreadable) == 2 and read.confirmed == read.failed == 0
    assert "DOCTYPE" in " ".join(read.unreadable)


def test_months_are_partitions_on_postgresql_and_archive_whole(database_url, folders, tmp_path):
    engine = get_engine(database_url)
    tenant = tenant_with_pool(engine, SELLER_A)
    upload(engine, tenant, consumer_rows(SELLER_A, 5) + consumer_rows(SELLER_A, 2, "2025-02-03", prefix="F"))
    with engine.connect() as conn:
        assert months_present(conn) == [date(2025, 1, 1), date(2025, 2, 1)]
        if conn.dialect.name == "postgresql":
            partitions = conn.exec_driver_sql("SELECT count(*) FROM invoices_y2025m01").scalar()
            assert partitions == 5
    with pytest.raises(ArchiveRefused):
        archive_month(engine, date(2025, 1, 1), tmp_path / "archive")
    with engine.begin() as conn:
        conn.execute(update(invoices).values(status="confirmed"))
    archived = archive_month(engine, date(2025, 1, 1), tmp_path / "archive")
    with gzip.open(archived.path, "rt") as archive:
        lines = archive.read().splitlines()
    assert archived.rows == len(lines) == 5 and '"order_id": "O0"' in lines[0]
    with engine.connect() as conn:
        assert months_present(conn) == [date(2025, 2, 1)]
        assert conn.execute(select(invoices.c.order_id)).scalars().all() == ["F0", "F1"]


def test_an_invoice_marked_uploaded_but_never_written_is_written_by_the_next_batch(database_url, folders):
    engine = get_engine(database_url)
    tenant = tenant_with_pool(engine, SELLER_A)
    upload(engine, tenant, consumer_rows(SELLER_A, 3))
    issue_day(engine, folders, tenant, DAY)
    before = _files(folders.src)
    lost = sorted(before)[1]
    (folders.src / lost).unlink()  # the process died after marking the chunk, before this file was written
    again = issue_day(engine, folders, tenant, DAY)
    assert again.written == 1 and _files(folders.src) == before  # the same bytes, and only that file
    assert set(_statuses(engine).values()) == {"uploaded"}


def test_a_document_the_xsd_refuses_stays_numbered_with_its_error_and_the_rest_go_out(database_url, folders):
    engine = get_engine(database_url)
    tenant = tenant_with_pool(engine, SELLER_A)
    upload(engine, tenant, consumer_rows(SELLER_A, 4))
    with engine.begin() as conn:  # corrupted after validation (a hand edit): PrintMark must be Y or N
        conn.execute(update(invoices).where(invoices.c.order_id == "O2").values(print_mark="X"))
    issued = issue_day(engine, folders, tenant, DAY)
    assert issued.written == 3 and len(issued.errors) == 1 and "O2" in issued.errors[0]
    with engine.connect() as conn:
        row = conn.execute(select(invoices.c.status, invoices.c.invoice_number, invoices.c.last_error)
                           .where(invoices.c.order_id == "O2")).first()
    assert row.status == "numbered" and row.invoice_number == "AB10000002" and "PrintMark" in row.last_error
    assert _statuses(engine) == {"O0": "uploaded", "O1": "uploaded", "O2": "numbered", "O3": "uploaded"}

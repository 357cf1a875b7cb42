"""Uploads, invoices and their numbers in the database; every statement is scoped to one tenant.

Status of an invoice: accepted (validated, no number) → numbered → uploaded (its
F0401 is in Turnkey's SRC) → confirmed; or uploaded → failed → uploaded again (a
resend) … → abandoned after the last resend failed (an operator was alerted).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import orjson
from sqlalchemy import Connection, Engine, func, insert, select, update

from commerce_core.db.bulk import insert_rows, update_rows
from commerce_core.db.cursors import utcnow
from commerce_core.db.lookup import in_keys
from commerce_core.db.schema import invoice_upload_files as upload_files
from commerce_core.db.schema import invoice_upload_rejects as upload_rejects
from commerce_core.db.schema import invoices, tenants
from commerce_core.einvoice.f0401 import GENERAL_INVOICE, InvoiceDocument
from commerce_core.einvoice.partitions import ensure_month_partitions
from commerce_core.einvoice.periods import period_of
from commerce_core.einvoice.tenancy import Tenant, advance_pool, lock_pools
from commerce_core.einvoice.uploads import InvoiceReject, ParsedUpload, UploadedInvoice

REJECT_PAGE_SIZE = 100
_KEYS = ("tenant_id", "invoice_date", "order_id")  # an invoice's primary key
OPEN_STATUSES = ("accepted", "numbered", "uploaded", "failed")


def find_upload(conn: Connection, tenant_id: int, kind: str, sha256: str) -> dict | None:
    row = conn.execute(select(upload_files).where(
        upload_files.c.tenant_id == tenant_id, upload_files.c.kind == kind, upload_files.c.sha256 == sha256)
    ).mappings().first()
    return dict(row) if row else None


def log_upload(conn: Connection, tenant_id: int, kind: str, file_name: str, sha256: str, size: int, *,
               status: str, rows: int = 0, invoices_seen: int = 0, accepted: int = 0, rejected: int = 0,
               message: str | None = None, run_id: str | None = None) -> int:
    result = conn.execute(insert(upload_files).values(
        tenant_id=tenant_id, kind=kind, file_name=file_name[:500], sha256=sha256, size_bytes=size, status=status,
        rows=rows, invoices=invoices_seen, accepted=accepted, rejected=rejected, message=message, run_id=run_id,
        processed_at=utcnow()))
    return result.inserted_primary_key[0]


def upload_log_page(conn: Connection, tenant_id: int, *, page: int = 1, page_size: int = 50) -> list[dict]:
    rows = conn.execute(select(upload_files).where(upload_files.c.tenant_id == tenant_id)
                        .order_by(upload_files.c.id.desc()).limit(page_size).offset((page - 1) * page_size))
    return [dict(row) for row in rows.mappings()]


def upload_rejects_page(conn: Connection, tenant_id: int, upload_id: int, *, page: int = 1,
                        page_size: int = REJECT_PAGE_SIZE) -> list[dict]:
    """One page of an upload's rejects (row numbers, rule, message), in file order."""
    rows = conn.execute(select(upload_rejects.c.order_id, upload_rejects.c.row_numbers, upload_rejects.c.rule,
                               upload_rejects.c.message)
                        .where(upload_rejects.c.tenant_id == tenant_id, upload_rejects.c.upload_id == upload_id)
                        .order_by(upload_rejects.c.id).limit(page_size).offset((page - 1) * page_size))
    return [dict(row) for row in rows.mappings()]


# An uploaded invoice's columns (its number, file, times and error start NULL), in _invoice_row's order.
_UPLOAD_COLUMNS = (
    "tenant_id", "invoice_date", "order_id", "upload_id", "period", "invoice_time", "buyer_ban", "buyer_name",
    "carrier_type", "carrier_id", "donate_mark", "npoban", "print_mark", "customs_clearance_mark",
    "zero_tax_rate_reason", "items", "sales_amount", "free_tax_sales_amount", "zero_tax_sales_amount", "tax_amount",
    "total_amount", "tax_type", "tax_rate", "status", "attempts", "created_at",
)


def _invoice_row(tenant_id: int, upload_id: int, invoice: UploadedInvoice, now: datetime) -> tuple:
    amounts = invoice.amounts
    items = orjson.dumps([[item.description, format(item.quantity, "f"), format(item.unit_price, "f"),
                           format(item.amount, "f"), item.tax_type] for item in invoice.items]).decode()
    return (tenant_id, invoice.invoice_date, invoice.order_id, upload_id, period_of(invoice.invoice_date),
            invoice.invoice_time, invoice.buyer_ban, invoice.buyer_name, invoice.carrier_type, invoice.carrier_id,
            invoice.donate_mark, invoice.npoban, invoice.print_mark, invoice.customs_clearance_mark,
            invoice.zero_tax_rate_reason, items, amounts.sales, amounts.free_tax_sales, amounts.zero_tax_sales,
            amounts.tax, amounts.total, amounts.tax_type, format(amounts.tax_rate, "f"), "accepted", 0, now)


@dataclass(frozen=True)
class StoredUpload:
    upload_id: int
    accepted: int
    rejected: int
    days: tuple[date, ...]


def store_upload(conn: Connection, tenant: Tenant, file_name: str, sha256: str, size: int, parsed: ParsedUpload,
                 run_id: str | None = None) -> StoredUpload:
    """Log the file, keep its rejects and insert its good invoices, in the caller's transaction.

    An order the tenant already has an invoice for is rejected (rule `duplicate-order`):
    re-uploading a corrected file never issues a second invoice for an order.
    Call it before the transaction reads `invoices`: a new month's partition is
    attached first, and that waits for every open reader of the table.
    """
    ensure_month_partitions(conn.engine, {invoice.invoice_date for invoice in parsed.invoices})
    # Two uploads of one tenant at once must not both find an order new: a no-op write to the
    # tenant's row takes its row lock on PostgreSQL and the write lock on SQLite until commit.
    conn.execute(update(tenants).where(tenants.c.id == tenant.id).values(status=tenants.c.status))
    known = _known_orders(conn, tenant.id, [invoice.order_id for invoice in parsed.invoices])
    fresh, rejects = [], list(parsed.rejects)
    for invoice in parsed.invoices:
        if invoice.order_id in known:
            rejects.append(InvoiceReject(invoice.tenant_ban, invoice.order_id, tuple(invoice.rows),
                                         "duplicate-order", f"order {invoice.order_id} already has an invoice"))
        else:
            known.add(invoice.order_id)
            fresh.append(invoice)
    upload_id = log_upload(conn, tenant.id, "invoices", file_name, sha256, size, status="processed",
                           rows=parsed.rows, invoices_seen=parsed.invoice_count, accepted=len(fresh),
                           rejected=len(rejects), run_id=run_id)
    insert_rows(conn, upload_rejects, [
        {"upload_id": upload_id, "tenant_id": tenant.id, "order_id": reject.order_id[:64],
         "row_numbers": reject.row_label(), "rule": reject.rule, "message": reject.message}
        for reject in rejects])
    now = utcnow()
    insert_rows(conn, invoices, [_invoice_row(tenant.id, upload_id, invoice, now) for invoice in fresh],
                columns=_UPLOAD_COLUMNS)
    return StoredUpload(upload_id, len(fresh), len(rejects), tuple(sorted({invoice.invoice_date for invoice in fresh})))


def _known_orders(conn: Connection, tenant_id: int, order_ids: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(order_ids), 5000):
        chunk = order_ids[start:start + 5000]
        known.update(conn.execute(select(invoices.c.order_id).where(
            invoices.c.tenant_id == tenant_id, in_keys(conn, invoices.c.order_id, chunk))).scalars())
    return known


# --- numbering ---------------------------------------------------------------------------------

class PoolExhausted(RuntimeError):
    def __init__(self, tenant: Tenant, period: str, waiting: int, numbering: "Numbering"):
        self.tenant, self.period, self.waiting, self.numbering = tenant, period, waiting, numbering
        super().__init__(f"tenant {tenant.ban}: the number pool for period {period} is exhausted or missing; "
                         f"{waiting} invoice(s) wait for a new E0501 range")


@dataclass(frozen=True)
class Numbering:
    assigned: int
    first: str | None
    last: str | None
    ready: tuple[tuple[str, bytes], ...] = ()  # rendered files (name, bytes), marked uploaded, to be written
    errors: tuple[str, ...] = ()  # numbered but not renderable: they stay `numbered` with the error
    marked_at: datetime | None = None  # when `ready` was marked uploaded


# [(order id, document)] → per document (file name, bytes, sha256), or the exception saying why not.
Renderer = Callable[[Sequence[tuple[str, InvoiceDocument]]], list[tuple[str, bytes, str] | Exception]]


def assign_numbers(engine: Engine, tenant: Tenant, day: date, render: Renderer | None = None) -> Numbering:
    """Give the day's unnumbered invoices the next numbers of the tenant's pool, in time order.

    One transaction under the pool lock: numbers and pool position commit together,
    so concurrent batches never share a number and a crash leaves no gap. With
    `render`, the numbered invoices are also turned into their files in the same pass and
    marked `uploaded` with the hash of their bytes, so the batch needs no second read or
    write of the rows; the caller writes `Numbering.ready`. Invoices that do not fit
    stay accepted and PoolExhausted (carrying the Numbering) is raised after the rest commit.
    """
    period = period_of(day)
    handed_at = utcnow()
    with engine.begin() as conn:
        ranges = lock_pools(conn, tenant.id, period, GENERAL_INVOICE)
        waiting = conn.execute(
            (select(*_DOCUMENT_COLUMNS) if render else select(invoices.c.order_id))
            .where(invoices.c.tenant_id == tenant.id, invoices.c.invoice_date == day, invoices.c.status == "accepted")
            .order_by(invoices.c.invoice_time, invoices.c.order_id)).all()
        numbers = ((pool, number) for pool in ranges for number in range(pool["next_no"], pool["end_no"] + 1))
        numbered, used = [], {}
        for row, (pool, number) in zip(waiting, numbers):
            numbered.append((row, f"{pool['track']}{number:08d}"))
            used[pool["id"]] = number + 1
        rendered = render([(row.order_id, _document(row, number)) for row, number in numbered]) if render else None
        day_of_tenant = {"tenant_id": tenant.id, "invoice_date": day}
        if rendered is None:
            update_rows(conn, invoices, [{"order_id": row.order_id, "invoice_number": number} for row, number in numbered],
                        _KEYS, same={**day_of_tenant, "status": "numbered"})
        else:
            uploaded, unwritable, ready, errors = [], [], [], []
            for (row, invoice_number), result in zip(numbered, rendered):
                if isinstance(result, Exception):
                    unwritable.append({"order_id": row.order_id, "invoice_number": invoice_number,
                                       "last_error": str(result)[:2000]})
                    errors.append(f"{invoice_number} (order {row.order_id}): {result}")
                else:
                    name, data, digest = result
                    uploaded.append((row.order_id, invoice_number, digest))
                    ready.append((name, data))
            _mark_uploaded_with_numbers(conn, tenant.id, day, uploaded, handed_at)
            update_rows(conn, invoices, unwritable, _KEYS, same={
                **day_of_tenant, "status": "numbered", "file_sha256": None, "attempts": 0, "uploaded_at": None})
        for pool_id, next_no in used.items():
            advance_pool(conn, tenant.id, pool_id, next_no)
    numbering = Numbering(len(numbered), numbered[0][1] if numbered else None, numbered[-1][1] if numbered else None,
                          tuple(ready) if render else (), tuple(errors) if render else (), handed_at if render else None)
    if len(numbered) < len(waiting):
        raise PoolExhausted(tenant, period, len(waiting) - len(numbered), numbering)
    return numbering


def _mark_uploaded_with_numbers(conn: Connection, tenant_id: int, day: date, rows: list[tuple[str, str, str]],
                                handed_at: datetime) -> None:
    """(order id, invoice number, file sha256) rows of one tenant's day become `uploaded` (first attempt).
    On PostgreSQL one UPDATE joined to the rows as arrays: the day's hottest statement needs no
    staging table (created and dropped per transaction) and no COPY text."""
    shared = {"status": "uploaded", "attempts": 1, "uploaded_at": handed_at, "last_error": None}
    if conn.dialect.name != "postgresql":
        update_rows(conn, invoices, [dict(zip(("order_id", "invoice_number", "file_sha256"), row)) for row in rows],
                    _KEYS, same={"tenant_id": tenant_id, "invoice_date": day, **shared})
        return
    if not rows:
        return
    order_ids, numbers, hashes = (list(column) for column in zip(*rows))
    conn.exec_driver_sql(
        "UPDATE invoices AS t SET invoice_number = s.number, file_sha256 = s.sha256, status = %(status)s, "
        "attempts = %(attempts)s, uploaded_at = %(uploaded_at)s, last_error = %(last_error)s "
        "FROM unnest(%(order_ids)s::varchar[], %(numbers)s::varchar[], %(hashes)s::varchar[]) "
        "AS s(order_id, number, sha256) "
        "WHERE t.tenant_id = %(tenant_id)s AND t.invoice_date = %(day)s AND t.order_id = s.order_id",
        {**shared, "order_ids": order_ids, "numbers": numbers, "hashes": hashes, "tenant_id": tenant_id, "day": day})


# --- documents and their Turnkey state ------------------------------------------------------------

# An invoice's document is read as its columns in InvoiceDocument's order (then the hash of its
# bytes, once written), so each row becomes a document without a lookup per field.
_DOCUMENT_COLUMNS = [invoices.c[name] for name in InvoiceDocument._fields] + [invoices.c.file_sha256]
_FIELDS = len(InvoiceDocument._fields)
_ITEMS, _TAX_RATE = InvoiceDocument._fields.index("items"), InvoiceDocument._fields.index("tax_rate")


def _document(row, invoice_number: str | None = None) -> InvoiceDocument:
    values = list(row[:_FIELDS])
    if invoice_number:
        values[0] = invoice_number
    values[_ITEMS] = tuple(orjson.loads(values[_ITEMS]))
    values[_TAX_RATE] = Decimal(values[_TAX_RATE])
    return InvoiceDocument._make(values)


@dataclass(frozen=True)
class PendingDocument:
    order_id: str
    document: InvoiceDocument
    file_sha256: str | None  # set once the bytes were first written


def documents_to_write(conn: Connection, tenant_id: int, day: date) -> list[PendingDocument]:
    rows = conn.execute(select(*_DOCUMENT_COLUMNS).where(invoices.c.tenant_id == tenant_id, invoices.c.invoice_date == day,
                                               invoices.c.status == "numbered")
                        .order_by(invoices.c.invoice_number))
    return [PendingDocument(row.order_id, _document(row), row.file_sha256) for row in rows]


def handed_over(conn: Connection, tenant_id: int, day: date, marked_before: datetime | None = None
                ) -> list[tuple[str, str]]:
    """(order id, invoice number) of the day's invoices marked uploaded (before `marked_before`, when
    given) and not answered yet."""
    query = select(invoices.c.order_id, invoices.c.invoice_number).where(
        invoices.c.tenant_id == tenant_id, invoices.c.invoice_date == day, invoices.c.status == "uploaded")
    if marked_before is not None:
        query = query.where(invoices.c.uploaded_at < marked_before)
    return [tuple(row) for row in conn.execute(query)]


def documents_by_order(conn: Connection, tenant_id: int, day: date, order_ids: Sequence[str]) -> list[PendingDocument]:
    if not order_ids:
        return []
    rows = conn.execute(select(*_DOCUMENT_COLUMNS).where(invoices.c.tenant_id == tenant_id, invoices.c.invoice_date == day,
                                               in_keys(conn, invoices.c.order_id, list(order_ids))))
    return [PendingDocument(row.order_id, _document(row), row.file_sha256) for row in rows]


def documents_to_resend(conn: Connection, tenant_id: int, now: datetime) -> list[tuple[date, PendingDocument]]:
    rows = conn.execute(select(*_DOCUMENT_COLUMNS).where(invoices.c.tenant_id == tenant_id, invoices.c.status == "failed",
                                               invoices.c.next_attempt_at <= now)
                        .order_by(invoices.c.invoice_date, invoices.c.invoice_number))
    return [(row.invoice_date, PendingDocument(row.order_id, _document(row), row.file_sha256)) for row in rows]


def record_file_hashes(conn: Connection, tenant_id: int, day: date, hashes: dict[str, str]) -> None:
    """Remember the bytes before they are written, so a rewrite can be held to them."""
    update_rows(conn, invoices, [{"order_id": order_id, "file_sha256": sha} for order_id, sha in hashes.items()],
                _KEYS, same={"tenant_id": tenant_id, "invoice_date": day})


def mark_uploaded(conn: Connection, tenant_id: int, day: date, order_ids: Sequence[str], now: datetime) -> None:
    """Numbered or failed invoices become uploaded (one more attempt); any other state is left alone."""
    for start in range(0, len(order_ids), 5000):
        conn.execute(update(invoices).where(
            invoices.c.tenant_id == tenant_id, invoices.c.invoice_date == day,
            invoices.c.status.in_(("numbered", "failed")),
            in_keys(conn, invoices.c.order_id, order_ids[start:start + 5000]))
            .values(status="uploaded", attempts=invoices.c.attempts + 1, uploaded_at=now, next_attempt_at=None))


def open_invoice(conn: Connection, tenant_id: int, invoice_number: str):
    """The tenant's invoice with that number that is still waiting for Turnkey's word."""
    return conn.execute(select(invoices.c.invoice_date, invoices.c.order_id, invoices.c.status,
                               invoices.c.attempts, invoices.c.uploaded_at)
                        .where(invoices.c.tenant_id == tenant_id, invoices.c.invoice_number == invoice_number,
                               invoices.c.status.in_(("uploaded", "failed")))).first()


def set_result(conn: Connection, tenant_id: int, day: date, order_id: str, **values) -> None:
    conn.execute(update(invoices).where(invoices.c.tenant_id == tenant_id, invoices.c.invoice_date == day,
                                        invoices.c.order_id == order_id).values(**values))


def day_summary(conn: Connection, day: date) -> list[dict]:
    """Per tenant for one day: invoices by status and the total amount (this is an operator's view,
    so it spans tenants; each row is one tenant's own figures)."""
    rows = conn.execute(select(invoices.c.tenant_id, invoices.c.status, func.count(), func.sum(invoices.c.total_amount))
                        .where(invoices.c.invoice_date == day).group_by(invoices.c.tenant_id, invoices.c.status))
    summary: dict[int, dict] = {}
    for tenant_id, status, count, total in rows:
        entry = summary.setdefault(tenant_id, {"tenant_id": tenant_id, "invoices": 0, "amount": 0})
        entry["invoices"] += count
        entry["amount"] += int(total or 0)
        entry[status] = count
    return list(summary.values())


def days_waiting(conn: Connection) -> list[tuple[date, int]]:
    """Days with invoices still to number or write, and the newest upload among them (for run keys)."""
    rows = conn.execute(select(invoices.c.invoice_date, func.max(invoices.c.upload_id))
                        .where(invoices.c.status.in_(("accepted", "numbered")))
                        .group_by(invoices.c.invoice_date).order_by(invoices.c.invoice_date))
    return [(day if isinstance(day, date) else date.fromisoformat(day), upload) for day, upload in rows]


def tenants_with_work(conn: Connection, day: date) -> list[int]:
    return list(conn.execute(select(invoices.c.tenant_id).distinct().where(
        invoices.c.invoice_date == day, invoices.c.status.in_(("accepted", "numbered")))).scalars())


def tenants_with_failures(conn: Connection) -> list[int]:
    return list(conn.execute(select(invoices.c.tenant_id).distinct().where(invoices.c.status == "failed")).scalars())


def count_by_status(conn: Connection, *statuses: str) -> int:
    return conn.execute(select(func.count()).select_from(invoices).where(invoices.c.status.in_(statuses))).scalar_one()


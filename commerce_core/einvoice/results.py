"""Turnkey's answers back into the invoices, and resends of the failed ones with backoff.

Sources, read by modification time past a cursor: files Turnkey moved to BAK
(accepted) or ERR (refused), and ProcessResult / SummaryResult messages. The same
answer read twice changes nothing; a refusal older than the invoice's latest upload
belongs to an earlier attempt and is ignored, so a stale ERR file never fails a resend
(an acceptance counts whichever attempt it answers).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from lxml import etree
from sqlalchemy import Engine

from commerce_core.db.cursors import get_cursor, set_cursor, utcnow
from commerce_core.einvoice import invoice_store
from commerce_core.einvoice.issuing import render
from commerce_core.einvoice.tenancy import Tenant, tenant_by_ban, tenants_by_id
from commerce_core.einvoice.turnkey import (
    InvoiceOutcome,
    ResultUnreadable,
    TurnkeyFolders,
    next_resend_at,
    outcome_of_moved_file,
    read_result_message,
    scan,
)

CURSOR = "turnkey_results"
OVERLAP_NS = 5 * 1_000_000_000  # re-read the last seconds: a file's ctime can trail its appearance
# File times come from a coarse kernel clock; an answer to an earlier attempt is at least
# a minute (the first backoff) older than the resend, so a second of slack is safe.
CLOCK_SLACK = timedelta(seconds=1)


@dataclass
class ResultsRead:
    confirmed: int = 0
    failed: int = 0
    ignored: int = 0  # already settled, from an earlier attempt, or not ours
    unreadable: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)  # invoice numbers whose last resend failed


def _observed(entry: os.DirEntry) -> datetime:
    return datetime.fromtimestamp(entry.stat().st_ctime_ns / 1e9, tz=timezone.utc)


def _collect(folders: TurnkeyFolders, since_ns: int, read: ResultsRead) -> list[tuple[InvoiceOutcome, datetime]]:
    outcomes = []
    for folder, accepted in ((folders.bak, True), (folders.err, False)):
        for entry in scan(folder, since_ns):
            outcome = outcome_of_moved_file(entry.name, accepted)
            if outcome:
                outcomes.append((outcome, _observed(entry)))
    for entry in scan(folders.results, since_ns):
        try:
            data = Path(entry.path).read_bytes()
            outcomes += [(outcome, _observed(entry)) for outcome in read_result_message(data, entry.name)]
        except ResultUnreadable as error:
            read.unreadable.append(str(error))
    return outcomes


def read_results(engine: Engine, folders: TurnkeyFolders) -> ResultsRead:
    """Apply every answer newer than the cursor, each to its seller's (tenant's) invoice only."""
    read = ResultsRead()
    scan_started_ns = utcnow().timestamp() * 1e9
    with engine.connect() as conn:
        since_ns = int(get_cursor(conn, CURSOR) or 0)
    outcomes = _collect(folders, max(0, since_ns - OVERLAP_NS), read)
    tenants: dict[str, Tenant | None] = {}
    with engine.begin() as conn:
        for outcome, observed_at in outcomes:
            ban = outcome.seller_ban
            if ban not in tenants:
                tenants[ban] = tenant_by_ban(conn, ban)
            tenant = tenants[ban]
            invoice = tenant and invoice_store.open_invoice(conn, tenant.id, outcome.invoice_number)
            if not invoice:
                read.ignored += 1
                continue
            if outcome.accepted:  # the platform has it, whichever attempt this answers
                invoice_store.set_result(conn, tenant.id, invoice.invoice_date, invoice.order_id,
                                         status="confirmed", last_error=None, next_attempt_at=None)
                read.confirmed += 1
            elif invoice.status == "uploaded" and not (
                    invoice.uploaded_at and observed_at < invoice.uploaded_at - CLOCK_SLACK):
                retry_at = next_resend_at(observed_at, invoice.attempts)
                invoice_store.set_result(conn, tenant.id, invoice.invoice_date, invoice.order_id,
                                         status="failed" if retry_at else "abandoned",
                                         last_error=outcome.reason[:2000], next_attempt_at=retry_at)
                read.failed += 1
                if retry_at is None:
                    read.abandoned.append(f"{ban} {outcome.invoice_number}: {outcome.reason}")
            else:
                read.ignored += 1
        set_cursor(conn, CURSOR, str(int(scan_started_ns)))
    return read


@dataclass
class Resent:
    files: int = 0
    errors: list[str] = field(default_factory=list)


def resend_due(engine: Engine, folders: TurnkeyFolders, now: datetime) -> Resent:
    """Write every failed invoice whose backoff has passed into SRC again (its current, corrected form)."""
    resent = Resent()
    with engine.connect() as conn:
        tenants = tenants_by_id(conn, invoice_store.tenants_with_failures(conn))
        due = {tenant_id: invoice_store.documents_to_resend(conn, tenant_id, now) for tenant_id in tenants}
    for tenant_id, documents in due.items():
        tenant = tenants[tenant_id]
        for day, pending in documents:
            corrected = invoice_store.PendingDocument(pending.order_id, pending.document, None)
            try:
                name, data, digest = render(tenant, corrected)
            except (ValueError, etree.XMLSyntaxError) as error:
                resent.errors.append(f"{pending.document.invoice_number}: {error}")
                continue
            with engine.begin() as conn:  # marked before written: the answer always finds it waiting
                invoice_store.record_file_hashes(conn, tenant_id, day, {pending.order_id: digest})
                invoice_store.mark_uploaded(conn, tenant_id, day, [pending.order_id], utcnow())
            folders.write_f0401(name, data)
            resent.files += 1
    return resent

"""Issue one tenant's invoices of one day: numbers from the pool, then F0401 files into Turnkey's SRC.

Crash-safe in every order of events: numbers commit with the pool position; the
hash of each file's bytes is stored before the file is written; a file already in
SRC/BAK/ERR is not written twice; and a rewrite whose bytes differ from the stored
hash is refused, so a rerun never hands Turnkey a different file for an invoice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from commerce_core.bulk_work import map_in_workers
from commerce_core.db.cursors import utcnow
from commerce_core.db.engine import get_engine
from commerce_core.einvoice import invoice_store
from commerce_core.einvoice.f0401 import BadDocument, InvoiceDocument, validated_f0401_batch
from commerce_core.einvoice.invoice_store import Numbering, PendingDocument, PoolExhausted
from commerce_core.einvoice.tenancy import Tenant
from commerce_core.einvoice.turnkey import TurnkeyFolders, f0401_file_name

WRITE_CHUNK = 2000
VALIDATE_CHUNK = 100  # documents per XSD pass: big enough to share its cost, small enough to redo alone


class DocumentChanged(RuntimeError):
    """The invoice would now produce different bytes than the file already handed to Turnkey."""


# Why a document cannot be written; it is reported and left `numbered`, the others go on.
RenderError = BadDocument | DocumentChanged
Rendered = tuple[str, bytes, str]  # file name, bytes, sha256


@dataclass
class IssuedDay:
    tenant: Tenant
    day: date
    numbering: Numbering | None = None
    written: int = 0
    already_there: int = 0
    exhausted: PoolExhausted | None = None
    errors: list[str] = field(default_factory=list)


def render_batch(tenant: Tenant, pending: Sequence[PendingDocument]) -> list[Rendered | RenderError]:
    """Per document: file name, validated bytes and their sha256, or why it cannot be written (invalid,
    or bytes that differ from an earlier write: Turnkey never gets a second version of an invoice)."""
    results: list[Rendered | RenderError] = []
    for start in range(0, len(pending), VALIDATE_CHUNK):
        chunk = pending[start:start + VALIDATE_CHUNK]
        for item, data in zip(chunk, validated_f0401_batch(tenant.seller, [item.document for item in chunk])):
            if isinstance(data, Exception):
                results.append(data)
                continue
            digest = hashlib.sha256(data).hexdigest()
            if item.file_sha256 and item.file_sha256 != digest:
                results.append(DocumentChanged(
                    f"invoice {item.document.invoice_number} (order {item.order_id}) would be written with "
                    "different bytes than before; refusing to hand Turnkey a second version"))
            else:
                results.append((f0401_file_name(tenant.ban, item.document.invoice_number), data, digest))
    return results


def render(tenant: Tenant, pending: PendingDocument) -> Rendered:
    """One document's file name, validated bytes and sha256; raises a RenderError."""
    result = render_batch(tenant, [pending])[0]
    if isinstance(result, Exception):
        raise result
    return result


def write_documents(engine: Engine, folders: TurnkeyFolders, tenant: Tenant, day: date,
                    pending: list[PendingDocument]) -> tuple[int, int, list[str]]:
    """Hand the documents to Turnkey in chunks; returns (written, found already handed over, errors).

    Each chunk is marked `uploaded` (with the hashes of its bytes) in one transaction
    before its files are written, so an answer from Turnkey always finds its invoice
    waiting; a crash in between leaves `uploaded` invoices without a file, which the
    day's next batch writes again (`issue_day`). A document that fails the XSD or the
    rules stays `numbered` with its error reported; the others of the chunk go on.
    """
    written = already = 0
    errors: list[str] = []
    for start in range(0, len(pending), WRITE_CHUNK):
        rendered = []
        chunk = pending[start:start + WRITE_CHUNK]
        for item, result in zip(chunk, render_batch(tenant, chunk)):
            if isinstance(result, Exception):
                errors.append(f"{item.document.invoice_number} (order {item.order_id}): {result}")
            else:
                rendered.append((item, *result))
        handed_at = utcnow()  # before the writes: Turnkey's answers are never older than this
        with engine.begin() as conn:
            invoice_store.record_file_hashes(conn, tenant.id, day, {
                item.order_id: digest for item, _, _, digest in rendered if item.file_sha256 is None})
            invoice_store.mark_uploaded(conn, tenant.id, day, [item.order_id for item, *_ in rendered], handed_at)
        fresh = []
        for item, name, data, _ in rendered:
            if item.file_sha256 is not None and folders.already_handed_over(name):
                already += 1  # written before a crash; Turnkey has it or will take it
            else:
                fresh.append((name, data))
        folders.write_f0401_files(fresh)
        written += len(fresh)
    return written, already, errors


def issue_day(engine: Engine, folders: TurnkeyFolders, tenant: Tenant, day: date) -> IssuedDay:
    """Number, render and mark the day's new invoices in one pass, then write their files; then
    write what an earlier run left numbered, or marked but unwritten."""
    issued = IssuedDay(tenant, day)

    def render_new(documents: Sequence[tuple[str, InvoiceDocument]]) -> list[Rendered | RenderError]:
        return render_batch(tenant, [PendingDocument(order_id, document, None) for order_id, document in documents])

    try:
        issued.numbering = invoice_store.assign_numbers(engine, tenant, day, render_new)
    except PoolExhausted as exhausted:
        issued.exhausted = exhausted  # what did fit was numbered and is written below
        issued.numbering = exhausted.numbering
    folders.write_f0401_files(issued.numbering.ready)
    issued.written = len(issued.numbering.ready)
    issued.errors = list(issued.numbering.errors)
    with engine.connect() as conn:
        pending = invoice_store.documents_to_write(conn, tenant.id, day)
        # Marked by an earlier run (this run's marks were all just written).
        earlier = [(order_id, f0401_file_name(tenant.ban, number)) for order_id, number
                   in invoice_store.handed_over(conn, tenant.id, day, marked_before=issued.numbering.marked_at)]
        present = folders.handed_over_names() if earlier else set()
        orphans = invoice_store.documents_by_order(
            conn, tenant.id, day, [order_id for order_id, name in earlier if name not in present])
    if pending:  # numbered by an earlier run that did not get to write them
        written, issued.already_there, errors = write_documents(engine, folders, tenant, day, pending)
        issued.written += written
        issued.errors += [error for error in errors if error not in issued.errors]
    # Marked `uploaded` but never written (a crash in between): the same bytes again.
    issued.written += write_documents(engine, folders, tenant, day, orphans)[0]
    return issued


@dataclass(frozen=True)
class DayOutcome:
    """What issuing one tenant's day came to, in plain values (it crosses process boundaries)."""

    tenant_ban: str
    numbered: int
    written: int
    already_there: int
    exhausted: str | None  # the PoolExhausted message
    period: str
    waiting: int
    errors: tuple[str, ...]


def _outcome(issued: IssuedDay) -> DayOutcome:
    exhausted = issued.exhausted
    return DayOutcome(issued.tenant.ban, issued.numbering.assigned if issued.numbering else 0, issued.written,
                      issued.already_there, str(exhausted) if exhausted else None,
                      exhausted.period if exhausted else "", exhausted.waiting if exhausted else 0,
                      tuple(issued.errors))


def _issue_in_worker(engine: Engine, job: tuple[str, Tenant, date]) -> DayOutcome:
    turnkey_root, tenant, day = job
    return _outcome(issue_day(engine, TurnkeyFolders(Path(turnkey_root)), tenant, day))


def issue_days(database_url: str, turnkey_root: Path, tenants: list[Tenant], day: date, *,
               workers: int) -> Iterator[DayOutcome]:
    """Issue each tenant's day, tenants side by side in `workers` processes on PostgreSQL (a tenant's
    pool lock keeps its numbers in order; tenants share nothing). Outcomes arrive in the tenants' order."""
    yield from map_in_workers(get_engine(database_url), _issue_in_worker,
                              [(str(turnkey_root), tenant, day) for tenant in tenants], workers=workers)

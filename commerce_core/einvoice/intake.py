"""Files arriving for e-invoicing: which are finished, whose they are, and taking them in.

Tenants drop invoice CSVs in `<uploads>/<BAN>/invoices/` and E0501 files in
`<uploads>/<BAN>/e0501/`; Turnkey downloads E0501 files to `DownCast/B2PMESSAGE/
E0501/SRC/` (there the Ban inside names the tenant). A file is finished once it
has not changed for `settle_seconds`; names starting with a dot or ending in
.tmp/.part are still being written. The same bytes from the same tenant are one
upload, whatever the file is called: the second time is reported, not stored.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from commerce_core.bulk_work import map_in_workers
from commerce_core.db.engine import get_engine

from commerce_core.einvoice import invoice_store
from commerce_core.einvoice.e0501 import E0501Rejected, parse_e0501
from commerce_core.einvoice.tenancy import TenantError, active_tenant, register_range
from commerce_core.einvoice.uploads import UploadRefused, parse_upload

KINDS = {"invoices": ".csv", "e0501": ".xml"}
MAX_UPLOAD_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class ArrivedFile:
    path: Path
    kind: str  # invoices | e0501
    tenant_ban: str | None  # None: a Turnkey E0501, whose Ban says whose it is
    size: int
    mtime_ns: int

    @property
    def signature(self) -> str:
        return f"{self.size}:{self.mtime_ns}"


@dataclass(frozen=True)
class UploadFolders:
    root: Path
    turnkey_e0501: Path
    settle_seconds: float = 3.0

    def arrived(self, kind: str | None = None) -> Iterator[ArrivedFile]:
        """Finished files of `kind` (or both kinds), oldest first within each folder."""
        now_ns = time.time_ns()
        places = []
        if self.root.is_dir():
            for tenant_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
                places += [(tenant_dir / name, name, tenant_dir.name) for name in KINDS]
        places.append((self.turnkey_e0501, "e0501", None))
        for folder, folder_kind, ban in places:
            if (kind and folder_kind != kind) or not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.name.startswith(".") or path.suffix.lower() != KINDS[folder_kind] or not path.is_file():
                    continue
                stat = path.stat()
                if now_ns - stat.st_mtime_ns < self.settle_seconds * 1e9:
                    continue
                yield ArrivedFile(path, folder_kind, ban, stat.st_size, stat.st_mtime_ns)


@dataclass
class IntakeReport:
    files: int = 0
    duplicates: int = 0
    refused: list[str] = field(default_factory=list)  # "<file>: <reason>"
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    ranges: list[str] = field(default_factory=list)
    days: set = field(default_factory=set)
    per_tenant: dict = field(default_factory=dict)  # ban -> {"accepted", "rejected", "uploads"}
    reject_preview: list[tuple] = field(default_factory=list)


def _read(arrived: ArrivedFile) -> tuple[bytes, str]:
    if arrived.size > MAX_UPLOAD_BYTES:
        raise UploadRefused(f"{arrived.size} bytes is over the limit of {MAX_UPLOAD_BYTES}")
    data = arrived.path.read_bytes()
    return data, hashlib.sha256(data).hexdigest()


def take_invoice_file(engine: Engine, arrived: ArrivedFile, report: IntakeReport, run_id: str | None = None) -> None:
    """Validate one CSV and store it in one transaction: its invoices, its rejects and its log line."""
    report.files += 1
    with engine.begin() as conn:
        try:
            tenant = active_tenant(conn, arrived.tenant_ban)
        except TenantError as error:
            report.refused.append(f"{arrived.path.name}: {error}")
            return
        try:
            data, sha = _read(arrived)
        except (OSError, UploadRefused) as error:
            report.refused.append(f"{arrived.path.name}: {error}")
            return
        if invoice_store.find_upload(conn, tenant.id, "invoices", sha):
            report.duplicates += 1
            return
        try:
            parsed = parse_upload(data, uploader_ban=tenant.ban)
        except UploadRefused as error:
            invoice_store.log_upload(conn, tenant.id, "invoices", arrived.path.name, sha, len(data),
                                     status="refused", message=str(error), run_id=run_id)
            report.refused.append(f"{arrived.path.name}: {error}")
            return
        stored = invoice_store.store_upload(conn, tenant, arrived.path.name, sha, len(data), parsed, run_id)
        room = 10 - len(report.reject_preview)
        if stored.rejected and room > 0:
            page = invoice_store.upload_rejects_page(conn, tenant.id, stored.upload_id, page_size=room)
            report.reject_preview += [(arrived.path.name, row["order_id"], row["row_numbers"], row["rule"],
                                       row["message"]) for row in page]
    report.rows += parsed.rows
    report.accepted += stored.accepted
    report.rejected += stored.rejected
    report.days.update(stored.days)
    entry = report.per_tenant.setdefault(tenant.ban, {"uploads": 0, "accepted": 0, "rejected": 0})
    entry["uploads"] += 1
    entry["accepted"] += stored.accepted
    entry["rejected"] += stored.rejected


def _merge(into: IntakeReport, part: IntakeReport) -> None:
    into.files += part.files
    into.duplicates += part.duplicates
    into.refused += part.refused
    into.rows += part.rows
    into.accepted += part.accepted
    into.rejected += part.rejected
    into.days |= part.days
    into.reject_preview = (into.reject_preview + part.reject_preview)[:10]
    for ban, counts in part.per_tenant.items():
        entry = into.per_tenant.setdefault(ban, {"uploads": 0, "accepted": 0, "rejected": 0})
        for name, value in counts.items():
            entry[name] += value


def _take_in_worker(engine: Engine, job: tuple[ArrivedFile, str | None]) -> IntakeReport:
    arrived, run_id = job
    report = IntakeReport()
    take_invoice_file(engine, arrived, report, run_id)
    return report


def take_invoice_files(database_url: str, files: list[ArrivedFile], *, workers: int, run_id: str | None = None,
                       progress: Callable[[IntakeReport], None] | None = None) -> IntakeReport:
    """Every file, in `workers` processes side by side on PostgreSQL (each file is its own transaction;
    one tenant's files still take turns deciding which orders are new)."""
    report = IntakeReport()
    for part in map_in_workers(get_engine(database_url), _take_in_worker, [(arrived, run_id) for arrived in files],
                               workers=workers):
        _merge(report, part)
        if progress:
            progress(report)
    return report


def take_e0501_file(engine: Engine, arrived: ArrivedFile, report: IntakeReport, run_id: str | None = None) -> None:
    """Register one E0501 range for its tenant; a refused file is logged with the rule it broke."""
    report.files += 1
    data, sha, assigned, problem = None, "", None, None
    try:
        data, sha = _read(arrived)
        assigned = parse_e0501(data, name=arrived.path.name)
    except (OSError, UploadRefused, E0501Rejected) as error:
        problem = str(error)
    owner = arrived.tenant_ban or (assigned.ban if assigned else None)
    with engine.begin() as conn:
        try:
            tenant = active_tenant(conn, owner or "")
        except TenantError as error:
            report.refused.append(f"{arrived.path.name}: {problem or error}")
            return
        if data is not None and invoice_store.find_upload(conn, tenant.id, "e0501", sha):
            report.duplicates += 1
            return
        if problem is None:
            try:
                register_range(conn, tenant, assigned, str(arrived.path))
            except E0501Rejected as error:
                problem = str(error)
        if problem is not None:
            report.refused.append(f"{arrived.path.name}: {problem}")
            if data is not None:
                invoice_store.log_upload(conn, tenant.id, "e0501", arrived.path.name, sha, len(data),
                                         status="refused", message=problem, run_id=run_id)
            return
        invoice_store.log_upload(conn, tenant.id, "e0501", arrived.path.name, sha, len(data), status="processed",
                                 rows=1, invoices_seen=assigned.size, accepted=assigned.size, run_id=run_id)
    report.ranges.append(f"{tenant.ban} {assigned.label()}")

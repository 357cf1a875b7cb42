"""E-invoicing (docs/protocols/einvoice-turnkey.md) as assets, group `invoices`: uploads → daily invoice
batches → Turnkey results.

number_pools      E0501 ranges from the tenants' folders and Turnkey's DownCast
invoice_uploads   invoice CSVs validated per invoice; good ones stored, bad ones logged with rows and rule
invoice_batches   per day: numbers from each tenant's pool, F0401 MIG 4.1 files into Turnkey's SRC
turnkey_results   Turnkey's answers read back; failed invoices resent with backoff, then alerted
"""

import time
from contextlib import closing
from datetime import date

from dagster import (
    AssetExecutionContext,
    Config,
    DailyPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from commerce_core.db.cursors import utcnow
from commerce_core.einvoice import DEFAULT_WORKERS, invoice_store
from commerce_core.einvoice.intake import IntakeReport, take_e0501_file, take_invoice_files
from commerce_core.einvoice.issuing import issue_days
from commerce_core.einvoice.periods import period_of
from commerce_core.einvoice.results import read_results, resend_due
from commerce_core.einvoice.tenancy import pool_status, tenants_by_id
from hub_assets.metadata import markdown_table
from hub_assets.run_context import progress_logger
from resources import CatalogDatabase, InvoiceUploadsResource, NotifierResource, TurnkeyResource

INVOICES_GROUP = "invoices"
INVOICES_OWNERS = ["team:einvoicing"]
TIMEZONE = "Asia/Taipei"
# Today's partition exists (end_offset=1): invoices of the morning are issued the same day.
invoice_days = DailyPartitionsDefinition(start_date="2025-01-01", timezone=TIMEZONE, end_offset=1)


class IntakeConfig(Config):
    files: list[str] = Field(default_factory=list, description="Paths to take (the sensor's list). Empty: every "
                             "finished file in the folders that is not in the upload log yet.")


class UploadConfig(IntakeConfig):
    workers: int = Field(default=DEFAULT_WORKERS, description="Processes taking files side by side.")


def _arrived(context: AssetExecutionContext, uploads: InvoiceUploadsResource, turnkey: TurnkeyResource,
             kind: str, config: IntakeConfig):
    arrived = list(uploads.folders(turnkey.folders()).arrived(kind))
    if config.files:
        wanted = set(config.files)
        arrived = [item for item in arrived if str(item.path) in wanted]
    context.log.info(f"{len(arrived)} {kind} file(s) to take")
    return arrived


def _intake_metadata(report: IntakeReport, started: float) -> dict:
    return {
        "files": report.files,
        "duplicates": report.duplicates,
        "refused_files": MetadataValue.md("\n".join(f"- {line}" for line in report.refused[:20]) or "none"),
        "duration_seconds": round(time.perf_counter() - started, 3),
    }


@asset(group_name=INVOICES_GROUP, owners=INVOICES_OWNERS, kinds={"python", "sql", "xml"},
       description="E0501 number assignments (urn:GEINV:E0501:4.0) from <uploads>/<BAN>/e0501/ and Turnkey's "
       "DownCast/B2PMESSAGE/E0501/SRC: parsed safely, validated against the official XSD and the range rules, "
       "stored as number pools per tenant, period, type and track. Overlapping or repeated ranges are refused.")
def number_pools(context: AssetExecutionContext, config: IntakeConfig, catalog_db: CatalogDatabase,
                 uploads: InvoiceUploadsResource, turnkey: TurnkeyResource) -> MaterializeResult:
    started = time.perf_counter()
    report = IntakeReport()
    for arrived in _arrived(context, uploads, turnkey, "e0501", config):
        take_e0501_file(catalog_db.engine, arrived, report, context.run.run_id)
    for line in report.refused:
        context.log.warning(f"E0501 refused: {line}")
    return MaterializeResult(metadata={
        **_intake_metadata(report, started),
        "dagster/row_count": len(report.ranges),
        "ranges_registered": len(report.ranges),
        "ranges": MetadataValue.md("\n".join(f"- {line}" for line in report.ranges[:30]) or "none"),
    })


@asset(group_name=INVOICES_GROUP, owners=INVOICES_OWNERS, kinds={"python", "sql", "csv"},
       description="Invoice CSV uploads (<uploads>/<BAN>/invoices/*.csv, one row per line item): every invoice "
       "checked against the F0401 rules (BANs, dates, tax types, carrier/donation/print marks, amount rule, "
       "item count); good invoices stored for their day's batch, bad ones rejected with rows and rule while "
       "the rest of the file goes on. One upload-log line per file.")
def invoice_uploads(context: AssetExecutionContext, config: UploadConfig, catalog_db: CatalogDatabase,
                    uploads: InvoiceUploadsResource, turnkey: TurnkeyResource) -> MaterializeResult:
    started = time.perf_counter()
    progress = progress_logger(context, "uploads")
    report = take_invoice_files(
        catalog_db.resolved_url(), _arrived(context, uploads, turnkey, "invoices", config), workers=config.workers,
        run_id=context.run.run_id,
        progress=lambda r: progress(f"{r.files} file(s), {r.accepted} invoices accepted, {r.rejected} rejected"))
    for line in report.refused:
        context.log.warning(f"upload refused: {line}")
    return MaterializeResult(metadata={
        **_intake_metadata(report, started),
        "dagster/row_count": report.accepted,
        "rows": report.rows,
        "accepted": report.accepted,
        "rejected": report.rejected,
        "days": ", ".join(sorted(day.isoformat() for day in report.days)) or "none",
        "per_tenant": MetadataValue.md(markdown_table(
            ["tenant", "uploads", "accepted", "rejected"],
            [(ban, e["uploads"], e["accepted"], e["rejected"]) for ban, e in sorted(report.per_tenant.items())])),
        "rejects_preview": MetadataValue.md(markdown_table(["file", "order", "rows", "rule", "message"],
                                                           report.reject_preview) if report.reject_preview else "none"),
    })


class BatchConfig(Config):
    workers: int = Field(default=DEFAULT_WORKERS, description="Processes issuing tenants side by side.")


@asset(partitions_def=invoice_days, deps=[invoice_uploads, number_pools], group_name=INVOICES_GROUP,
       owners=INVOICES_OWNERS, kinds={"python", "sql", "xml"},
       description="The day's invoice batch: each accepted invoice takes the next number of its tenant's pool for "
       "the period, in time order, never twice and without gaps (pool rows locked in the database); each becomes "
       "one F0401 MIG 4.1 XML, validated against the official XSD, written atomically into "
       "TURNKEY_ROOT/UpCast/B2SSTORAGE/F0401/SRC. An exhausted pool stops only that tenant (alert); a rerun "
       "issues nothing twice and rewrites nothing differently.")
def invoice_batches(context: AssetExecutionContext, config: BatchConfig, catalog_db: CatalogDatabase,
                    turnkey: TurnkeyResource, notifier: NotifierResource) -> MaterializeResult:
    started = time.perf_counter()
    day = date.fromisoformat(context.partition_key)
    engine, folders = catalog_db.engine, turnkey.folders()
    with engine.connect() as conn:
        tenants = sorted(tenants_by_id(conn, invoice_store.tenants_with_work(conn, day)).values(),
                         key=lambda tenant: tenant.ban)
    context.log.info(f"{len(tenants)} tenant(s) with invoices to issue for {day}, {config.workers} worker(s)")
    problems = []
    rows, written, numbered = [], 0, 0
    with closing(notifier.create_notifier(context.log.warning)) as alerts:
        for outcome in issue_days(catalog_db.resolved_url(), folders.root, tenants, day, workers=config.workers):
            numbered += outcome.numbered
            written += outcome.written
            if outcome.exhausted:
                problems.append(outcome.exhausted)
                alerts.send("Invoice number pool exhausted", outcome.exhausted, severity="critical",
                            details={"tenant": outcome.tenant_ban, "period": outcome.period,
                                     "waiting": outcome.waiting})
            problems += [f"tenant {outcome.tenant_ban}: {error}" for error in outcome.errors]
            context.log.info(f"{outcome.tenant_ban}: {outcome.numbered} numbered, {outcome.written} written, "
                             f"{outcome.already_there} already with Turnkey")
    with engine.connect() as conn:
        summary = {entry["tenant_id"]: entry for entry in invoice_store.day_summary(conn, day)}
        every = tenants_by_id(conn, summary)
        for tenant_id, entry in sorted(summary.items()):
            left = sum(pool.left for pool in pool_status(conn, tenant_id, period_of(day)))
            rows.append((every[tenant_id].ban, entry["invoices"], entry["amount"],
                         entry.get("uploaded", 0) + entry.get("confirmed", 0) + entry.get("failed", 0),
                         entry.get("accepted", 0) + entry.get("numbered", 0), left))
    metadata = {
        "dagster/row_count": sum(row[1] for row in rows),
        "numbered_this_run": numbered,
        "files_written": written,
        "tenants": len(rows),
        "amount_total": sum(row[2] for row in rows),
        "per_tenant": MetadataValue.md(markdown_table(
            ["tenant", "invoices", "amount (TWD)", "handed to Turnkey", "waiting", "numbers left in pool"], rows[:50])),
        "duration_seconds": round(time.perf_counter() - started, 3),
    }
    if problems:
        raise Failure(description=f"{len(problems)} problem(s); the other tenants' invoices were issued: "
                      + "; ".join(problems[:5]), metadata=metadata)
    return MaterializeResult(metadata=metadata)


@asset(deps=[invoice_batches], group_name=INVOICES_GROUP, owners=INVOICES_OWNERS, kinds={"python", "sql", "xml"},
       description="Turnkey's answers read back (files moved to BAK/ERR, ProcessResult and SummaryResult 4.0 "
       "validated against their XSDs): invoices confirmed or failed; failed ones resent after 1 min, 5 min, "
       "15 min, 1 h, 4 h, then abandoned with an alert.")
def turnkey_results(context: AssetExecutionContext, catalog_db: CatalogDatabase, turnkey: TurnkeyResource,
                    notifier: NotifierResource) -> MaterializeResult:
    started = time.perf_counter()
    engine, folders = catalog_db.engine, turnkey.folders()
    read = read_results(engine, folders)
    resent = resend_due(engine, folders, utcnow())
    for line in read.unreadable + resent.errors:
        context.log.warning(line)
    if read.abandoned:
        with closing(notifier.create_notifier(context.log.warning)) as alerts:
            alerts.send("Invoices abandoned after the last resend", f"{len(read.abandoned)} invoice(s) failed five "
                        "resends and need a person", severity="critical", details={"invoices": read.abandoned[:50]})
    with engine.connect() as conn:
        waiting = invoice_store.count_by_status(conn, "uploaded")
        failed = invoice_store.count_by_status(conn, "failed")
    return MaterializeResult(metadata={
        "dagster/row_count": read.confirmed + read.failed,
        "confirmed": read.confirmed,
        "failed": read.failed,
        "resent": resent.files,
        "abandoned": len(read.abandoned),
        "unreadable_results": len(read.unreadable),
        "resend_errors": len(resent.errors),
        "awaiting_turnkey": waiting,
        "failed_awaiting_resend": failed,
        "duration_seconds": round(time.perf_counter() - started, 3),
    })


INVOICE_ASSETS = [number_pools, invoice_uploads, invoice_batches, turnkey_results]

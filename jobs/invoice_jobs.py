"""E-invoicing jobs: file intake, the daily batch, Turnkey results, and archiving cold months."""

from datetime import date

from dagster import AssetSelection, Config, Failure, OpExecutionContext, define_asset_job, job, op
from pydantic import Field

from commerce_core.einvoice.partitions import ArchiveRefused, archive_month, months_to_archive
from commerce_core.settings import load_settings
from hub_assets.invoices import invoice_batches, invoice_uploads, number_pools, turnkey_results
from resources import CatalogDatabase

INVOICE_TAGS = {"hub/pipeline": "invoices"}

number_pool_import_job = define_asset_job(
    "number_pool_import", selection=AssetSelection.assets(number_pools), tags=INVOICE_TAGS,
    description="Register newly arrived E0501 number assignments.")

invoice_upload_job = define_asset_job(
    "invoice_upload", selection=AssetSelection.assets(invoice_uploads), tags=INVOICE_TAGS,
    description="Validate and store newly arrived invoice CSV uploads.")

invoice_batch_job = define_asset_job(
    "invoice_batch", selection=AssetSelection.assets(invoice_batches), tags=INVOICE_TAGS,
    description="Number one day's invoices and hand their F0401 files to Turnkey.")

# One at a time (dagster.yaml): two runs would resend the same failed invoice twice.
turnkey_results_job = define_asset_job(
    "turnkey_results_check", selection=AssetSelection.assets(turnkey_results), tags={"hub/pipeline": "turnkey"},
    description="Read Turnkey's answers, resend failed invoices whose backoff has passed.")


class ArchiveConfig(Config):
    keep_months: int = Field(default=12, description="Months kept hot (the current one included).")


@op(description="Write each month past the hot window to $HUB_DATA_DIR/archive as gzip'd JSON lines, "
    "check it reads back whole, then drop it (PostgreSQL: detach and drop the partition).")
def archive_invoice_months(context: OpExecutionContext, config: ArchiveConfig, catalog_db: CatalogDatabase) -> None:
    engine = catalog_db.engine
    with engine.connect() as conn:
        months = months_to_archive(conn, date.today(), config.keep_months)
    context.log.info(f"{len(months)} month(s) to archive: {', '.join(f'{m:%Y-%m}' for m in months) or 'none'}")
    refused = []
    for month in months:
        try:
            archived = archive_month(engine, month, load_settings().archive_dir)
        except ArchiveRefused as error:  # one unsettled month does not hold back the others
            refused.append(str(error))
            context.log.warning(str(error))
            continue
        context.log.info(f"{month:%Y-%m}: {archived.rows} invoices → {archived.path}")
    if refused:
        raise Failure(description=f"{len(refused)} month(s) not archived: " + "; ".join(refused))


@job(tags=INVOICE_TAGS, description="Archive invoice months older than the hot year.")
def archive_invoices():
    archive_invoice_months()


INVOICE_JOBS = [number_pool_import_job, invoice_upload_job, invoice_batch_job, turnkey_results_job, archive_invoices]

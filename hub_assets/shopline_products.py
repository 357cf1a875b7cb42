"""shopline_products: the Shopline store's products (GraphQL) staged beside the other sources (seeds/002)."""

import time
from contextlib import closing

from dagster import AssetExecutionContext, Config, MaterializeResult, asset
from pydantic import Field

from commerce_core.catalog import import_jobs
from commerce_core.catalog.supplier_staging import stage_batches, tombstone_missing
from commerce_core.connectors.shopline_mapping import SHOPLINE_SUPPLIER_ID, product_key
from hub_assets.run_context import progress_logger, run_trigger
from resources import CatalogDatabase, ShoplineResource


class ShoplineImportConfig(Config):
    requested_by: str | None = Field(default=None, description="Who asked for this import (audit).")
    max_archive_fraction: float = Field(
        default=0.5, ge=0, le=1,
        description="A full listing refuses to archive more than this share of the store's products at once.",
    )


@asset(
    group_name="catalog",
    owners=["team:catalog"],
    kinds={"python", "sql"},
    tags={"hub/source": "shopline"},
    description="Raw Shopline products (GraphQL, Relay cursors; GIDs kept as plain ids), staged in "
    "supplier_records beside the other sources; products the store no longer lists are archived.",
)
def shopline_products(context: AssetExecutionContext, config: ShoplineImportConfig, catalog_db: CatalogDatabase,
                      shopline: ShoplineResource) -> MaterializeResult:
    started = time.perf_counter()
    engine = catalog_db.engine
    with engine.begin() as conn:
        job_id = import_jobs.start_job(conn, supplier_id=SHOPLINE_SUPPLIER_ID, mode="full",
                                       trigger=run_trigger(context), requested_by=config.requested_by,
                                       run_id=context.run.run_id)
    try:
        with closing(shopline.create_client(on_retry=context.log.warning)) as client:
            staged = stage_batches(engine, SHOPLINE_SUPPLIER_ID, client.products(shopline.page_size), job_id,
                                   progress_logger(context, "fetched"), key=product_key)
        archived = tombstone_missing(engine, SHOPLINE_SUPPLIER_ID, staged.seen_ids, job_id,
                                     config.max_archive_fraction)
        with engine.begin() as conn:
            import_jobs.record_counts(conn, job_id, fetched_count=staged.fetched, rejected_count=staged.rejected)
    except Exception as error:
        with engine.begin() as conn:
            import_jobs.finish_job(conn, job_id, error=f"shopline_products: {type(error).__name__}: {error}")
        raise
    return MaterializeResult(metadata={
        "dagster/row_count": staged.staged_new + staged.staged_changed + archived,
        "import_job_id": str(job_id),
        "fetched": staged.fetched,
        "new": staged.staged_new,
        "changed": staged.staged_changed,
        "unchanged": staged.unchanged,
        "deleted_at_supplier": archived,
        "rejected": staged.rejected,
        "duration_seconds": round(time.perf_counter() - started, 3),
    })

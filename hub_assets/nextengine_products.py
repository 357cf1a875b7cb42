"""nextengine_products: Next Engine goods staged beside the SERP records (seeds/002)."""

import time
from contextlib import closing

from dagster import AssetExecutionContext, Config, MaterializeResult, asset
from pydantic import Field

from commerce_core.catalog import import_jobs
from commerce_core.catalog.supplier_staging import stage_batches, tombstone_missing
from commerce_core.connectors.nextengine_mapping import NEXTENGINE_SUPPLIER_ID
from hub_assets.run_context import progress_logger, run_trigger
from resources import CatalogDatabase, NextEngineResource

GOODS_SEARCH = "/api_v1_master_goods/search"


class NextEngineImportConfig(Config):
    requested_by: str | None = Field(default=None, description="Who asked for this import (audit).")
    max_archive_fraction: float = Field(
        default=0.5, ge=0, le=1,
        description="A full listing refuses to archive more than this share of the shop's goods at once.",
    )


@asset(
    group_name="catalog",
    owners=["team:catalog"],
    kinds={"python", "sql"},
    tags={"hub/source": "nextengine"},
    description="Raw Next Engine goods (the whole listing, offset-paged, with rotating tokens kept in "
    "oauth_tokens), staged in supplier_records beside SERP's; goods Next Engine no longer lists are archived.",
)
def nextengine_products(context: AssetExecutionContext, config: NextEngineImportConfig, catalog_db: CatalogDatabase,
                        nextengine: NextEngineResource) -> MaterializeResult:
    started = time.perf_counter()
    engine = catalog_db.engine
    with engine.begin() as conn:
        job_id = import_jobs.start_job(conn, supplier_id=NEXTENGINE_SUPPLIER_ID, mode="full",
                                       trigger=run_trigger(context), requested_by=config.requested_by,
                                       run_id=context.run.run_id)
    try:
        with closing(nextengine.create_client(engine, on_retry=context.log.warning)) as client:
            pages = client.search(GOODS_SEARCH, limit=nextengine.page_size)
            staged = stage_batches(engine, NEXTENGINE_SUPPLIER_ID, pages, job_id, progress_logger(context, "fetched"),
                                   key=lambda record: record.get("goods_id"))
        archived = tombstone_missing(engine, NEXTENGINE_SUPPLIER_ID, staged.seen_ids, job_id,
                                     config.max_archive_fraction)
        with engine.begin() as conn:
            import_jobs.record_counts(conn, job_id, fetched_count=staged.fetched, rejected_count=staged.rejected)
    except Exception as error:
        with engine.begin() as conn:
            import_jobs.finish_job(conn, job_id, error=f"nextengine_products: {type(error).__name__}: {error}")
        raise
    return MaterializeResult(metadata={
        "dagster/row_count": staged.staged_new + staged.staged_changed + archived,
        "import_job_id": str(job_id),
        "shop": nextengine.shop(),
        "fetched": staged.fetched,
        "new": staged.staged_new,
        "changed": staged.staged_changed,
        "unchanged": staged.unchanged,
        "deleted_at_supplier": archived,
        "rejected": staged.rejected,
        "duration_seconds": round(time.perf_counter() - started, 3),
    })

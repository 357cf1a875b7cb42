"""What every platform source asset does (Next Engine goods, Shopline products): an import job, an
incremental read since the stored cursor (or the whole listing), staging beside the other sources,
archiving what a whole listing no longer shows, and the same metadata; and a targeted import of given
ids (Shopline webhooks), archiving the ids the source no longer has."""

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Literal

from dagster import AssetExecutionContext, Config, MaterializeResult
from pydantic import Field

from commerce_core.catalog import import_jobs
from commerce_core.catalog.supplier_staging import stage_batches, tombstone, tombstone_missing
from commerce_core.connectors.converters import UnifiedFilter
from commerce_core.connectors.incremental import ListingWalk, next_cursor
from commerce_core.db.cursors import get_cursor, set_cursor, utcnow
from hub_assets.run_context import progress_logger, run_trigger


class SourceImportConfig(Config):
    mode: Literal["incremental", "full"] = Field(
        default="incremental",
        description="incremental: records updated since the stored cursor (the whole listing when there is no "
        "cursor yet); full: the whole listing, archiving what the source no longer lists.",
    )
    requested_by: str | None = Field(default=None, description="Who asked for this import (audit).")
    max_archive_fraction: float = Field(
        default=0.5, ge=0, le=1,
        description="A whole listing refuses to archive more than this share of the source's products at once.",
    )


def import_listing(context: AssetExecutionContext, engine, config: SourceImportConfig, *,
                   supplier_id: str, asset_name: str, cursor_name: str,
                   pages: Callable[[UnifiedFilter], Iterable[list]], key: Callable[[dict], object],
                   updated_at: Callable[[dict], datetime | None],
                   extra_metadata: dict | None = None) -> MaterializeResult:
    """`pages(filter)` reads the listing through the platform's filter syntax (converters.py)."""
    started = time.perf_counter()
    started_at = utcnow()
    with engine.begin() as conn:
        since_value = get_cursor(conn, cursor_name) if config.mode == "incremental" else None
        mode = "incremental" if since_value else "full"
        job_id = import_jobs.start_job(conn, supplier_id=supplier_id, mode=mode, trigger=run_trigger(context),
                                       requested_by=config.requested_by, run_id=context.run.run_id)
    since = datetime.fromisoformat(since_value) if since_value else None
    context.log.info(f"import job {job_id}: mode={mode} since={since_value or '-'}")
    walk = ListingWalk(key, updated_at)
    with import_jobs.failure_recorded(engine, job_id, asset_name):
        staged = stage_batches(engine, supplier_id, walk.pages(pages(UnifiedFilter(updated_since=since))), job_id,
                               progress_logger(context, "fetched"), key=key)
        # Only a whole listing shows what the source deleted; an incremental read shows what changed.
        archived = (tombstone_missing(engine, supplier_id, staged, job_id, config.max_archive_fraction)
                    if mode == "full" else 0)
        cursor = next_cursor(since, walk.max_updated, started_at)
        with engine.begin() as conn:
            if cursor is not None:
                set_cursor(conn, cursor_name, cursor.isoformat())
            import_jobs.record_counts(conn, job_id, fetched_count=staged.fetched, rejected_count=staged.rejected)
    return MaterializeResult(metadata={
        "dagster/row_count": staged.staged_new + staged.staged_changed + archived,
        "import_job_id": str(job_id),
        **(extra_metadata or {}),
        "mode": mode,
        "since": since_value or "",
        "cursor": cursor.isoformat() if cursor is not None else (since_value or ""),
        "fetched": staged.fetched,
        "new": staged.staged_new,
        "changed": staged.staged_changed,
        "unchanged": staged.unchanged,
        "repeated_across_pages": walk.repeated,
        "deleted_at_supplier": archived,
        "rejected": staged.rejected,
        "duration_seconds": round(time.perf_counter() - started, 3),
    })


def import_by_ids(context: AssetExecutionContext, engine, *, supplier_id: str, asset_name: str,
                  requested: list[str], requested_by: str | None, batches: Iterable[list], missing: list[str],
                  key: Callable[[dict], object], extra_metadata: dict | None = None) -> MaterializeResult:
    """Stage the records `batches` yields for the `requested` ids; the ids it put in `missing` while it was
    read (the source no longer has them) are archived, as SERP's 404s are."""
    started = time.perf_counter()
    with engine.begin() as conn:
        job_id = import_jobs.start_job(conn, supplier_id=supplier_id, mode="ids", trigger=run_trigger(context),
                                       requested_by=requested_by, product_ids=requested, run_id=context.run.run_id)
    with import_jobs.failure_recorded(engine, job_id, asset_name):
        staged = stage_batches(engine, supplier_id, batches, job_id, progress_logger(context, "fetched"), key=key)
        archived = tombstone(engine, supplier_id, missing, job_id) if missing else 0
        with engine.begin() as conn:
            import_jobs.record_counts(conn, job_id, fetched_count=staged.fetched, rejected_count=staged.rejected)
    return MaterializeResult(metadata={
        "dagster/row_count": staged.staged_new + staged.staged_changed + archived,
        "import_job_id": str(job_id),
        "mode": "ids",
        **(extra_metadata or {}),
        "requested": len(requested),
        "fetched": staged.fetched,
        "new": staged.staged_new,
        "changed": staged.staged_changed,
        "unchanged": staged.unchanged,
        "deleted_at_supplier": archived,
        "rejected": staged.rejected,
        "duration_seconds": round(time.perf_counter() - started, 3),
    })

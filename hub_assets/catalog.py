"""Catalog assets (GlobalHub design: 上游同步, docs/background.md): SERP supplier -> validated -> enriched ->
central catalog.

Each asset writes its own table and hands the next one nothing in memory: a stage
processes whatever its upstream table holds that it has not built yet, so any
asset can be rerun alone and a failed run resumes where it stopped.
"""


import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta
from typing import Literal

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from pydantic import Field
from sqlalchemy import func, select

from commerce_core.bulk_work import start_workers
from commerce_core.catalog import import_jobs
from commerce_core.catalog.central_catalog import pending_changes, write_pending
from commerce_core.catalog.product_enrichment import enrich_pending, pending_products
from commerce_core.catalog.product_validation import pending_records, validate_pending
from commerce_core.catalog.serp_mapping import SERP_SUPPLIER_ID
from commerce_core.catalog.sources import SOURCES
from commerce_core.catalog.supplier_staging import stage_batches, tombstone, tombstone_missing
from commerce_core.db.cursors import get_cursor, set_cursor, utcnow
from commerce_core.db.schema import import_rejects, product_prices, products
from commerce_core.settings import load_settings
from commerce_core.suppliers.serp import SerpSupplierClient
from hub_assets.freshness import CATALOG_FRESHNESS
from hub_assets.metadata import markdown_table
from hub_assets.nextengine_products import nextengine_products
from hub_assets.shopline_products import shopline_products
from hub_assets.run_context import progress_logger, record_webhook_run, run_trigger
from resources import CatalogDatabase, EnricherResource, SerpSupplierResource

CATALOG_GROUP = "catalog"
CATALOG_OWNERS = ["team:catalog"]
SERP_CURSOR = "serp:products:updated_since"
# Products that change while we page arrive again on the next incremental read
# (docs/protocols/serp-supplier.md); the overlap also absorbs clock skew with the supplier.
CURSOR_OVERLAP = timedelta(minutes=5)


class SerpImportConfig(Config):
    mode: Literal["full", "incremental", "ids"] = Field(
        default="incremental",
        description="full: whole listing, archives what vanished; incremental: since the stored cursor; "
        "ids: only product_ids.",
    )
    product_ids: list[str] = Field(default_factory=list, description="With mode ids: the SERP product ids to import.")
    requested_by: str | None = Field(default=None, description="Who asked for this import (audit).")
    max_archive_fraction: float = Field(
        default=0.5, ge=0, le=1,
        description="A full sync refuses to archive more than this share of the catalog at once.",
    )


def _suppliers_to_process(context: AssetExecutionContext, engine, pending_query) -> list[str]:
    """Sources imported in this run, and any with work left over (e.g. a run that failed half-way)."""
    with engine.connect() as conn:
        return [supplier_id for supplier_id in SOURCES
                if import_jobs.find_job_for_run(conn, supplier_id=supplier_id, run_id=context.run.run_id)
                or conn.execute(pending_query(supplier_id).limit(1)).first() is not None]


@contextmanager
def _run_import_job(context: AssetExecutionContext, engine, stage: str, supplier_id: str):
    """The run's import job for a downstream stage; a failure is written on it before it propagates."""
    with engine.begin() as conn:
        job_id = import_jobs.job_for_run(conn, supplier_id=supplier_id, run_id=context.run.run_id,
                                         trigger=run_trigger(context))
    with import_jobs.failure_recorded(engine, job_id, stage):
        yield job_id


def _records_by_id(client: SerpSupplierClient, product_ids: list[str], missing: list[str]) -> Iterator[list]:
    """One record per found id (staging regroups them); ids the supplier answers 404 for go to `missing`."""
    for product_id in dict.fromkeys(product_ids):
        record = client.get_product(product_id)
        if record is None:
            missing.append(product_id)
        else:
            yield [record]


@asset(
    group_name=CATALOG_GROUP,
    owners=CATALOG_OWNERS,
    kinds={"python", "sql"},
    tags={"hub/source": "serp"},
    freshness_policy=CATALOG_FRESHNESS,
    description="Raw SERP supplier records (full listing, incremental since the stored cursor, or given ids), "
    "kept in the supplier_records staging table; records the supplier deleted become tombstones.",
)
def serp_products(
    context: AssetExecutionContext, config: SerpImportConfig, catalog_db: CatalogDatabase, serp: SerpSupplierResource
) -> MaterializeResult:
    started = time.perf_counter()
    started_at = utcnow()
    engine = catalog_db.engine
    mode = "ids" if config.product_ids else config.mode
    if mode == "ids" and not config.product_ids:
        raise ValueError("mode 'ids' needs product_ids: the SERP product ids to import")
    webhook_events = record_webhook_run(context, engine)
    with engine.begin() as conn:
        job_id = import_jobs.start_job(
            conn, supplier_id=SERP_SUPPLIER_ID, mode=mode, trigger=run_trigger(context),
            requested_by=config.requested_by, product_ids=config.product_ids, run_id=context.run.run_id,
        )
        since_value = get_cursor(conn, SERP_CURSOR) if mode == "incremental" else None
    since = datetime.fromisoformat(since_value) if since_value else None
    context.log.info(f"import job {job_id}: mode={mode} since={since_value or '-'}")
    with import_jobs.failure_recorded(engine, job_id, "serp_products"):
        if mode != "ids":
            start_workers(engine, catalog_db.workers)
        with closing(serp.create_client(on_retry=context.log.warning)) as client:
            missing: list[str] = []
            if mode == "ids":
                batches = _records_by_id(client, config.product_ids, missing)
            else:
                batches = (page.products for page in client.iter_pages(serp.page_size, since, serp.concurrency))
            # A listing is hashed and written in the worker processes; a few ids are not worth starting them.
            staged = stage_batches(engine, SERP_SUPPLIER_ID, batches, job_id, progress_logger(context, "fetched"),
                                   whole_listing=mode == "full", workers=1 if mode == "ids" else catalog_db.workers)
        tombstoned = tombstone(engine, SERP_SUPPLIER_ID, missing, job_id) if missing else 0
        if mode == "full":
            tombstoned += tombstone_missing(engine, SERP_SUPPLIER_ID, staged, job_id,
                                            config.max_archive_fraction)
        cursor_value = since_value
        with engine.begin() as conn:
            if mode != "ids" and staged.max_source_updated_at is not None:
                # Never beyond what the supplier showed us, never past our start minus the overlap.
                new_cursor = min(staged.max_source_updated_at, started_at - CURSOR_OVERLAP)
                if since is None or new_cursor > since:
                    cursor_value = new_cursor.isoformat()
                    set_cursor(conn, SERP_CURSOR, cursor_value)
            import_jobs.record_counts(conn, job_id, fetched_count=staged.fetched, rejected_count=staged.rejected)
    return MaterializeResult(
        metadata={
            "dagster/row_count": staged.staged_new + staged.staged_changed + tombstoned,
            "import_job_id": str(job_id),
            "mode": mode,
            "fetched": staged.fetched,
            "new": staged.staged_new,
            "changed": staged.staged_changed,
            "unchanged": staged.unchanged,
            "deleted_at_supplier": tombstoned,
            "rejected_unkeyable": staged.rejected,
            "cursor": cursor_value or "",
            "webhook_events": webhook_events,
            "duration_seconds": round(time.perf_counter() - started, 3),
        }
    )


@asset(
    deps=[serp_products, nextengine_products, shopline_products],
    group_name=CATALOG_GROUP,
    owners=CATALOG_OWNERS,
    kinds={"python", "sql"},
    description="Supplier records mapped to the unified product model; every reject is stored in "
    "import_rejects with the record id, the rule and a message.",
)
def validated_products(context: AssetExecutionContext, catalog_db: CatalogDatabase) -> MaterializeResult:
    started = time.perf_counter()
    engine = catalog_db.engine
    samples: list = []
    totals = {"processed": 0, "valid": 0, "rejected": 0, "deleted": 0}
    job_ids = []
    for supplier_id in _suppliers_to_process(context, engine, pending_records):
        source = SOURCES[supplier_id]
        with _run_import_job(context, engine, "validated_products", supplier_id) as job_id:
            result = validate_pending(engine, supplier_id, job_id, validate=source.validate, mapper=source.map,
                                      batch_size=catalog_db.batch_size, workers=catalog_db.workers,
                                      progress=progress_logger(context, f"validated {supplier_id}"))
        samples += result.samples[: 10 - len(samples)]
        with engine.begin() as conn:
            rejected = import_jobs.get_job(conn, job_id)["rejected_count"] + result.rejected
            import_jobs.record_counts(conn, job_id, valid_count=result.valid, rejected_count=rejected)
        job_ids.append(job_id)
        for key, value in (("processed", result.processed), ("valid", result.valid), ("rejected", rejected),
                           ("deleted", result.deleted)):
            totals[key] += value
    with engine.connect() as conn:
        rules = conn.execute(
            select(import_rejects.c.rule, func.count()).where(import_rejects.c.import_job_id.in_(job_ids))
            .group_by(import_rejects.c.rule).order_by(func.count().desc())
        ).all() if job_ids else []
    checked = totals["valid"] + totals["rejected"]
    return MaterializeResult(
        metadata={
            "dagster/row_count": totals["processed"],
            "import_job_ids": ", ".join(map(str, job_ids)) or "-",
            "valid": totals["valid"],
            "rejected": totals["rejected"],
            "deleted": totals["deleted"],
            "reject_rate": round(totals["rejected"] / checked, 4) if checked else 0.0,
            "rejects_by_rule": MetadataValue.md(markdown_table(["rule", "violations"], rules) if rules else "none"),
            "preview": MetadataValue.md(markdown_table(
                ["supplier", "id", "name", "type", "status", "prices"],
                [(p["supplierId"], p["externalId"], p["name"], p["productType"], p["status"],
                  ", ".join(f"{x['amount']} {x['currency']}" for x in p["prices"])) for p in samples],
            )),
            "duration_seconds": round(time.perf_counter() - started, 3),
        }
    )


@asset_check(asset=validated_products, description="The share of rejected records stays under "
             "HUB_MAX_REJECT_RATE (default 5%) for the run's import.")
def validated_products_reject_rate(context, catalog_db: CatalogDatabase) -> AssetCheckResult:
    limit = load_settings().max_reject_rate
    with catalog_db.engine.connect() as conn:
        jobs = [import_jobs.get_job(conn, job_id) for supplier_id in SOURCES
                if (job_id := import_jobs.find_job_for_run(conn, supplier_id=supplier_id, run_id=context.run.run_id))]
    if not jobs:
        return AssetCheckResult(passed=True, description="no import ran in this run: nothing to rate")
    rejected = sum(job["rejected_count"] for job in jobs)
    checked = sum(job["valid_count"] for job in jobs) + rejected
    rate = rejected / checked if checked else 0.0
    return AssetCheckResult(
        passed=rate <= limit,
        severity=AssetCheckSeverity.ERROR,
        description=f"{rejected} of {checked} records rejected ({rate:.2%}); limit {limit:.2%}",
        metadata={"reject_rate": round(rate, 4), "limit": limit, "rejected": rejected, "checked": checked},
    )


@asset(
    deps=[validated_products],
    group_name=CATALOG_GROUP,
    owners=CATALOG_OWNERS,
    kinds={"python", "sql"},
    description="Validated products with cleaned descriptions, tags and catalog translations (en-US, zh-TW, "
    "ja-JP); unchanged text is never enriched twice, and a failed enrichment keeps the original product.",
)
def enriched_products(
    context: AssetExecutionContext, catalog_db: CatalogDatabase, enricher: EnricherResource
) -> MaterializeResult:
    started = time.perf_counter()
    engine = catalog_db.engine
    totals = {"processed": 0, "enriched": 0, "failed": 0, "cache_hits": 0, "deleted": 0}
    missing_languages: dict[str, int] = {}
    job_ids = []
    with closing(enricher.create_enricher()) as active:
        for supplier_id in _suppliers_to_process(context, engine, pending_products):
            with _run_import_job(context, engine, "enriched_products", supplier_id) as job_id:
                result = enrich_pending(engine, supplier_id, job_id, active, concurrency=enricher.concurrency,
                                        batch_size=catalog_db.batch_size, workers=catalog_db.workers,
                                        progress=progress_logger(context, f"enriched {supplier_id}"))
            for failure in result.failures:
                context.log.warning(f"enrichment failed, original kept: {failure}")
            with engine.begin() as conn:
                import_jobs.record_counts(conn, job_id, enriched_count=result.enriched,
                                          enrichment_failed_count=result.failed)
            job_ids.append(job_id)
            for key in totals:
                totals[key] += getattr(result, key)
            for language, count in result.missing_languages.items():
                missing_languages[language] = missing_languages.get(language, 0) + count
    return MaterializeResult(
        metadata={
            "dagster/row_count": totals["processed"],
            "import_job_ids": ", ".join(map(str, job_ids)) or "-",
            "enricher": active.name,
            "enriched": totals["enriched"],
            "enrichment_failed": totals["failed"],
            "cache_hits": totals["cache_hits"],
            "deleted": totals["deleted"],
            "missing_languages": MetadataValue.json(missing_languages),
            "duration_seconds": round(time.perf_counter() - started, 3),
        }
    )


@asset(
    deps=[enriched_products],
    group_name=CATALOG_GROUP,
    owners=CATALOG_OWNERS,
    kinds={"python", "sql"},  # SQLite or PostgreSQL, whichever HUB_DATABASE_URL names
    freshness_policy=CATALOG_FRESHNESS,
    description="The central catalog: products, translations, prices and images, upserted in bulk by "
    "(supplier, external id); updated_at moves only on a real change; deleted products are archived.",
)
def central_catalog(context: AssetExecutionContext, catalog_db: CatalogDatabase) -> MaterializeResult:
    started = time.perf_counter()
    engine = catalog_db.engine
    totals = {"inserted": 0, "updated": 0, "unchanged": 0, "archived": 0}
    preview: list[dict] = []
    job_ids = []
    for supplier_id in _suppliers_to_process(context, engine, pending_changes):
        with _run_import_job(context, engine, "central_catalog", supplier_id) as job_id:
            result = write_pending(engine, supplier_id, actor=f"dagster:{context.run.run_id[:8]}",
                                   batch_size=catalog_db.batch_size, workers=catalog_db.workers,
                                   progress=progress_logger(context, f"written {supplier_id}"))
        with engine.begin() as conn:
            job = import_jobs.get_job(conn, job_id)
            unchanged = max(0, job["fetched_count"] - job["rejected_count"] - result.inserted - result.updated)
            import_jobs.record_counts(conn, job_id, inserted_count=result.inserted, updated_count=result.updated,
                                      archived_count=result.archived, unchanged_count=unchanged)
            import_jobs.finish_job(conn, job_id)
        job_ids.append(job_id)
        preview += result.preview[: 10 - len(preview)]
        for key, value in (("inserted", result.inserted), ("updated", result.updated), ("unchanged", unchanged),
                           ("archived", result.archived)):
            totals[key] += value
    with engine.connect() as conn:
        by_supplier = conn.execute(
            select(products.c.supplier_id, func.count(), func.count().filter(products.c.is_active))
            .group_by(products.c.supplier_id).order_by(products.c.supplier_id)
        ).all()
    return MaterializeResult(
        metadata={
            "dagster/row_count": sum(total for _, total, _ in by_supplier),
            "import_job_ids": ", ".join(map(str, job_ids)) or "-",
            "active_products": sum(active for _, _, active in by_supplier),
            "products_by_supplier": MetadataValue.md(markdown_table(["supplier", "products", "active"], by_supplier)),
            **totals,
            "preview": MetadataValue.md(markdown_table(
                ["supplier", "id", "name", "type", "status", "seats", "tags"],
                [(r["supplier_id"], r["external_product_id"], r["name"], r["product_type"], r["status"],
                  r["available_seats"], ", ".join(r["tags"])) for r in preview],
            )),
            "duration_seconds": round(time.perf_counter() - started, 3),
        }
    )


@asset_check(asset=central_catalog, description="Every active product in the central catalog has a price.")
def central_catalog_active_products_priced(catalog_db: CatalogDatabase) -> AssetCheckResult:
    priced = select(product_prices.c.product_id).where(product_prices.c.product_id == products.c.id).exists()
    with catalog_db.engine.connect() as conn:
        unpriced = conn.execute(
            select(func.count()).where(products.c.is_active, ~priced)
        ).scalar_one()
    return AssetCheckResult(passed=unpriced == 0, metadata={"active_without_price": unpriced})


CATALOG_ASSETS = [serp_products, validated_products, enriched_products, central_catalog]
NEXTENGINE_ASSETS = [nextengine_products]
SHOPLINE_ASSETS = [shopline_products]
CATALOG_CHECKS = [validated_products_reject_rate, central_catalog_active_products_priced]

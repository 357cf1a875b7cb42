"""Regional snapshots: the central catalog delivered to each regional site (GlobalHub design: 下游同步;
docs/background.md)."""

import time
from contextlib import closing

from dagster import (
    AssetExecutionContext,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    StaticPartitionsDefinition,
    asset,
)
from pydantic import Field
from sqlalchemy import func, select

from commerce_core.db.schema import products, region_deliveries
from commerce_core.regions import dead_letters
from commerce_core.regions.config import load_regions
from commerce_core.regions.delivery import RegionRefused
from commerce_core.regions.region_sync import sync_region
from hub_assets.catalog import central_catalog
from hub_assets.freshness import REGION_FRESHNESS
from hub_assets.metadata import markdown_table
from hub_assets.run_context import progress_logger, run_trigger
from resources import CatalogDatabase, FxRatesResource, RegionsResource

REGIONS_GROUP = "regions"
REGIONS_OWNERS = ["team:distribution"]

# One partition per enabled region of the regions file, read when the code location loads.
region_partitions = StaticPartitionsDefinition([region.code for region in load_regions().enabled()])


class RegionSyncConfig(Config):
    product_ids: list[str] = Field(
        default_factory=list,
        description="External product ids (SKUs) to refresh now, sent even if unchanged (stock sensor); "
        "the region's cursor stays. Empty: every product due since the cursor.",
    )
    resend_all: bool = Field(
        default=False,
        description="Send every eligible product again, ignoring the cursor and what the region already holds "
        "(after an FX-rate or region-config change, or when a region lost its data).",
    )


@asset(
    partitions_def=region_partitions,
    deps=[central_catalog],
    group_name=REGIONS_GROUP,
    owners=REGIONS_OWNERS,
    kinds={"python", "api"},
    freshness_policy=REGION_FRESHNESS,
    description="The central catalog as each region's site holds it: products changed since the region's cursor, "
    "in the region's languages and currencies, merged with the region's own copy by its conflict strategy, "
    "sent in batches of 50; what cannot be delivered goes to the dead-letter queue.",
)
def regional_snapshots(context: AssetExecutionContext, config: RegionSyncConfig, catalog_db: CatalogDatabase,
                       regions: RegionsResource, fx: FxRatesResource) -> MaterializeResult:
    started = time.perf_counter()
    regions_file = regions.load()
    region = regions_file.get(context.partition_key)
    engine = catalog_db.engine
    context.log.info(f"region {region.code}: {region.base_url}, strategy {region.conflict_strategy}, "
                     f"languages {', '.join(region.languages)}, currencies {', '.join(region.currencies)}")
    try:
        with closing(regions.create_client(region, on_retry=context.log.warning)) as client:
            result = sync_region(
                engine, region, client, fx.rates(regions_file), run_id=context.run.run_id,
                trigger=run_trigger(context, sensor_trigger="sensor"), resend_all=config.resend_all,
                concurrency=regions.concurrency, progress=progress_logger(context, f"region {region.code}"),
                product_ids=_product_ids(engine, config.product_ids) if config.product_ids else None,
            )
    except RegionRefused as error:
        raise Failure(description=str(error)) from error
    for error in result.errors:
        context.log.warning(f"not delivered to {region.code}: {error}")
    with engine.connect() as conn:
        backlog = dead_letters.backlog(conn).get(region.code, 0)
        held = conn.execute(select(func.count()).select_from(region_deliveries)
                            .where(region_deliveries.c.region_code == region.code)).scalar_one()
    return MaterializeResult(
        metadata={
            # The asset's rows: the products this region holds from the catalog; the run's share is below.
            "dagster/row_count": held,
            "synced_this_run": result.created + result.updated + result.kept_regional,
            "region": region.code,
            "status": result.status,
            "considered": result.considered,
            "sent": result.sent,
            "created": result.created,
            "updated": result.updated,
            "kept_regional_copy": result.kept_regional,
            "failed": result.failed,
            "dead_lettered": result.dead_lettered,
            "dead_letter_backlog": backlog,
            "untranslated": result.untranslated,
            "http_calls": result.calls + result.lookups,
            "circuit_skipped_batches": result.circuit_skipped_batches,
            "success_rate": round(result.success_rate, 4),
            "sync_log_id": str(result.sync_log_id),
            "errors": MetadataValue.md(markdown_table(["first failures"], [[e] for e in result.errors[:10]]))
            if result.errors else MetadataValue.md("none"),
            "duration_seconds": round(time.perf_counter() - started, 3),
        }
    )


def _product_ids(engine, external_ids: list[str]) -> list:
    with engine.connect() as conn:
        return list(conn.execute(select(products.c.id).where(products.c.external_product_id.in_(external_ids)))
                    .scalars())


REGION_ASSETS = [regional_snapshots]

"""Region jobs: one region's sync (a partition of regional_snapshots) and the dead-letter retry."""

from contextlib import closing

from dagster import AssetSelection, Config, Failure, OpExecutionContext, Output, define_asset_job, job, op
from pydantic import Field

from commerce_core.db.cursors import utcnow
from commerce_core.regions import dead_letters
from commerce_core.regions.region_sync import retry_dead_letters
from hub_assets.metadata import markdown_table
from hub_assets.regions import regional_snapshots
from resources import CatalogDatabase, FxRatesResource, NotifierResource, RegionsResource

REGION_RUN_TAGS = {"hub/pipeline": "regions"}

region_sync_job = define_asset_job(
    "region_sync",
    selection=AssetSelection.assets(regional_snapshots),
    description="Deliver the central catalog's changes to one region (pick the region as the partition).",
    tags=REGION_RUN_TAGS,
)


class DeadLetterRetryConfig(Config):
    limit: int = Field(default=100, ge=1, le=10_000, description="Items per run, oldest first.")
    max_tries: int = Field(default=dead_letters.MAX_TRIES, ge=1, description="Tries before an item waits for an operator.")


@op(description="Retry dead-lettered region deliveries, oldest first (the GlobalHub design's ProcessDeadLetterQueue); "
    "alert once about items that ran out of tries.")
def retry_region_dead_letters(context: OpExecutionContext, config: DeadLetterRetryConfig,
                              catalog_db: CatalogDatabase, regions: RegionsResource,
                              fx: FxRatesResource, notifier: NotifierResource):
    regions_file = regions.load()
    engine = catalog_db.engine
    result = retry_dead_letters(
        engine, {region.code: region for region in regions_file.enabled()},
        lambda region: regions.create_client(region, on_retry=context.log.warning), fx.rates(regions_file),
        limit=config.limit, max_tries=config.max_tries, concurrency=regions.concurrency,
    )
    context.log.info(f"dead-letter retry: {result.attempted} tried, {result.delivered} delivered, "
                     f"{result.still_failing} still failing, {result.no_longer_due} no longer due")
    if result.newly_exhausted:
        with closing(notifier.create_notifier(context.log.error)) as channel:
            sample = [(i["target_region"], i["entity_id"], i["retry_count"], i["error_message"][:120])
                      for i in result.newly_exhausted[:20]]
            channel.send(
                f"{len(result.newly_exhausted)} region deliveries gave up after {config.max_tries} tries",
                "They stay in the dead-letter queue for an operator:\n"
                + markdown_table(["region", "product", "tries", "last error"], sample),
                severity="critical",
                details={"items": [{"region": r, "product_id": p} for r, p, _, _ in sample]},
            )
        with engine.begin() as conn:
            dead_letters.mark_alerted(conn, [item["id"] for item in result.newly_exhausted], utcnow())
    with engine.connect() as conn:
        backlog = dead_letters.backlog(conn)
    if result.refused_regions:  # after every other region was retried and recorded
        raise Failure(description="regions refused our credentials (their items were left untouched): "
                      + "; ".join(f"{code}: {error}" for code, error in result.refused_regions.items()))
    return Output(
        None,
        metadata={
            "attempted": result.attempted, "delivered": result.delivered, "still_failing": result.still_failing,
            "no_longer_due": result.no_longer_due, "newly_exhausted": len(result.newly_exhausted),
            "backlog": sum(backlog.values()),
            "per_region": markdown_table(["region", "attempted", "delivered", "still failing", "no longer due"], [
                (code, r["attempted"], r["delivered"], r["still_failing"], r["no_longer_due"])
                for code, r in sorted(result.per_region.items())]),
        },
    )


@job(description="Retry the dead-letter queue of region deliveries (every 15 minutes).", tags=REGION_RUN_TAGS)
def dead_letter_retry():
    retry_region_dead_letters()


REGION_JOBS = [region_sync_job, dead_letter_retry]

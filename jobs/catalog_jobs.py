"""Catalog import jobs (GlobalHub design: SerpFullSyncJob, SerpIncrementalSyncJob, manual import; docs/background.md)."""

from dagster import AssetSelection, define_asset_job

from hub_assets.catalog import CATALOG_ASSETS, NEXTENGINE_ASSETS, SHOPLINE_ASSETS

# One catalog import at a time (dagster.yaml run_queue limit on this tag): the stages after
# staging take every source's pending rows, so two overlapping runs would do the same work twice.
CATALOG_RUN_TAGS = {"hub/pipeline": "catalog"}

_catalog_selection = AssetSelection.assets(*CATALOG_ASSETS)


def _import_config(mode: str, product_ids: list[str] | None = None) -> dict:
    config: dict = {"mode": mode}
    if product_ids is not None:
        config.update(product_ids=product_ids, requested_by="")
    return {"ops": {"serp_products": {"config": config}}}


serp_full_import_job = define_asset_job(
    "serp_full_import",
    selection=_catalog_selection,
    description="Whole SERP listing into the central catalog; products the supplier no longer lists are archived.",
    config=_import_config("full"),
    tags=CATALOG_RUN_TAGS,
)

serp_incremental_import_job = define_asset_job(
    "serp_incremental_import",
    selection=_catalog_selection,
    description="SERP products updated since the stored cursor into the central catalog.",
    config=_import_config("incremental"),
    tags=CATALOG_RUN_TAGS,
)

serp_manual_import_job = define_asset_job(
    "serp_manual_import",
    selection=_catalog_selection,
    description="Import the SERP product ids given in the launchpad (product_ids), e.g. after a supplier fix.",
    config=_import_config("ids", product_ids=[]),
    tags={**CATALOG_RUN_TAGS, "hub/trigger": "manual"},
)

nextengine_import_job = define_asset_job(
    "nextengine_import",
    selection=AssetSelection.assets(*NEXTENGINE_ASSETS, *CATALOG_ASSETS[1:]),
    description="Next Engine goods modified since the stored cursor into the central catalog (the whole listing "
    "on the first run).",
    tags=CATALOG_RUN_TAGS,
)

nextengine_full_import_job = define_asset_job(
    "nextengine_full_import",
    selection=AssetSelection.assets(*NEXTENGINE_ASSETS, *CATALOG_ASSETS[1:]),
    description="The whole Next Engine goods listing into the central catalog; goods no longer listed are archived.",
    config={"ops": {"nextengine_products": {"config": {"mode": "full"}}}},
    tags=CATALOG_RUN_TAGS,
)

shopline_import_job = define_asset_job(
    "shopline_import",
    selection=AssetSelection.assets(*SHOPLINE_ASSETS, *CATALOG_ASSETS[1:]),
    description="Shopline products updated since the stored cursor (GraphQL) into the central catalog (the whole "
    "listing on the first run).",
    tags=CATALOG_RUN_TAGS,
)

shopline_full_import_job = define_asset_job(
    "shopline_full_import",
    selection=AssetSelection.assets(*SHOPLINE_ASSETS, *CATALOG_ASSETS[1:]),
    description="The whole Shopline product listing (GraphQL) into the central catalog; products no longer "
    "listed are archived.",
    config={"ops": {"shopline_products": {"config": {"mode": "full"}}}},
    tags=CATALOG_RUN_TAGS,
)

orders_import_job = define_asset_job(
    "orders_import",
    selection=AssetSelection.groups("orders"),
    description="Shopline and Next Engine orders as unified orders (the ones invoices are issued for).",
    tags={"hub/pipeline": "orders"},
)

CATALOG_JOBS = [serp_full_import_job, serp_incremental_import_job, serp_manual_import_job, nextengine_import_job,
                nextengine_full_import_job, shopline_import_job, shopline_full_import_job, orders_import_job]

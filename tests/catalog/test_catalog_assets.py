"""The four catalog assets end to end against the SERP simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import select

from commerce_core.db.engine import get_engine
from commerce_core.db.migrate import upgrade
from commerce_core.db.schema import (
    import_jobs,
    import_rejects,
    product_images,
    product_prices,
    product_translations,
    products,
    sync_cursors,
)
from resources import CatalogDatabase
from tests.catalog.helpers import catalog_snapshot, materialization_metadata, run_catalog


def _check_results(result) -> dict:
    return {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}


def test_full_import_fills_the_catalog_and_a_rerun_changes_nothing(database_url, serp_simulator):
    served, catalog = serp_simulator(products=240)
    first = run_catalog(database_url, served.url, mode="full")
    assert first.success
    central = materialization_metadata(first, "central_catalog")
    assert materialization_metadata(first, "serp_products")["fetched"] == 240
    assert central["inserted"] == 240 and central["updated"] == 0
    assert central["dagster/row_count"] == 240

    engine = get_engine(database_url)
    with engine.connect() as conn:
        product = conn.execute(select(products).where(products.c.external_product_id == "SERP-0000007")).mappings().one()
        prices = conn.execute(select(product_prices).where(product_prices.c.product_id == product["id"])).mappings().all()
        job = conn.execute(select(import_jobs)).mappings().one()
    source = catalog.product(7)
    assert product["name"] == source["name"]
    assert {(p["currency"], p["amount"]) for p in prices} == {
        (p["currency"], Decimal(p["amount"])) for p in source["prices"]
    }
    assert all(isinstance(p["amount"], Decimal) for p in prices)
    assert "<" not in (product["enriched_description"] or "")
    assert job["status"] == "succeeded" and job["trigger"] == "manual" and job["mode"] == "full"
    assert (job["fetched_count"], job["inserted_count"]) == (240, 240)

    before = catalog_snapshot(database_url)
    again = run_catalog(database_url, served.url, mode="full")
    central_again = materialization_metadata(again, "central_catalog")
    assert (central_again["inserted"], central_again["updated"], central_again["unchanged"]) == (0, 0, 240)
    assert materialization_metadata(again, "serp_products")["unchanged"] == 240
    assert catalog_snapshot(database_url) == before


def test_incremental_import_fetches_only_what_changed(database_url, serp_simulator):
    served, catalog = serp_simulator(products=200)
    run_catalog(database_url, served.url)  # no cursor yet: everything
    before = {row["external_product_id"]: row for row in catalog_snapshot(database_url)["products"]}
    changed = catalog.change(4)

    result = run_catalog(database_url, served.url)
    assert materialization_metadata(result, "serp_products")["fetched"] == 4
    central = materialization_metadata(result, "central_catalog")
    assert (central["inserted"], central["updated"]) == (0, 4)

    after = {row["external_product_id"]: row for row in catalog_snapshot(database_url)["products"]}
    moved = {key for key in after if after[key]["updated_at"] != before[key]["updated_at"]}
    assert moved == set(changed)
    for key in changed:
        assert after[key]["name"] == catalog.product(catalog.index_for_id(key))["name"]
    with get_engine(database_url).connect() as conn:
        assert conn.execute(select(sync_cursors.c.value)).scalar_one()

    nothing = run_catalog(database_url, served.url)
    assert materialization_metadata(nothing, "central_catalog")["updated"] == 0


def test_central_catalog_waits_for_the_enrichment_of_the_current_product(database_url, serp_simulator):
    served, catalog = serp_simulator(products=60)
    run_catalog(database_url, served.url, mode="full")
    changed = catalog.change(3)
    run_catalog(database_url, served.url, selection=["serp_products", "validated_products", "enriched_products"])
    catalog.change_ids(changed)  # changed again: the enrichment on file is for the previous version
    run_catalog(database_url, served.url, selection=["serp_products", "validated_products"])

    early = run_catalog(database_url, served.url, selection=["central_catalog"])
    assert materialization_metadata(early, "central_catalog")["updated"] == 0

    late = run_catalog(database_url, served.url, selection=["enriched_products", "central_catalog"])
    assert materialization_metadata(late, "central_catalog")["updated"] == 3
    names = {row["external_product_id"]: row["name"] for row in catalog_snapshot(database_url)["products"]}
    for key in changed:
        assert names[key] == catalog.product(catalog.index_for_id(key))["name"]


def test_products_deleted_at_the_supplier_are_archived_not_dropped(database_url, serp_simulator):
    served, catalog = serp_simulator(products=120)
    run_catalog(database_url, served.url, mode="full")
    gone = catalog.delete(["SERP-0000003", "SERP-0000050"])

    result = run_catalog(database_url, served.url, mode="full")
    assert materialization_metadata(result, "central_catalog")["archived"] == 2
    rows = {row["external_product_id"]: row for row in catalog_snapshot(database_url)["products"]}
    assert len(rows) == 120
    for key in gone:
        assert rows[key]["status"] == "Archived" and rows[key]["is_active"] is False
        assert rows[key]["archived_at"] is not None


def test_manual_import_by_ids_imports_those_and_archives_a_404(database_url, serp_simulator):
    served, catalog = serp_simulator(products=100)
    run_catalog(database_url, served.url, product_ids=["SERP-0000010", "SERP-0000011"])
    assert {r["external_product_id"] for r in catalog_snapshot(database_url)["products"]} == {
        "SERP-0000010", "SERP-0000011"
    }
    catalog.delete(["SERP-0000011"])
    catalog.change_ids(["SERP-0000010"])
    result = run_catalog(database_url, served.url, product_ids=["SERP-0000010", "SERP-0000011"])
    central = materialization_metadata(result, "central_catalog")
    assert (central["updated"], central["archived"]) == (1, 1)
    with get_engine(database_url).connect() as conn:
        job = conn.execute(select(import_jobs).order_by(import_jobs.c.created_at.desc())).mappings().first()
    assert job["mode"] == "ids" and job["product_ids"] == ["SERP-0000010", "SERP-0000011"]


def test_rejects_are_kept_with_rule_and_the_reject_rate_check_fails(database_url, serp_simulator):
    served, _ = serp_simulator(products=100, invalid_rate=0.2)
    result = run_catalog(database_url, served.url, mode="full")
    assert result.success  # bad records never take the good ones down
    validated = materialization_metadata(result, "validated_products")
    assert validated["rejected"] == 20 and validated["valid"] == 80  # 4 of the 20 reuse an id
    with get_engine(database_url).connect() as conn:
        rejects = conn.execute(select(import_rejects)).mappings().all()
    rules = {r["rule"] for r in rejects}
    assert {"name_required", "price_amount", "price_currency", "status_enum", "duplicate_id"} <= rules
    assert all(r["external_id"] and r["message"] for r in rejects)
    check = _check_results(result)["validated_products_reject_rate"]
    assert check.passed is False
    assert len(catalog_snapshot(database_url)["products"]) == 80


def test_import_survives_supplier_faults(database_url, serp_simulator):
    served, catalog = serp_simulator(products=300, error_rate=0.2, rate_limit_rate=0.15, truncate_rate=0.15,
                                     retry_after_seconds=0, fault_seed=5)
    result = run_catalog(database_url, served.url, mode="full")
    assert materialization_metadata(result, "serp_products")["fetched"] == 300
    assert {r["external_product_id"] for r in catalog_snapshot(database_url)["products"]} == {
        catalog.product(i)["id"] for i in range(300)
    }
    faults = httpx.get(f"{served.url}/_sim/stats").json()["faults_injected"]
    assert faults.get("error") and faults.get("rate_limit") and faults.get("truncate"), faults


def test_an_unreachable_supplier_fails_the_run_and_the_import_job_says_why(database_url, serp_simulator):
    served, _ = serp_simulator(products=10)
    url = served.url
    served.stop()
    result = run_catalog(database_url, url, mode="full", raise_on_error=False)
    assert not result.success
    with get_engine(database_url).connect() as conn:
        job = conn.execute(select(import_jobs)).mappings().one()
        assert conn.execute(select(products)).first() is None
    assert job["status"] == "failed"
    assert job["error_message"].startswith("serp_products: RetryableError")
    assert "SERP_API_KEY" not in job["error_message"] and "serp-test-key" not in job["error_message"]


def test_the_reject_rate_check_alone_creates_no_import_job(database_url, serp_simulator):
    from dagster import AssetSelection, DagsterInstance, materialize

    from hub_assets.catalog import CATALOG_ASSETS, CATALOG_CHECKS, validated_products_reject_rate
    from tests.catalog.helpers import catalog_resources

    served, _ = serp_simulator(products=10)
    result = materialize(
        [*CATALOG_ASSETS, *CATALOG_CHECKS],
        selection=AssetSelection.checks(validated_products_reject_rate),
        resources=catalog_resources(database_url, served.url),
        instance=DagsterInstance.ephemeral(),
    )
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed
    with get_engine(database_url).connect() as conn:
        assert conn.execute(select(import_jobs)).first() is None


def _comparable(value) -> str:
    # NUMERIC(18,4) on PostgreSQL, the exact text on SQLite: the same amount either way.
    return str(value.normalize()) if isinstance(value, Decimal) else repr(value)


def _catalog_content(database_url: str) -> dict:
    """What the catalog says, leaving out what names a run (stamps, actors)."""
    run_specific = {"created_at", "updated_at", "archived_at", "created_by", "updated_by"}
    with get_engine(database_url).connect() as conn:
        content = {"products": sorted(
            tuple(sorted((k, _comparable(v)) for k, v in row.items() if k not in run_specific))
            for row in conn.execute(select(products)).mappings()
        )}
        for child in (product_translations, product_prices, product_images):
            content[child.name] = sorted(tuple(map(_comparable, row)) for row in conn.execute(select(child)))
        content["rejects"] = sorted(
            conn.execute(select(import_rejects.c.external_id, import_rejects.c.rule, import_rejects.c.message)).all()
        )
    return content


def test_batches_in_worker_processes_build_what_one_process_builds(database_url, serp_simulator, tmp_path):
    """Many small batches, on PostgreSQL in two spawned worker processes, against one batch in one process."""
    served, catalog = serp_simulator(products=150, invalid_rate=0.1)
    reference = f"sqlite:///{tmp_path / 'reference.sqlite3'}"
    upgrade(reference)
    batched = CatalogDatabase(database_url=database_url, workers=2, batch_size=7)

    def both(**options):
        ran = run_catalog(database_url, served.url, catalog_db=batched, **options)
        run_catalog(reference, served.url, **options)
        assert _catalog_content(database_url) == _catalog_content(reference)
        return ran

    first = both(mode="full")
    central = materialization_metadata(first, "central_catalog")
    assert (central["inserted"], central["updated"]) == (135, 0)
    assert materialization_metadata(first, "validated_products")["rejected"] == 15
    assert len(materialization_metadata(first, "validated_products")["preview"]) > 0

    catalog.change(20)
    catalog.delete(["SERP-0000004", "SERP-0000090"])
    again = both(mode="full")
    central = materialization_metadata(again, "central_catalog")
    assert (central["inserted"], central["archived"]) == (0, 2) and central["updated"] > 0

    before = catalog_snapshot(database_url)
    nothing = both(mode="full")
    assert materialization_metadata(nothing, "central_catalog")["updated"] == 0
    assert catalog_snapshot(database_url) == before

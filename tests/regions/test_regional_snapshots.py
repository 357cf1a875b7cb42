"""regional_snapshots and the dead-letter retry against three region simulators, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from commerce_core.db.engine import get_engine
from commerce_core.db.schema import dead_letters, products, region_sync_logs
from tests.catalog.helpers import run_catalog
from tests.regions.helpers import retry_dead_letters, sync_metadata, sync_region


def _published(database_url: str) -> dict[str, dict]:
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(select(products).where(products.c.is_active, products.c.status == "Published"))
        return {str(row.id): dict(row._mapping) for row in rows}


def _dead_letters(database_url: str) -> list[dict]:
    with get_engine(database_url).connect() as conn:
        return [dict(r) for r in conn.execute(select(dead_letters).order_by(dead_letters.c.entity_id)).mappings()]


def test_first_sync_delivers_every_published_product_once_and_a_rerun_sends_nothing(
        database_url, serp_simulator, region_sites):
    served, _ = serp_simulator(products=60)
    run_catalog(database_url, served.url, mode="full")
    published = _published(database_url)
    sites = region_sites()

    for code in ("TW", "US", "JP"):
        result = sync_region(database_url, sites, code)
        meta = sync_metadata(result)
        assert (meta["considered"], meta["created"], meta["failed"]) == (len(published), len(published), 0)
        assert meta["status"] == "succeeded" and meta["success_rate"] == 1.0
        store = sites.store(code)
        assert store.receive_counts() == {product_id: 1 for product_id in published}
    jp_copy = sites.store("JP").get(next(iter(published)))
    assert list(jp_copy["name"]) == ["ja-JP", "en-US", "zh-TW"]
    assert {p["currency"] for p in jp_copy["prices"]} == {"JPY", "USD"}
    assert all("." not in p["amount"] for p in jp_copy["prices"] if p["currency"] == "JPY")
    assert jp_copy["status"] == "Draft"  # new at the region: its CMS publishes it
    us_copy = sites.store("US").get(next(iter(published)))
    assert {p["currency"] for p in us_copy["prices"]} == {"USD"}

    calls_before = sites.stats("TW")["calls"]["sync"]
    again = sync_metadata(sync_region(database_url, sites, "TW"))
    assert (again["considered"], again["sent"]) == (0, 0)
    # The asset's row count is what the region holds; what this run synced is its own figure.
    assert (again["dagster/row_count"], again["synced_this_run"]) == (len(published), 0)
    assert sites.stats("TW")["calls"]["sync"] == calls_before
    with get_engine(database_url).connect() as conn:
        logs = conn.execute(select(region_sync_logs.c.region_code, region_sync_logs.c.status)).all()
    assert sorted(logs) == sorted([("TW", "succeeded"), ("US", "succeeded"), ("JP", "succeeded"),
                                   ("TW", "succeeded")])


def test_only_changed_products_go_out_again(database_url, serp_simulator, region_sites):
    served, catalog = serp_simulator(products=50)
    run_catalog(database_url, served.url, mode="full")
    sites = region_sites()
    sync_region(database_url, sites, "US")
    published = _published(database_url)
    changed = set(sorted(published)[:4])
    catalog.change_ids([published[pid]["external_product_id"] for pid in changed])
    run_catalog(database_url, served.url)

    meta = sync_metadata(sync_region(database_url, sites, "US"))
    assert (meta["considered"], meta["updated"], meta["created"]) == (4, 4, 0)
    counts = sites.store("US").receive_counts()
    assert {pid for pid, n in counts.items() if n == 2} == changed
    price = next(p for p in sites.store("US").get(next(iter(changed)))["prices"])
    assert Decimal(price["amount"]).as_tuple().exponent == -2


def test_a_region_down_for_a_whole_run_is_dead_lettered_then_delivered_by_the_retry_job(
        database_url, serp_simulator, region_sites):
    served, _ = serp_simulator(products=300)
    run_catalog(database_url, served.url, mode="full")
    published = _published(database_url)
    assert len(published) > 4 * 50
    sites = region_sites()
    sites.faults("TW").down = True

    down = sync_metadata(sync_region(database_url, sites, "TW", concurrency=1))
    assert (down["created"], down["dead_lettered"], down["status"]) == (0, len(published), "partial")
    assert down["circuit_skipped_batches"] >= 1
    # 2 attempts for the first batch, 2 for the second, the fifth failure opens the circuit: nothing more is sent.
    # (The retry job below is a new run with a closed circuit.)
    assert sites.stats("TW")["calls"]["sync"] == 5
    assert sync_metadata(sync_region(database_url, sites, "US"))["created"] == len(published)
    items = _dead_letters(database_url)
    assert {i["entity_id"] for i in items} == set(published) and {i["target_region"] for i in items} == {"TW"}
    assert all(i["payload"] and i["retry_count"] == 0 for i in items)

    sites.faults("TW").down = False
    for _ in range(-(-len(published) // 100)):  # at most 100 items a run, oldest first
        assert retry_dead_letters(database_url, sites).success
    assert _dead_letters(database_url) == []
    assert sites.store("TW").receive_counts() == {product_id: 1 for product_id in published}
    # The cursor moved past the dead-lettered products: the next run has nothing left to do.
    assert sync_metadata(sync_region(database_url, sites, "TW"))["considered"] == 0


def test_a_product_the_region_refuses_is_dead_lettered_alone_without_retry(database_url, serp_simulator, region_sites):
    served, _ = serp_simulator(products=30)
    run_catalog(database_url, served.url, mode="full")
    published = _published(database_url)
    bad = sorted(published)[3]
    sites = region_sites()
    sites.faults("JP").bad_product_ids = frozenset({bad})

    meta = sync_metadata(sync_region(database_url, sites, "JP"))
    assert (meta["created"], meta["dead_lettered"]) == (len(published) - 1, 1)
    [item] = _dead_letters(database_url)
    assert (item["entity_id"], item["http_status"], item["retry_count"]) == (bad, 400, 0)
    assert bad in item["error_message"]
    assert bad not in sites.store("JP").receive_counts()
    # Halving the batch isolates it: at most one 400 per halving step, never the same call twice.
    assert sites.stats("JP")["statuses"].get("400", 0) <= 6


def test_items_out_of_tries_stay_and_are_alerted_once(database_url, serp_simulator, region_sites, alert_sink):
    served, _ = serp_simulator(products=6)
    run_catalog(database_url, served.url, mode="full")
    sites = region_sites()
    sites.faults("US").down = True
    sync_region(database_url, sites, "US")
    for _ in range(6):
        assert retry_dead_letters(database_url, sites, notify_url=alert_sink.url).success
    items = _dead_letters(database_url)
    assert len(items) == len(_published(database_url))
    assert all(i["retry_count"] == 5 and i["alerted_at"] is not None for i in items)
    assert len(alert_sink.received) == 1
    assert alert_sink.received[0]["severity"] == "critical"
    assert str(len(items)) in alert_sink.received[0]["title"]


def test_smart_merge_keeps_the_regions_edits(database_url, serp_simulator, region_sites):
    served, catalog = serp_simulator(products=20)
    run_catalog(database_url, served.url, mode="full")
    sites = region_sites(strategies={"JP": "SmartMerge"})
    sync_region(database_url, sites, "JP")
    product_id = sorted(_published(database_url))[0]
    external_id = _published(database_url)[product_id]["external_product_id"]
    sites.store("JP").edit(product_id, name={"en-US": "Edited in Japan"}, status="Published",
                           updated_at="2020-01-01T00:00:00Z")
    catalog.change_ids([external_id])
    run_catalog(database_url, served.url)

    sync_region(database_url, sites, "JP")
    copy = sites.store("JP").get(product_id)
    assert copy["name"]["en-US"] == "Edited in Japan"
    assert copy["status"] == "Published"
    with get_engine(database_url).connect() as conn:
        central_name = conn.execute(select(products.c.name).where(products.c.external_product_id == external_id)).scalar()
    assert copy["name"]["ja-JP"] != "Edited in Japan" and central_name


def test_a_wrong_key_fails_the_run_and_dead_letters_nothing(database_url, serp_simulator, region_sites, monkeypatch):
    served, _ = serp_simulator(products=10)
    run_catalog(database_url, served.url, mode="full")
    sites = region_sites()
    monkeypatch.setenv("REGION_TW_API_KEY", "wrong")
    result = sync_region(database_url, sites, "TW", raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert "REGION_TW_API_KEY" in failure.message
    assert _dead_letters(database_url) == []
    monkeypatch.delenv("REGION_TW_API_KEY")
    assert sync_metadata(sync_region(database_url, sites, "TW"))["created"] == len(_published(database_url))


def test_archived_products_reach_the_region_as_archived(database_url, serp_simulator, region_sites):
    served, catalog = serp_simulator(products=20)
    run_catalog(database_url, served.url, mode="full")
    sites = region_sites()
    sync_region(database_url, sites, "TW")
    [deleted] = catalog.delete(1)
    run_catalog(database_url, served.url, mode="full")
    with get_engine(database_url).connect() as conn:
        product_id = str(conn.execute(select(products.c.id).where(products.c.external_product_id == deleted)).scalar())

    meta = sync_metadata(sync_region(database_url, sites, "TW"))
    assert meta["updated"] == 1
    assert sites.store("TW").get(product_id)["status"] == "Archived"


def test_a_flaky_region_gets_everything_through_retries(database_url, serp_simulator, region_sites):
    served, _ = serp_simulator(products=120)
    run_catalog(database_url, served.url, mode="full")
    published = _published(database_url)
    sites = region_sites()
    faults = sites.faults("US")
    faults.error_rate, faults.rate_limit_rate, faults.retry_after_seconds = 0.2, 0.1, 0.01

    meta = sync_metadata(sync_region(database_url, sites, "US", max_attempts=6, concurrency=2))
    assert (meta["created"], meta["dead_lettered"]) == (len(published), 0)
    stats = sites.stats("US")
    assert stats["faults_injected"]["error"] + stats["faults_injected"]["rate_limit"] > 0
    assert sites.store("US").receive_counts() == {product_id: 1 for product_id in published}

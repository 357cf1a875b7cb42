"""/metrics after real traffic and recorded syncs; the alert rules only use series that exist."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from commerce_core.db.cursors import utcnow
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import import_jobs, region_sync_logs
from tests.stock.helpers import served, service_settings, unique

RULES = Path(__file__).resolve().parents[2] / "monitoring" / "prometheus" / "alerts.yml"


def _samples(text: str) -> dict[tuple, float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def _record_syncs(engine) -> None:
    now = utcnow()
    with engine.begin() as conn:
        for status, minutes in (("succeeded", 40), ("failed", 20), ("succeeded", 10)):
            conn.execute(insert(import_jobs).values(
                id=uuid.uuid4(), supplier_id="SERP", mode="incremental", trigger="schedule", status=status,
                created_at=now - timedelta(minutes=minutes, seconds=90), completed_at=now - timedelta(minutes=minutes)))
        conn.execute(insert(region_sync_logs).values(
            id=uuid.uuid4(), region_code="JP", trigger="schedule", status="succeeded",
            started_at=now - timedelta(minutes=5, seconds=12), completed_at=now - timedelta(minutes=5)))


def test_metrics_count_requests_reservations_conflicts_and_syncs(database_url):
    engine = get_engine(database_url)
    _record_syncs(engine)
    sku = unique("SKU")
    with served(service_settings(database_url, redis=False)) as client:
        assert client.put("/stock", json={"items": [{"sku": sku, "quantity": 1}]},
                          headers={"Idempotency-Key": unique("set")}).status_code == 200
        first = client.post(f"/stock/{sku}/reservations", json={"orderId": unique("o"), "userId": "u1", "quantity": 1})
        second = client.post(f"/stock/{sku}/reservations", json={"orderId": unique("o"), "userId": "u2", "quantity": 1})
        assert (first.status_code, second.status_code) == (201, 409)
        client.get(f"/stock/{sku}")
        text = client.get("/metrics").text
    samples = _samples(text)
    assert samples[("stock_reservations_total", (("outcome", "reserved"),))] == 1
    assert samples[("stock_reservations_total", (("outcome", "out_of_stock"),))] == 1
    assert samples[("stock_reservation_conflicts_total", ())] == 1
    reservations = (("method", "POST"), ("route", "/stock/{sku}/reservations"), ("status", "201"))
    assert samples[("stock_service_requests_total", reservations)] == 1
    assert samples[("stock_service_request_duration_seconds_count", (("route", "/stock/{sku}"),))] == 1
    assert samples[("globalhub_serp_sync_total", (("status", "succeeded"),))] == 2
    assert samples[("globalhub_serp_sync_total", (("status", "failed"),))] == 1
    assert samples[("globalhub_region_sync_total", (("region", "JP"), ("status", "succeeded")))] == 1
    last = samples[("globalhub_last_sync_timestamp", (("source", "serp"),))]
    assert abs(last - (utcnow() - timedelta(minutes=10)).timestamp()) < 5
    assert samples[("globalhub_sync_duration_seconds_count", (("source", "serp"),))] == 3
    assert samples[("globalhub_sync_duration_seconds_bucket", (("le", "60.0"), ("source", "serp")))] == 0
    assert samples[("globalhub_sync_duration_seconds_bucket", (("le", "120.0"), ("source", "serp")))] == 3
    assert sku not in text  # route templates, never raw paths


def test_alert_rules_are_well_formed_and_use_exported_series():
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} >= {"HighSerpSyncFailureRate", "SerpSyncStale", "RegionSyncFailure",
                                                 "SyncDurationTooLong", "HighStockConflictRate"}
    exported = {"globalhub_serp_sync_total", "globalhub_region_sync_total", "globalhub_last_sync_timestamp",
                "globalhub_sync_duration_seconds_bucket", "stock_service_requests_total",
                "stock_service_request_duration_seconds_bucket", "stock_reservations_total",
                "stock_reservation_conflicts_total"}
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical") and rule["for"]
        used = set(re.findall(r"\b(globalhub_\w+|stock_\w+)", rule["expr"]))
        assert used and used <= exported, (rule["alert"], used - exported)
    promtool = shutil.which("promtool")
    if promtool:  # the authoritative check where Prometheus' tool is installed
        checked = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_sync_metrics_after_a_real_import_run(database_url, serp_simulator):
    from tests.catalog.helpers import run_catalog

    served_supplier, _ = serp_simulator(products=40)
    run_catalog(database_url, served_supplier.url, mode="full")
    with served(service_settings(database_url, redis=False)) as client:
        samples = _samples(client.get("/metrics").text)
    assert samples[("globalhub_serp_sync_total", (("status", "succeeded"),))] == 1
    assert abs(samples[("globalhub_last_sync_timestamp", (("source", "serp"),))] - utcnow().timestamp()) < 120
    assert samples[("globalhub_sync_duration_seconds_count", (("source", "serp"),))] == 1


def test_metrics_still_answer_while_the_database_is_down():
    from stock_service.metrics import ServiceMetrics

    metrics = ServiceMetrics(get_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none"))
    metrics.reservation(201)
    text = metrics.exposition()[0].decode()
    samples = _samples(text)
    assert samples[("globalhub_sync_metrics_up", ())] == 0
    assert samples[("stock_reservations_total", (("outcome", "reserved"),))] == 1
    assert "globalhub_serp_sync_total" not in text

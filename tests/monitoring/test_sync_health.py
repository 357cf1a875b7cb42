"""GET /health/sync from prepared sync logs: healthy, warning, critical; database and Redis reachability."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import insert

from commerce_core.db.cursors import utcnow
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import dead_letters, import_jobs, region_sync_logs
from commerce_core.monitoring.sync_health import sync_health
from tests.stock.helpers import served, service_settings

REGIONS = ["TW", "US", "JP"]


def _serp_import(engine, hours_ago: float, status: str = "succeeded") -> None:
    done = utcnow() - timedelta(hours=hours_ago)
    with engine.begin() as conn:
        conn.execute(insert(import_jobs).values(
            id=uuid.uuid4(), supplier_id="SERP", mode="full", trigger="schedule", status=status,
            inserted_count=10, updated_count=5, rejected_count=1, created_at=done - timedelta(seconds=30),
            completed_at=done))


def _region_sync(engine, code: str, hours_ago: float, status: str = "succeeded") -> None:
    done = utcnow() - timedelta(hours=hours_ago)
    with engine.begin() as conn:
        conn.execute(insert(region_sync_logs).values(
            id=uuid.uuid4(), region_code=code, trigger="schedule", status=status, sent_count=15, failed_count=0,
            started_at=done - timedelta(seconds=20), completed_at=done))


def _statuses(body: dict) -> dict[str, str]:
    return {check["name"]: check["status"] for check in body["checks"]}


def test_no_serp_sync_is_critical_then_healthy_then_warning(database_url):
    engine = get_engine(database_url)
    status, body = sync_health(engine, REGIONS, utcnow())
    assert status == 503 and body["overallStatus"] == "Critical"
    assert _statuses(body)["SERP Sync"] == "Critical" and _statuses(body)["Region TW"] == "Warning"
    _serp_import(engine, hours_ago=5, status="failed")  # a failed import is no sync
    assert sync_health(engine, REGIONS, utcnow())[0] == 503
    _serp_import(engine, hours_ago=0.5)
    for code in REGIONS:
        _region_sync(engine, code, hours_ago=1)
    status, body = sync_health(engine, REGIONS, utcnow())
    assert (status, body["overallStatus"]) == (200, "Healthy")
    serp = next(check for check in body["checks"] if check["name"] == "SERP Sync")
    assert serp["details"] == {"productsImported": 15, "failedCount": 1, "durationSeconds": 30.0}
    # Three hours later SERP is past its 2 h warning; JP, synced 4.5 h before then, too.
    later = utcnow() + timedelta(hours=3)
    _region_sync(engine, "TW", hours_ago=-2.5)
    _region_sync(engine, "US", hours_ago=-2.5)
    status, body = sync_health(engine, REGIONS, later)
    assert (status, body["overallStatus"]) == (200, "Warning")
    assert _statuses(body) == {"SERP Sync": "Warning", "Region TW": "Healthy", "Region US": "Healthy",
                               "Region JP": "Warning", "Database": "Healthy", "Dead letters": "Healthy"}


def test_dead_letter_backlog_and_unreachable_parts(database_url):
    engine = get_engine(database_url)
    _serp_import(engine, hours_ago=0.1)
    with engine.begin() as conn:
        conn.execute(insert(dead_letters), [
            {"id": uuid.uuid4(), "entity_type": "product", "entity_id": f"P{i}", "target_region": "JP",
             "error_message": "400", "failed_at": utcnow(), "retry_count": 0} for i in range(100)])
    status, body = sync_health(engine, [], utcnow(), redis_reachable=True)
    assert (status, _statuses(body)["Dead letters"], _statuses(body)["Redis"]) == (200, "Warning", "Healthy")
    status, body = sync_health(engine, [], utcnow(), redis_reachable=False)
    assert (status, _statuses(body)["Redis"]) == (503, "Critical")
    broken = get_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    status, body = sync_health(broken, ["TW"], utcnow())
    assert status == 503 and _statuses(body) == {"Database": "Critical"}


def test_the_service_answers_it(database_url):
    _serp_import(get_engine(database_url), hours_ago=0.2)
    for redis in (False, True):
        with served(service_settings(database_url, redis=redis)) as client:
            answer = client.get("/health/sync")
            assert answer.status_code == 200, answer.text
            names = {check["name"] for check in answer.json()["checks"]}
            assert {"SERP Sync", "Region TW", "Region US", "Region JP", "Database"} <= names
            assert ("Redis" in names) is redis

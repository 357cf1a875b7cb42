"""Shared fixtures: a catalog database on SQLite and on PostgreSQL, and simulators over real HTTP.

PostgreSQL is the real local server (HUB_TEST_PG_URL, default 127.0.0.1:5432/test);
each test gets its own schema, dropped afterwards, so runs never collide. A test
that needs PostgreSQL fails when it is down: nothing is skipped silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from commerce_core.db.engine import get_engine
from commerce_core.db.migrate import upgrade
from simulators.asgi_server import ServedApp
from simulators.serp_supplier import SerpCatalog, SerpFaults, create_app
from tests.regions.helpers import RegionSites, start_sites

PG_URL = os.environ.get("HUB_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
SERP_KEY = "serp-test-key"


def postgres_schema_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema; yields its catalog URL."""
    schema = f"hubtest_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = postgres_schema_url(schema)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A migrated, empty catalog database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_schema")
    upgrade(url)
    return url


@pytest.fixture
def serp_simulator():
    """Start SERP simulators: `served, catalog = serp_simulator(products=300, error_rate=0.2, ...)`."""
    started: list[ServedApp] = []

    def start(products: int = 300, seed: int = 11, **faults) -> tuple[ServedApp, SerpCatalog]:
        catalog = SerpCatalog(products, seed=seed)
        served = ServedApp(create_app(catalog, SerpFaults(**faults), api_key=SERP_KEY)).start()
        started.append(served)
        return served, catalog

    yield start
    for served in started:
        served.stop()


class _AlertSink:
    def __init__(self):
        self.received: list[dict] = []

        async def receive(request: Request) -> JSONResponse:
            self.received.append(await request.json())
            return JSONResponse({"ok": True})

        self.served = ServedApp(Starlette(routes=[Route("/alerts", receive, methods=["POST"])])).start()
        self.url = f"{self.served.url}/alerts"


@pytest.fixture
def alert_sink():
    """A webhook receiver that keeps every alert POSTed to `alert_sink.url`."""
    sink = _AlertSink()
    yield sink
    sink.served.stop()


@pytest.fixture
def region_sites(tmp_path):
    """`sites = region_sites(strategies={"JP": "SmartMerge"})`: TW, US and JP simulators, stopped afterwards."""
    started: list[RegionSites] = []

    def start(strategies: dict[str, str] | None = None) -> RegionSites:
        sites = start_sites(tmp_path, strategies)
        started.append(sites)
        return sites

    yield start
    for sites in started:
        for served in sites.served.values():
            served.stop()


"""A materialization on a Dagster instance stored in PostgreSQL, configured by dagster_postgres.yaml."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, instance_for_test
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from tests.catalog.helpers import run_catalog
from tests.conftest import PG_URL

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def dagster_postgres_database(monkeypatch):
    """A fresh PostgreSQL database for Dagster's storage, wired through the DAGSTER_PG_* variables."""
    name = f"hub_dagster_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = make_url(PG_URL)
    for key, value in {"HOST": url.host, "PORT": str(url.port or 5432), "USER": url.username,
                       "PASSWORD": url.password or "", "DB": name}.items():
        monkeypatch.setenv(f"DAGSTER_PG_{key}", value)
    yield name
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


def test_materialization_on_a_postgres_backed_instance(dagster_postgres_database, postgres_schema, serp_simulator):
    from commerce_core.db.migrate import upgrade

    upgrade(postgres_schema)
    served, _ = serp_simulator(products=60)
    config = yaml.safe_load((REPO / "dagster_postgres.yaml").read_text())
    with instance_for_test(overrides=config) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = run_catalog(postgres_schema, served.url, mode="full", instance=instance)
        assert result.success
        latest = instance.get_latest_materialization_event(AssetKey("central_catalog"))
        assert latest.asset_materialization.metadata["inserted"].value == 60

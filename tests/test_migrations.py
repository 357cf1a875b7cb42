"""The Alembic migrations build exactly the schema the code uses, and go down and up again."""

from __future__ import annotations

from datetime import datetime, timezone

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from commerce_core.db.engine import get_engine
from commerce_core.db.migrate import alembic_config, current_revision, upgrade
from commerce_core.db.schema import metadata


def _differences(url: str) -> list:
    with get_engine(url).connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def test_migrations_match_the_schema_and_round_trip(database_url):
    # database_url is already upgraded to head by the fixture.
    assert _differences(database_url) == []
    head = current_revision(database_url)
    command.downgrade(alembic_config(database_url), "base")
    assert current_revision(database_url) is None
    upgrade(database_url)
    assert current_revision(database_url) == head
    assert _differences(database_url) == []


def test_pushes_logged_before_the_inventory_sync_are_not_sent_to_shopline(database_url):
    command.downgrade(alembic_config(database_url), "0010_webhook_events_run_id")
    with get_engine(database_url).begin() as conn:
        conn.execute(text(
            "INSERT INTO inventory_sync_log (platform, store_account, sku, stock, sent_at, signature, outcome, "
            "received_at) VALUES ('nextengine', 'shop', 'NE-1', 5, :at, 'sig', 'applied', :at)"),
            {"at": datetime(2026, 1, 2, tzinfo=timezone.utc)})
    upgrade(database_url)
    with get_engine(database_url).connect() as conn:
        status, reason = conn.execute(text("SELECT sync_status, error_message FROM inventory_sync_log")).one()
    # A weeks-old level must not overwrite Shopline's current stock.
    assert status == "skipped" and "before the Shopline inventory sync" in reason

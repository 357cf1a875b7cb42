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


def test_child_rows_keep_their_order_when_keyed_by_product(database_url):
    command.downgrade(alembic_config(database_url), "0011")
    at = datetime(2026, 1, 2, tzinfo=timezone.utc)
    product = "6f1c3a52-9d0e-4c47-9a43-2b6c2f1e8a10"
    with get_engine(database_url).begin() as conn:
        conn.execute(text(
            "INSERT INTO products (id, supplier_id, external_product_id, name, description, language, product_type, "
            "category, status, is_active, tags, missing_languages, content_hash, created_at, updated_at) VALUES "
            "(:id, 'SERP', 'SERP-1', 'n', 'd', 'en-US', 'Tour', 'c', 'Published', true, '[]', '[]', 'h', :at, :at)"),
            {"id": product if conn.dialect.name == "postgresql" else product.replace("-", ""), "at": at})
        product_key = conn.execute(text("SELECT id FROM products")).scalar_one()
        for amount, currency in (("30", "USD"), ("900", "TWD"), ("4500", "JPY")):  # ids in this order
            conn.execute(text("INSERT INTO product_prices (product_id, amount, currency, price_type) "
                              "VALUES (:p, :amount, :currency, 'Base')"), {"p": product_key, "amount": amount,
                                                                           "currency": currency})
        for url, order in (("b", 2), ("a", 1)):
            conn.execute(text("INSERT INTO product_images (product_id, url, is_primary, sort_order) "
                              "VALUES (:p, :url, false, :order)"), {"p": product_key, "url": url, "order": order})
        conn.execute(text("INSERT INTO product_translations (product_id, language_code, name, description, source) "
                          "VALUES (:p, 'en-US', 'n', 'd', 'original')"), {"p": product_key})
    upgrade(database_url)
    with get_engine(database_url).connect() as conn:
        prices = conn.execute(text("SELECT position, currency FROM product_prices ORDER BY position")).all()
        images = conn.execute(text("SELECT position, url FROM product_images ORDER BY position")).all()
        languages = conn.execute(text("SELECT language_code FROM product_translations")).scalars().all()
    assert [tuple(row) for row in prices] == [(0, "USD"), (1, "TWD"), (2, "JPY")]  # the supplier's order
    assert [tuple(row) for row in images] == [(0, "a"), (1, "b")]  # sort order
    assert languages == ["en-US"]

"""Catalog database schema (the GlobalHub design's 資料模型設計, data model: docs/background.md), SQLAlchemy 2 Core tables.

Pipeline tables, one per asset, each keyed by (supplier_id, external_id):
  supplier_records    -> raw supplier payloads            (asset serp_products)
  validated_products  -> unified model or reject outcome  (asset validated_products)
  enriched_products   -> the enrichment of each product   (asset enriched_products)
  products + children -> the central catalog              (asset central_catalog)
Each stage stores the hash of the upstream row it was built from; a stage's pending
work is every upstream row whose hash differs, so a failed run loses nothing and an
unchanged rerun does nothing.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)

from commerce_core.db.types import Money, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

# SQLite only auto-increments a plain INTEGER primary key.
BigId = BigInteger().with_variant(Integer(), "sqlite")

products = Table(
    "products",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("supplier_id", String(32), nullable=False),
    Column("external_product_id", String(128), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("enriched_description", Text),
    Column("language", String(16), nullable=False),
    Column("product_type", String(32), nullable=False),
    Column("category", String(200), nullable=False),
    Column("available_seats", Integer),
    Column("status", String(16), nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("missing_languages", JSON, nullable=False),
    Column("content_hash", String(32), nullable=False),
    Column("source_updated_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("archived_at", UtcDateTime),
    Column("created_by", String(128)),
    Column("updated_by", String(128)),
    UniqueConstraint("supplier_id", "external_product_id"),
    # Keyset paging of changed products (regional sync): WHERE (updated_at, id) > (...) ORDER BY updated_at, id.
    Index(None, "updated_at", "id"),
)

# Child rows are keyed by their product and their place in it: the key's index serves the
# foreign key and every lookup by product, so each row costs one index entry, not two.
product_translations = Table(
    "product_translations",
    metadata,
    Column("product_id", Uuid, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("language_code", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("short_description", String(300)),
    # supplier: given by the supplier; original: the product's own language; llm: generated
    Column("source", String(16), nullable=False),
)

product_prices = Table(
    "product_prices",
    metadata,
    Column("product_id", Uuid, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("position", SmallInteger, primary_key=True, autoincrement=False),  # in the supplier's list, from 0
    Column("amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("price_type", String(16), nullable=False),
    Column("valid_from", UtcDateTime),
    Column("valid_to", UtcDateTime),
)

product_images = Table(
    "product_images",
    metadata,
    Column("product_id", Uuid, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("position", SmallInteger, primary_key=True, autoincrement=False),  # in sort order, from 0
    Column("url", String(1000), nullable=False),
    Column("is_primary", Boolean, nullable=False),
    Column("sort_order", Integer, nullable=False),
)

import_jobs = Table(
    "import_jobs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("supplier_id", String(32), nullable=False),
    Column("mode", String(16), nullable=False),  # full | incremental | ids
    Column("trigger", String(16), nullable=False),  # schedule | webhook | manual
    Column("requested_by", String(128)),
    Column("product_ids", JSON),
    Column("status", String(16), nullable=False),  # running | succeeded | failed
    Column("dagster_run_id", String(64)),
    Column("fetched_count", Integer, nullable=False, default=0),
    Column("valid_count", Integer, nullable=False, default=0),
    Column("rejected_count", Integer, nullable=False, default=0),
    Column("enriched_count", Integer, nullable=False, default=0),
    Column("enrichment_failed_count", Integer, nullable=False, default=0),
    Column("inserted_count", Integer, nullable=False, default=0),
    Column("updated_count", Integer, nullable=False, default=0),
    Column("unchanged_count", Integer, nullable=False, default=0),
    Column("archived_count", Integer, nullable=False, default=0),
    Column("error_message", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    Index(None, "supplier_id", "created_at"),
    Index(None, "dagster_run_id"),
)

sync_cursors = Table(
    "sync_cursors",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("value", String(128), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

import_rejects = Table(
    "import_rejects",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("import_job_id", Uuid, ForeignKey("import_jobs.id", ondelete="CASCADE")),
    Column("supplier_id", String(32), nullable=False),
    Column("external_id", String(128)),  # null when the record had no usable id
    Column("rule", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("record", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "import_job_id"),
    Index(None, "supplier_id", "external_id"),
)

supplier_records = Table(
    "supplier_records",
    metadata,
    Column("supplier_id", String(32), primary_key=True),
    Column("external_id", String(128), primary_key=True),
    Column("payload", Text),  # raw JSON; null once the supplier deleted it
    Column("payload_hash", String(32), nullable=False),
    Column("source_updated_at", UtcDateTime),
    Column("fetched_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime),
    Column("import_job_id", Uuid),
)

validated_products = Table(
    "validated_products",
    metadata,
    Column("supplier_id", String(32), primary_key=True),
    Column("external_id", String(128), primary_key=True),
    Column("source_hash", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),  # valid | rejected | deleted
    Column("product", Text),  # unified product JSON when valid
    Column("content_hash", String(32), nullable=False),
    Column("validated_at", UtcDateTime, nullable=False),
    Column("import_job_id", Uuid),
)

enriched_products = Table(
    "enriched_products",
    metadata,
    Column("supplier_id", String(32), primary_key=True),
    Column("external_id", String(128), primary_key=True),
    Column("source_hash", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),  # enriched | original | deleted
    Column("enrichment", Text),  # Enrichment JSON; the product itself stays in validated_products
    Column("content_hash", String(32), nullable=False),
    Column("enriched_at", UtcDateTime, nullable=False),
    Column("import_job_id", Uuid),
)

# Keyed by the hash of the enrichable text only, so a price change never re-enriches.
enrichment_cache = Table(
    "enrichment_cache",
    metadata,
    Column("text_hash", String(32), primary_key=True),
    Column("enricher", String(64), primary_key=True),
    Column("result", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# --- Regional distribution (GlobalHub design: 下游同步, 死信佇列; docs/background.md) --------

region_sync_logs = Table(
    "region_sync_logs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("region_code", String(16), nullable=False),
    Column("dagster_run_id", String(64)),
    Column("trigger", String(16), nullable=False),  # schedule | sensor | manual | dead_letter_retry
    Column("status", String(16), nullable=False),  # running | succeeded | partial | failed
    Column("considered_count", Integer, nullable=False, default=0),
    Column("sent_count", Integer, nullable=False, default=0),
    Column("created_count", Integer, nullable=False, default=0),
    Column("updated_count", Integer, nullable=False, default=0),
    Column("kept_regional_count", Integer, nullable=False, default=0),
    Column("failed_count", Integer, nullable=False, default=0),
    Column("dead_lettered_count", Integer, nullable=False, default=0),
    Column("untranslated_count", Integer, nullable=False, default=0),
    Column("error_message", Text),
    Column("started_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    Index(None, "region_code", "started_at"),
)

# What each region last received of each product: the central content hash it was built from.
region_deliveries = Table(
    "region_deliveries",
    metadata,
    Column("region_code", String(16), primary_key=True),
    Column("product_id", Uuid, primary_key=True),
    Column("content_hash", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),  # created | updated | kept_regional
    Column("delivered_at", UtcDateTime, nullable=False),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("entity_type", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("target_region", String(16), nullable=False),
    Column("payload", Text),  # what was sent (RegionProductDto JSON), for the operator
    Column("error_message", Text, nullable=False),
    Column("http_status", Integer),
    Column("failed_at", UtcDateTime, nullable=False),
    Column("retry_count", Integer, nullable=False, default=0),
    Column("last_retry_at", UtcDateTime),
    Column("alerted_at", UtcDateTime),  # when the operator was told it ran out of tries
    UniqueConstraint("entity_type", "entity_id", "target_region"),
    Index(None, "target_region", "failed_at"),
)

# --- Stock (flash-sale notes, docs/background.md): an append-only ledger and the projection it implies --

# One row per SKU: what the ledger adds up to, kept in the same transaction as every
# ledger row, so a reservation is one conditional UPDATE (never read-modify-write).
stock_levels = Table(
    "stock_levels",
    metadata,
    Column("sku", String(128), primary_key=True),
    Column("on_hand", BigInteger, nullable=False),  # an unlimited SKU's reservations add up without bound
    Column("reserved", BigInteger, nullable=False),
    Column("unlimited", Boolean, nullable=False),
    Column("last_push_at", UtcDateTime),  # ts of the newest Next Engine push applied (pushes arrive out of order)
    Column("updated_at", UtcDateTime, nullable=False),
)

stock_ledger = Table(
    "stock_ledger",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("sku", String(128), nullable=False),
    Column("entry_type", String(16), nullable=False),  # reserve | release | expire | confirm | push | adjust
    Column("on_hand_delta", BigInteger, nullable=False),
    Column("reserved_delta", BigInteger, nullable=False),
    Column("unlimited", Boolean),  # push/adjust: the stock became (or stopped being) unlimited
    Column("order_id", String(128)),
    Column("source", String(64), nullable=False),  # api | nextengine | catalog | expiry | reconciliation
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "sku", "id"),
)

stock_reservations = Table(
    "stock_reservations",
    metadata,
    Column("order_id", String(128), primary_key=True),  # the idempotency key
    Column("sku", String(128), nullable=False),
    Column("user_id", String(128), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # open | confirmed | released | expired
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "status", "expires_at"),
)

# The first answer to every write, by idempotency key: a retry gets it back unchanged.
stock_answers = Table(
    "stock_answers",
    metadata,
    Column("idempotency_key", String(160), primary_key=True),  # "<operation>:<order id>"
    Column("status_code", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# Database-only mode's per-user order rate limit (Redis keeps it otherwise).
stock_user_orders = Table(
    "stock_user_orders",
    metadata,
    Column("user_id", String(128), primary_key=True),
    Column("last_order_at", UtcDateTime, nullable=False),
)

# Every Next Engine stock push as received (the connector design's inventory_sync_log, docs/background.md).
inventory_sync_log = Table(
    "inventory_sync_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("platform", String(32), nullable=False),
    Column("store_account", String(128), nullable=False),
    Column("sku", String(128), nullable=False),
    Column("stock", Integer),  # null = unlimited
    Column("sent_at", UtcDateTime, nullable=False),  # the push's ts
    Column("signature", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # applied | stale | replay
    Column("received_at", UtcDateTime, nullable=False),
    # Propagation to Shopline (the connector design's sync_status...): done by the shopline_inventory_sync asset,
    # never inside the push request. pending | success | failed | superseded (a newer push for the SKU
    # was sent instead) | skipped (nothing Shopline can hold, e.g. unlimited stock).
    Column("sync_status", String(16), nullable=False, server_default="pending"),
    Column("synced_to_shopline", Boolean, nullable=False, server_default=false()),
    Column("retry_count", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime),  # a failed row is retried from then; null once final
    Column("processed_at", UtcDateTime),
    Column("error_message", Text),
    UniqueConstraint("platform", "store_account", "sku", "sent_at", "signature"),
    Index(None, "sync_status", "next_attempt_at"),
    Index(None, "sku", "sync_status"),
)

# SKU -> Shopline variant, kept from the imported Shopline products (supplier_records) so the
# inventory sync finds a pushed SKU's variant without reading the store; inventory_item_id (what
# Shopline's inventory_levels/set.json takes) is read from the variant once and kept.
shopline_variants = Table(
    "shopline_variants",
    metadata,
    Column("variant_id", String(64), primary_key=True),
    Column("sku", String(128), nullable=False),
    Column("product_id", String(64), nullable=False),
    Column("inventory_item_id", String(64)),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "sku"),
    Index(None, "product_id"),
)

# Every difference reconciliation found (and what it did about it).
stock_discrepancies = Table(
    "stock_discrepancies",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("checked_at", UtcDateTime, nullable=False),
    Column("sku", String(128), nullable=False),
    Column("kind", String(16), nullable=False),  # ledger (projection != ledger) | redis (counter repaired)
    Column("details", JSON, nullable=False),
    Column("dagster_run_id", String(64)),
    Index(None, "checked_at"),
)

# --- Platform connectors (the connector design, docs/background.md) ----------------

# OAuth tokens per platform and shop (the connector design's oauth_tokens). Next Engine rotates
# both tokens on every call: the newest pair is written before the answer is used.
oauth_tokens = Table(
    "oauth_tokens",
    metadata,
    Column("platform", String(32), primary_key=True),
    Column("shop", String(128), primary_key=True),
    Column("access_token", String(512), nullable=False),
    Column("access_token_expires_at", UtcDateTime),
    Column("refresh_token", String(512), nullable=False),
    Column("refresh_token_expires_at", UtcDateTime),
    Column("rotations", Integer, nullable=False, default=0),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Orders from the commerce platforms (connector design: UnifiedOrder / UnifiedCustomer); invoices are issued for these.
customers = Table(
    "customers",
    metadata,
    Column("id", Uuid, primary_key=True),  # deterministic from platform + email
    Column("platform", String(32), nullable=False),
    Column("email", String(320), nullable=False),  # lower-cased: the de-duplication key
    Column("name", String(200), nullable=False),
    Column("platform_customer_id", String(64)),  # Shopline has one; Next Engine's are extracted from orders
    Column("source", String(16), nullable=False),  # api | extracted
    Column("order_count", Integer, nullable=False),
    Column("total_spent", Money, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("platform", "email"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Uuid, primary_key=True),  # deterministic from platform + external id
    Column("platform", String(32), nullable=False),
    Column("external_id", String(64), nullable=False),
    Column("order_number", String(64), nullable=False),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("subtotal", Money, nullable=False),
    Column("total", Money, nullable=False),
    Column("status", String(16), nullable=False),  # pending | processing | shipped | delivered | cancelled
    Column("payment_status", String(16), nullable=False),  # pending | paid | refunded
    Column("fulfillment_status", String(16), nullable=False),  # unfulfilled | fulfilled
    Column("ordered_at", UtcDateTime, nullable=False),
    Column("content_hash", String(32), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("platform", "external_id"),
    Index(None, "ordered_at"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", Uuid, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("sku", String(128), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Money, nullable=False),
    Index(None, "order_id"),
)

# --- Webhook ingress (issue 6): every accepted event, durably, before it is answered ------

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),  # the sensors' cursor
    Column("source", String(32), nullable=False),  # serp | shopline
    Column("event_id", String(128), nullable=False),  # the sender's id: a redelivery stores nothing new
    Column("event_type", String(64), nullable=False),
    Column("resource_id", String(128)),  # the product / order the event is about
    Column("payload", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("run_key", String(128)),  # the run the sensor requested for it
    # The run's own id, written by the run when it starts: the sensor only knows the key at tick time.
    Column("run_id", String(64)),
    UniqueConstraint("source", "event_id"),
    Index(None, "source", "id"),
    Index(None, "run_key"),  # a starting run finds its events by key
)

# --- E-invoicing (the e-invoice capacity plan, docs/background.md): every table holds tenant data, so every
# table has tenant_id ----------------------------------------------------------------------------------------

tenants = Table(
    "tenants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ban", String(8), nullable=False, unique=True),  # seller BAN (統一編號), checksum-valid
    Column("name", String(60), nullable=False),
    Column("address", String(100), nullable=False),
    Column("status", String(16), nullable=False),  # active | suspended
    Column("created_at", UtcDateTime, nullable=False),
)

# One E0501 range per row; next_no is the next number to hand out (end_no + 1 when used up).
invoice_number_pools = Table(
    "invoice_number_pools",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, nullable=False),
    Column("period", String(5), nullable=False),  # ROC year + even month: 11402 = Jan–Feb 2025
    Column("invoice_type", String(2), nullable=False),  # 07 general | 08 special
    Column("track", String(2), nullable=False),
    Column("begin_no", Integer, nullable=False),
    Column("end_no", Integer, nullable=False),
    Column("next_no", Integer, nullable=False),
    Column("booklets", Integer, nullable=False),
    Column("source", String(500), nullable=False),  # the E0501 file it came from
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("period", "track", "begin_no"),
    Index(None, "tenant_id", "period", "invoice_type"),
)

# The upload log (one row per file: E0501 or invoice CSV) and its rejects, read a page at a time.
invoice_upload_files = Table(
    "invoice_upload_files",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, nullable=False),
    Column("kind", String(8), nullable=False),  # invoices | e0501
    Column("file_name", String(500), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # processed | refused
    Column("rows", Integer, nullable=False),
    Column("invoices", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("message", Text),  # why a refused file was refused
    Column("run_id", String(64)),
    Column("processed_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "kind", "sha256"),  # the same bytes twice are one upload
    Index(None, "tenant_id", "id"),
)

invoice_upload_rejects = Table(
    "invoice_upload_rejects",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("upload_id", BigInteger, nullable=False),
    Column("tenant_id", Integer, nullable=False),
    Column("order_id", String(64), nullable=False),
    Column("row_numbers", Text, nullable=False),
    Column("rule", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Index(None, "tenant_id", "upload_id", "id"),
)

# Range-partitioned by month on PostgreSQL (partitions are made as months arrive, see
# commerce_core/einvoice/partitions.py). The key leads with tenant and date, which is
# also the e-invoice capacity plan's (tenant_id, invoice_date) index. Items are JSON on the row: they
# are always read whole with their invoice, and one row per invoice halves the writes.
invoices = Table(
    "invoices",
    metadata,
    Column("tenant_id", Integer, primary_key=True),
    Column("invoice_date", Date, primary_key=True),
    Column("order_id", String(20), primary_key=True),
    Column("upload_id", BigInteger, nullable=False),
    Column("period", String(5), nullable=False),
    Column("invoice_time", String(8), nullable=False),
    Column("buyer_ban", String(10), nullable=False),
    Column("buyer_name", String(60), nullable=False),
    Column("carrier_type", String(6), nullable=False),
    Column("carrier_id", String(64), nullable=False),
    Column("donate_mark", String(1), nullable=False),
    Column("npoban", String(10), nullable=False),
    Column("print_mark", String(1), nullable=False),
    Column("customs_clearance_mark", String(1), nullable=False),
    Column("zero_tax_rate_reason", String(2), nullable=False),
    Column("items", Text, nullable=False),  # JSON [[description, quantity, unit_price, amount, tax_type], ...]
    Column("sales_amount", BigInteger, nullable=False),
    Column("free_tax_sales_amount", BigInteger, nullable=False),
    Column("zero_tax_sales_amount", BigInteger, nullable=False),
    Column("tax_amount", BigInteger, nullable=False),
    Column("total_amount", BigInteger, nullable=False),
    Column("tax_type", String(1), nullable=False),
    Column("tax_rate", String(6), nullable=False),
    Column("invoice_number", String(10)),
    # accepted → numbered → uploaded → confirmed; uploaded → failed → uploaded (resend) … → abandoned
    Column("status", String(16), nullable=False),
    Column("file_sha256", String(64)),  # the bytes written once; every rewrite must match
    Column("attempts", Integer, nullable=False),
    Column("uploaded_at", UtcDateTime),
    Column("next_attempt_at", UtcDateTime),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_invoices_open_status", "status", postgresql_where=text("status <> 'confirmed'"),
          sqlite_where=text("status <> 'confirmed'")),
    Index(None, "tenant_id", "invoice_number"),
    postgresql_partition_by="RANGE (invoice_date)",
)

# --- Monitoring (seller-monitoring design, docs/background.md): a daily snapshot of every active product's
# prices and seats ----------------------------------------------------------------------------------------

price_history = Table(
    "price_history",
    metadata,
    Column("snapshot_date", Date, primary_key=True),
    Column("product_id", Uuid, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("price_type", String(16), primary_key=True),
    Column("amount", Money, nullable=False),
    Column("available_seats", Integer),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index(None, "product_id", "snapshot_date"),
)

# Every alert once: the key (kind, product, currency, price type, day) is unique, sent_at set on delivery.
price_alerts = Table(
    "price_alerts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("alert_key", String(200), nullable=False, unique=True),
    Column("snapshot_date", Date, nullable=False),
    Column("product_id", Uuid, nullable=False),
    Column("external_product_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),  # price_up | price_down | sold_out | back_in_stock | new_low_30d
    Column("currency", String(3)),
    Column("price_type", String(16)),
    Column("previous_value", Money),
    Column("current_value", Money),
    Column("change_pct", Money),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Index(None, "snapshot_date", "sent_at"),
)

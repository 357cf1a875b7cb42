"""Money / UtcDateTime column types and bulk writes, on SQLite and on PostgreSQL (COPY)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import orjson
import psycopg2
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, create_engine, select

from commerce_core.db.bulk import (
    _copy_text,
    insert_rows,
    refresh_statistics,
    rows_under_parents_written_here,
    save_rows,
    update_rows,
    upsert_rows,
)
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import (
    metadata,
    product_prices,
    product_translations,
    products,
    supplier_records,
    sync_cursors,
)
from commerce_core.db.types import UtcDateTime

PG_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 2, 7, 2, 0, 0, 123456, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def pg_admin() -> Iterator[Engine]:
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect():
            pass
    except sa.exc.OperationalError as error:  # pragma: no cover - environment without PostgreSQL
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER}: {error}")
    yield admin
    admin.dispose()


@pytest.fixture
def pg_engine(pg_admin: Engine) -> Iterator[Engine]:
    schema = f"unit_{uuid.uuid4().hex[:10]}"
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine = get_engine(f"{PG_SERVER}?options=-csearch_path%3D{schema}")
    try:
        metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[Engine]:
    engine = get_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request) -> Engine:
    return request.getfixturevalue(f"{request.param}_engine" if request.param == "sqlite" else "pg_engine")


def product_row(external_id: str = "SERP-1", **overrides) -> dict:
    row = {
        "id": uuid.uuid4(),
        "supplier_id": "SERP",
        "external_product_id": external_id,
        "name": "Temple Walk",
        "description": "desc",
        "enriched_description": None,
        "language": "zh-TW",
        "product_type": "Tour",
        "category": "Day Tours",
        "available_seats": 5,
        "status": "Published",
        "is_active": True,
        "tags": ["tour", "culture"],
        "missing_languages": ["ja-JP"],
        "content_hash": "0" * 32,
        "source_updated_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
        "archived_at": None,
        "created_by": "unit",
        "updated_by": "unit",
    }
    row.update(overrides)
    return row


def record_row(external_id: str, payload: str | None = "{}", payload_hash: str = "h0") -> dict:
    return {"supplier_id": "SERP", "external_id": external_id, "payload": payload, "payload_hash": payload_hash,
            "source_updated_at": None, "fetched_at": NOW, "deleted_at": None, "import_job_id": None}


def records(conn) -> dict[str, tuple]:
    rows = conn.execute(select(supplier_records.c.external_id, supplier_records.c.payload,
                               supplier_records.c.payload_hash)).all()
    return {r.external_id: (r.payload, r.payload_hash) for r in rows}


# --- column types ---------------------------------------------------------------------


@pytest.mark.parametrize("amount", [Decimal("12900.1234"), Decimal("0.5"), Decimal("99999999999999.9999")])
def test_money_round_trips_exactly_as_decimal(engine: Engine, amount: Decimal) -> None:
    product = product_row()
    with engine.begin() as conn:
        conn.execute(sa.insert(products), [product])
        conn.execute(sa.insert(product_prices), [{"product_id": product["id"], "position": 0, "amount": amount,
                                                  "currency": "TWD",
                                                  "price_type": "Base", "valid_from": None, "valid_to": None}])
    with engine.connect() as conn:
        stored = conn.execute(select(product_prices.c.amount)).scalar_one()
    assert type(stored) is Decimal
    assert stored == amount
    assert stored.normalize() == amount.normalize()


def test_money_via_bulk_insert_round_trips(engine: Engine) -> None:
    product = product_row()
    with engine.begin() as conn:
        insert_rows(conn, products, [product])
        insert_rows(conn, product_prices, [
            {"product_id": product["id"], "position": 0, "amount": Decimal("12900.1234"), "currency": "TWD",
             "price_type": "Base",
             "valid_from": NOW, "valid_to": None},
        ])
    with engine.connect() as conn:
        row = conn.execute(select(product_prices)).one()
    assert type(row.amount) is Decimal and row.amount == Decimal("12900.1234")
    assert row.product_id == product["id"]
    assert row.valid_from == NOW and row.valid_to is None


def test_utc_datetime_returns_aware_utc(engine: Engine) -> None:
    taipei = timezone(timedelta(hours=8))
    local = datetime(2026, 2, 7, 10, 0, 0, tzinfo=taipei)
    with engine.begin() as conn:
        conn.execute(sa.insert(sync_cursors), [{"name": "c", "value": "v", "updated_at": local}])
    with engine.connect() as conn:
        stored = conn.execute(select(sync_cursors.c.updated_at)).scalar_one()
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored == datetime(2026, 2, 7, 2, 0, 0, tzinfo=timezone.utc)


def test_utc_datetime_refuses_naive(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            conn.execute(sa.insert(sync_cursors), [{"name": "c", "value": "v", "updated_at": datetime(2026, 1, 1)}])


def test_sqlite_bulk_insert_refuses_naive_datetime(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            insert_rows(conn, sync_cursors, [{"name": "c", "value": "v", "updated_at": datetime(2026, 1, 1)}])


def test_pg_bulk_insert_refuses_naive_datetime(pg_engine: Engine) -> None:
    with pg_engine.begin() as conn:
        with pytest.raises((ValueError, sa.exc.StatementError)):
            insert_rows(conn, sync_cursors, [{"name": "c", "value": "v", "updated_at": datetime(2026, 1, 1)}])


# --- bulk writes ------------------------------------------------------------------------


def test_insert_rows_empty_is_noop(engine: Engine) -> None:
    with engine.begin() as conn:
        assert insert_rows(conn, supplier_records, []) == 0
        assert upsert_rows(conn, supplier_records, [], keys=("supplier_id", "external_id")) == 0
        assert records(conn) == {}


def test_upsert_inserts_then_updates_non_key_columns(engine: Engine) -> None:
    keys = ("supplier_id", "external_id")
    with engine.begin() as conn:
        assert upsert_rows(conn, supplier_records, [record_row("A", "a1", "ha1"), record_row("B", "b1", "hb1")],
                           keys=keys) == 2
    with engine.begin() as conn:
        assert upsert_rows(conn, supplier_records, [record_row("B", "b2", "hb2"), record_row("C", None, "hc1")],
                           keys=keys) == 2
    with engine.connect() as conn:
        assert records(conn) == {"A": ("a1", "ha1"), "B": ("b2", "hb2"), "C": (None, "hc1")}


def test_upsert_twice_in_one_transaction(engine: Engine) -> None:
    keys = ("supplier_id", "external_id")
    with engine.begin() as conn:
        upsert_rows(conn, supplier_records, [record_row("A", "a1", "h1")], keys=keys)
        upsert_rows(conn, supplier_records, [record_row("A", "a2", "h2"), record_row("B", "b", "h")], keys=keys)
    with engine.connect() as conn:
        assert records(conn) == {"A": ("a2", "h2"), "B": ("b", "h")}


def test_upsert_respects_update_columns(engine: Engine) -> None:
    keys = ("supplier_id", "external_id")
    with engine.begin() as conn:
        upsert_rows(conn, supplier_records, [record_row("A", "a1", "h1")], keys=keys)
    with engine.begin() as conn:
        upsert_rows(conn, supplier_records, [record_row("A", "a2", "h2"), record_row("N", "n", "hn")], keys=keys,
                    update_columns=["payload"])
    with engine.connect() as conn:
        assert records(conn) == {"A": ("a2", "h1"), "N": ("n", "hn")}


def test_upsert_rolls_back_with_the_callers_transaction(engine: Engine) -> None:
    keys = ("supplier_id", "external_id")
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            upsert_rows(conn, supplier_records, [record_row("A")], keys=keys)
            raise RuntimeError("abort")
    with engine.connect() as conn:
        assert records(conn) == {}


def test_save_rows_inserts_new_and_upserts_existing(engine: Engine) -> None:
    keys = ("supplier_id", "external_id")
    with engine.begin() as conn:
        insert_rows(conn, supplier_records, [record_row("OLD", "old", "h-old")])
    with engine.begin() as conn:
        save_rows(conn, supplier_records, [record_row("NEW", "new", "h-new"), record_row("OLD", "old2", "h-old2")],
                  keys, is_new=[True, False], update_columns=["payload"])
    with engine.connect() as conn:
        assert records(conn) == {"NEW": ("new", "h-new"), "OLD": ("old2", "h-old")}


def test_save_rows_sends_new_rows_as_plain_inserts(engine: Engine) -> None:
    keys = ("supplier_id", "external_id")
    with engine.begin() as conn:
        insert_rows(conn, supplier_records, [record_row("A", "a1")])
    with pytest.raises((sa.exc.IntegrityError, psycopg2.IntegrityError)):
        with engine.begin() as conn:
            save_rows(conn, supplier_records, [record_row("A", "a2")], keys, is_new=[True])
    with engine.connect() as conn:
        assert records(conn) == {"A": ("a1", "h0")}


def test_update_rows_matches_on_keys(engine: Engine) -> None:
    first, second = product_row("P1"), product_row("P2")
    with engine.begin() as conn:
        insert_rows(conn, products, [first, second])
        assert update_rows(conn, products, [{"id": first["id"], "status": "Archived", "is_active": False}],
                           keys=("id",)) == 1
    with engine.connect() as conn:
        rows = {r.external_product_id: (r.status, r.is_active)
                for r in conn.execute(select(products.c.external_product_id, products.c.status, products.c.is_active))}
    assert rows == {"P1": ("Archived", False), "P2": ("Published", True)}


def test_update_rows_with_shared_values_narrows_the_match_and_sets_them(engine: Engine) -> None:
    first, second, third = product_row("P1"), product_row("P2"), product_row("P3", category="other")
    with engine.begin() as conn:
        insert_rows(conn, products, [first, second, third])
        # P3 is listed, but the shared key value (category) excludes it.
        assert update_rows(conn, products, [{"id": row["id"], "name": f"renamed {row['external_product_id']}"}
                                            for row in (first, third)],
                           keys=("id", "category"), same={"category": first["category"], "status": "Archived"}) == 2
    with engine.connect() as conn:
        rows = {r.external_product_id: (r.name, r.status)
                for r in conn.execute(select(products.c.external_product_id, products.c.name, products.c.status))}
    assert rows == {"P1": ("renamed P1", "Archived"), "P2": (second["name"], "Published"),
                    "P3": (third["name"], "Published")}


TRICKY = 'tab\there, new\nline, cr\rx, back\\slash \\N, "double" \'single\', comma;, 中文 \u00e9'
TRICKY_TAGS = ["a\tb", 'quote"d', "back\\slash", "new\nline", "", "中文", {"nested": [1, None, True]}]


def _tricky_product(external_id: str, name: str) -> dict:
    return product_row(external_id, name=name, description=TRICKY, enriched_description="", category="",
                       created_by=None, available_seats=None, tags=TRICKY_TAGS, missing_languages=[],
                       is_active=False)


def _assert_tricky(conn, external_id: str, name: str) -> None:
    row = conn.execute(select(products).where(products.c.external_product_id == external_id)).one()
    assert row.name == name
    assert row.description == TRICKY
    assert row.enriched_description == "", "empty string must stay '' (not NULL) in a nullable column"
    assert row.category == ""
    assert row.created_by is None
    assert row.available_seats is None
    assert row.archived_at is None
    assert row.tags == TRICKY_TAGS
    assert row.missing_languages == []
    assert row.is_active is False
    assert row.created_at == NOW and row.created_at.tzinfo is not None
    if conn.dialect.name == "postgresql":
        raw = conn.exec_driver_sql(
            "SELECT enriched_description IS NULL, created_by IS NULL, jsonb_typeof(tags::jsonb) "
            "FROM products WHERE external_product_id = %(e)s", {"e": external_id}).one()
        assert tuple(raw) == (False, True, "array")


def test_bulk_insert_round_trips_tricky_text_nulls_and_json(engine: Engine) -> None:
    with engine.begin() as conn:
        insert_rows(conn, products, [_tricky_product("T1", "12345"), product_row("T2")])
    with engine.connect() as conn:
        _assert_tricky(conn, "T1", "12345")
        assert conn.execute(select(products.c.tags).where(products.c.external_product_id == "T2")).scalar_one() == [
            "tour", "culture"]


def test_upsert_round_trips_tricky_text_nulls_and_json(engine: Engine) -> None:
    plain = product_row("U1")
    with engine.begin() as conn:
        insert_rows(conn, products, [plain])
    changed = {**_tricky_product("U1", "Renamed"), "id": plain["id"]}
    with engine.begin() as conn:
        upsert_rows(conn, products, [changed, _tricky_product("U2", "Second")], keys=("id",))
    with engine.connect() as conn:
        _assert_tricky(conn, "U1", "Renamed")
        _assert_tricky(conn, "U2", "Second")
        assert conn.execute(select(sa.func.count()).select_from(products)).scalar_one() == 2


def test_upsert_with_no_update_columns_keeps_existing_rows(engine):
    from commerce_core.db.bulk import upsert_rows as upsert
    from commerce_core.db.schema import sync_cursors as cursors

    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        upsert(conn, cursors, [{"name": "a", "value": "1", "updated_at": now}], keys=("name",))
        upsert(conn, cursors, [{"name": "a", "value": "2", "updated_at": now}, {"name": "b", "value": "3", "updated_at": now}],
               keys=("name",), update_columns=[])
    with engine.connect() as conn:
        assert dict(conn.execute(cursors.select().with_only_columns(cursors.c.name, cursors.c.value)).all()) == {"a": "1", "b": "3"}


def test_refresh_statistics_gives_the_planner_the_loaded_row_count(pg_engine: Engine) -> None:
    rows = [
        {"supplier_id": "SERP", "external_id": f"S-{n}", "payload": "{}", "payload_hash": "h", "fetched_at": NOW}
        for n in range(500)
    ]
    with pg_engine.begin() as conn:
        insert_rows(conn, supplier_records, rows)
    estimate = "SELECT reltuples FROM pg_class WHERE oid = 'supplier_records'::regclass"
    with pg_engine.begin() as conn:
        assert conn.exec_driver_sql(estimate).scalar() <= 0  # never analyzed: -1 on PostgreSQL 14+
        refresh_statistics(conn, supplier_records)
        assert conn.exec_driver_sql(estimate).scalar() == 500
        analyzed = set(conn.exec_driver_sql(
            "SELECT attname FROM pg_stats WHERE tablename = 'supplier_records' AND schemaname = current_schema()"
        ).scalars())
    # The indexed columns (here the key) the planner weighs index scans and joins on; not the bodies.
    assert analyzed == {"supplier_id", "external_id"}



# --- child rows of parents written in the same transaction -------------------------------


def _translation(product_id: uuid.UUID) -> dict:
    return {"product_id": product_id, "language_code": "en-US", "name": "Tour", "description": "A tour.",
            "short_description": None, "source": "original"}


def test_children_of_parents_written_here_skip_the_per_row_checks_only_inside_the_block(pg_engine: Engine) -> None:
    parent = product_row("SERP-1")
    role = "SHOW session_replication_role"
    with pg_engine.begin() as conn:
        insert_rows(conn, products, [parent])
        with rows_under_parents_written_here(conn):
            assert conn.exec_driver_sql(role).scalar() == "replica"
            insert_rows(conn, product_translations, [_translation(parent["id"])])
        assert conn.exec_driver_sql(role).scalar() == "origin"
        # After the block the same transaction is checked row by row again.
        with pytest.raises(psycopg2.errors.ForeignKeyViolation):
            insert_rows(conn, product_translations, [_translation(uuid.uuid4())])
    with pg_engine.connect() as conn:
        assert conn.execute(select(sa.func.count()).select_from(product_translations)).scalar() == 0


def test_a_role_that_may_not_set_the_replication_role_keeps_every_check(pg_admin: Engine, pg_engine: Engine) -> None:
    schema = pg_engine.url.query["options"].split("=", 1)[1]
    role = f"hub_plain_{uuid.uuid4().hex[:8]}"
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        conn.exec_driver_sql(f"GRANT ALL ON ALL TABLES IN SCHEMA {schema} TO {role}")
    plain = create_engine(pg_engine.url.set(username=role))
    try:
        with pytest.raises(psycopg2.errors.ForeignKeyViolation):
            with plain.begin() as conn:
                with rows_under_parents_written_here(conn):
                    assert conn.exec_driver_sql("SHOW session_replication_role").scalar() == "origin"
                    insert_rows(conn, product_translations, [_translation(uuid.uuid4())])
    finally:
        plain.dispose()
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")


# --- COPY text --------------------------------------------------------------------------


def _copy_text_value_by_value(table: sa.Table, columns: Sequence[str], rows: Sequence[tuple]) -> str:
    """The encoder the compiled one replaced (one formatter call per value): the reference for its bytes."""
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")

    def encode(column_type: object, value: object) -> str:
        if value is None:
            return "\\N"
        if isinstance(column_type, sa.JSON):
            return escape(orjson.dumps(value).decode())
        if isinstance(column_type, UtcDateTime):
            return value.isoformat()
        if isinstance(column_type, sa.Boolean):
            return "t" if value else "f"
        if isinstance(column_type, (sa.Uuid, sa.String, sa.Integer, sa.Numeric)):
            return escape(value) if isinstance(value, str) else str(value)
        return escape(str(value))

    types = [table.c[column].type for column in columns]
    return "".join("\t".join(encode(t, v) for t, v in zip(types, row)) + "\n" for row in rows)


class _Label(str):
    def __str__(self) -> str:
        return "not the characters"


def test_copy_text_is_the_value_by_value_text_on_tricky_values() -> None:
    shared_id, moment = uuid.uuid4(), NOW
    texts = [TRICKY, "", "\\N", "\\", "\t", "\n\r", "京都の夜市 \u3000 \u00a0", "plain", _Label("lab\tel"),
             _Label("label"), "a\\tb"]
    product_rows = [
        (uuid.uuid4() if n % 3 else shared_id, "SERP", f"E-{n}", text, text, None if n % 2 else text, "zh-TW",
         "Tour", text, None if n % 4 == 0 else n, "Published", n % 2 == 0, TRICKY_TAGS if n % 2 else [text],
         [] if n % 3 else {"k\\": text}, "0" * 32, None if n % 5 == 0 else moment + timedelta(seconds=n),
         moment, moment, None, None if n == 1 else text, "unit")
        for n, text in enumerate(texts * 3)
    ]
    price_rows = [(shared_id, n, amount, "TWD", "Base", moment if n % 2 else None, None)
                  for n, amount in enumerate([Decimal("12.50"), "1234.5", 7, Decimal("1E+3")])]
    columns = [c.name for c in products.columns]
    assert _copy_text(products, columns, product_rows) == _copy_text_value_by_value(products, columns, product_rows)
    price_columns = [c.name for c in product_prices.columns]
    assert _copy_text(product_prices, price_columns, price_rows) == \
        _copy_text_value_by_value(product_prices, price_columns, price_rows)
    one_column = [(text,) for text in texts] + [(None,)]
    assert _copy_text(products, ["name"], one_column) == _copy_text_value_by_value(products, ["name"], one_column)


def test_copy_text_refuses_a_naive_datetime_naming_the_column() -> None:
    with pytest.raises(ValueError, match="sync_cursors.updated_at"):
        _copy_text(sync_cursors, ["name", "value", "updated_at"], [("a", "1", NOW.replace(tzinfo=None))])

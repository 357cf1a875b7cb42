"""Next Engine stock pushes -> Shopline inventory (connector design: InventoryService.syncToShopline;
docs/background.md).

The stock service logs every applied push in inventory_sync_log as `pending` before it
answers Next Engine; nothing slow happens inside that request. This module (run by the
shopline_inventory_sync asset) sends them:

1. `refresh_variants` keeps shopline_variants (SKU -> Shopline variant) in step with the
   Shopline products the catalog imported (supplier_records).
2. `sync_pending`: a push sets an absolute level, so per SKU only the newest open push
   is sent; older open ones are marked `superseded` (their value is history, not lost).
   Each sent push ends `success`, `skipped` (unlimited stock: Shopline holds a number; or a
   SKU Shopline does not sell: no variant of the imported Shopline catalog has it, so the
   push is not for Shopline, with that reason) or `failed` with the reason; a failure that
   may pass (network, 5xx/429 after the client's own retries, no Shopline catalog imported
   yet, a variant deleted since the import) is tried again after a growing
   delay until `max_attempts` attempts were made, then it stays failed for an operator
   (the caller alerts). While Shopline's circuit is open nothing is sent and no attempt
   is counted.

Level writes go through Shopline's inventory_levels/set.json (absolute, so a repeated
send is harmless); records are updated only if the row is still in the state that was
read, so a concurrent run never overwrites a newer outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, update

from commerce_core.connectors.converters import from_gid
from commerce_core.connectors.shopline import ShoplineClient, ShoplineError
from commerce_core.connectors.shopline_mapping import SHOPLINE_SUPPLIER_ID, variant_nodes
from commerce_core.db.cursors import get_cursor, set_cursor
from commerce_core.db.lookup import in_keys
from commerce_core.db.schema import inventory_sync_log, shopline_variants, supplier_records
from commerce_core.http.resilience import CircuitOpenError, HttpCallError, PermanentError

VARIANTS_CURSOR = "shopline:variants:fetched_at"
# Staged records carry the time their batch was read (fetched_at), stamped before the batch's write commits
# (write-behind, and imports may run side by side): a batch can become visible after a refresh already read
# records with a later fetched_at. The cursor is the newest fetched_at actually read (never the clock), and
# each refresh re-reads this far behind it, so such a batch is still picked up.
VARIANTS_OVERLAP = timedelta(minutes=15)
CHUNK = 1000

pushes = inventory_sync_log.c


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 60.0  # 1, 2, 4, 8 minutes ... between attempts
    max_backoff_seconds: float = 3600.0

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.backoff_seconds * 2 ** (attempts - 1), self.max_backoff_seconds))


@dataclass
class SyncResult:
    due: int = 0
    succeeded: int = 0
    superseded: int = 0
    skipped: int = 0  # unlimited stock
    not_in_shopline: int = 0  # skipped: a SKU Shopline does not sell
    retrying: int = 0
    deferred: int = 0  # not tried: Shopline's circuit was open
    final_failures: list[dict] = field(default_factory=list)  # {"id", "sku", "attempts", "error"}
    sent: list[dict] = field(default_factory=list)  # {"sku", "variant_id", "available"}, for the run's preview


# -- SKU -> variant ---------------------------------------------------------------------

def _variants_of(node: dict) -> list[tuple[str, str]]:
    """(variant id, sku) of a staged product node (shopline_mapping's variants); variants without a SKU cannot
    receive pushes."""
    out = []
    for variant in variant_nodes(node):
        if isinstance(variant.get("sku"), str) and variant["sku"].strip():
            try:
                out.append((from_gid(variant.get("id"), "ProductVariant"), variant["sku"].strip()))
            except ValueError:
                continue
    return out


def refresh_variants(engine: Engine, now: datetime) -> int:
    """Bring shopline_variants up to the Shopline products staged since the last refresh (re-reading
    VARIANTS_OVERLAP behind the newest fetched_at read before); returns how many products were re-read.
    A variant keeps the inventory_item_id already read for it."""
    with engine.connect() as conn:
        since = get_cursor(conn, VARIANTS_CURSOR)
        query = select(supplier_records.c.external_id, supplier_records.c.fetched_at).where(
            supplier_records.c.supplier_id == SHOPLINE_SUPPLIER_ID)
        if since:
            query = query.where(supplier_records.c.fetched_at > datetime.fromisoformat(since) - VARIANTS_OVERLAP)
        found = conn.execute(query).all()
    product_ids = [product_id for product_id, _ in found]
    for start in range(0, len(product_ids), CHUNK):
        with engine.begin() as conn:
            _refresh_chunk(conn, product_ids[start:start + CHUNK], now)
    newest = max((fetched_at for _, fetched_at in found), default=None)
    if newest is not None and (since is None or newest > datetime.fromisoformat(since)):
        with engine.begin() as conn:
            set_cursor(conn, VARIANTS_CURSOR, newest.isoformat())
    return len(product_ids)


def _refresh_chunk(conn: Connection, product_ids: list[str], now: datetime) -> None:
    records = conn.execute(select(supplier_records.c.external_id, supplier_records.c.payload).where(
        supplier_records.c.supplier_id == SHOPLINE_SUPPLIER_ID,
        in_keys(conn, supplier_records.c.external_id, product_ids))).all()
    known = conn.execute(select(shopline_variants.c.variant_id, shopline_variants.c.sku, shopline_variants.c.product_id,
                                shopline_variants.c.inventory_item_id)
                         .where(in_keys(conn, shopline_variants.c.product_id, product_ids))).all()
    known_items = {row.variant_id: row.inventory_item_id for row in known}
    rows = []
    for product_id, payload in records:
        if payload is None:  # deleted at Shopline: its variants are gone with it
            continue
        for variant_id, sku in _variants_of(orjson.loads(payload)):
            rows.append({"variant_id": variant_id, "sku": sku[:128], "product_id": product_id,
                         "inventory_item_id": known_items.get(variant_id), "updated_at": now})
    if {(r["variant_id"], r["sku"], r["product_id"]) for r in rows} == {tuple(row[:3]) for row in known}:
        return  # unchanged (e.g. re-read within the overlap): nothing to write
    conn.execute(delete(shopline_variants).where(in_keys(conn, shopline_variants.c.product_id, product_ids)))
    if rows:
        conn.execute(insert(shopline_variants), rows)


# -- sending ----------------------------------------------------------------------------

def _open(now: datetime | None = None):
    """Rows still to be sent: pending, or failed with a retry planned (due at `now` when given)."""
    retry = pushes.next_attempt_at.is_not(None) if now is None else pushes.next_attempt_at <= now
    return or_(pushes.sync_status == "pending", and_(pushes.sync_status == "failed", retry))


def _finish(conn: Connection, row, **values) -> bool:
    """Record an outcome only over the state that was read (a concurrent run may have moved on)."""
    return bool(conn.execute(update(inventory_sync_log).where(
        pushes.id == row.id, pushes.sync_status == row.sync_status, pushes.retry_count == row.retry_count,
    ).values(**values)).rowcount)


def supersede_older(engine: Engine, now: datetime) -> tuple[list, int]:
    """Mark every open push that is not its SKU's newest as superseded (naming the push that replaced it);
    returns (the newest open row of each SKU in the order they arrived, how many were superseded)."""
    with engine.begin() as conn:
        rows = conn.execute(select(pushes.id, pushes.sku, pushes.stock, pushes.sync_status, pushes.retry_count,
                                   pushes.next_attempt_at)
                            .where(_open()).order_by(pushes.sku, pushes.sent_at.desc(), pushes.id.desc())).all()
        newest: dict[str, object] = {}
        older: dict[int, list[int]] = {}  # newest id -> the ids it supersedes
        for row in rows:
            if row.sku in newest:
                older.setdefault(newest[row.sku].id, []).append(row.id)
            else:
                newest[row.sku] = row
        superseded = 0
        for newest_id, ids in older.items():
            for start in range(0, len(ids), CHUNK):
                superseded += conn.execute(update(inventory_sync_log).where(
                    in_keys(conn, pushes.id, ids[start:start + CHUNK]), _open(),
                ).values(sync_status="superseded", next_attempt_at=None, processed_at=now,
                         error_message=f"superseded by push {newest_id}")).rowcount
    return sorted(newest.values(), key=lambda r: r.id), superseded


class NotSendable(Exception):
    """The SKU cannot be sent now; `final` when waiting will not help, `skip` when there is nothing to send
    (the push is not for Shopline: it ends `skipped`, not failed)."""

    def __init__(self, reason: str, final: bool = False, skip: bool = False):
        super().__init__(reason)
        self.final = final
        self.skip = skip


class _Variants:
    """SKU -> the variant's inventory item, from shopline_variants (inventory_item_id read once per variant)."""

    def __init__(self, engine: Engine, client: ShoplineClient, skus: Iterable[str]):
        self.engine = engine
        self.client = client
        self.by_sku: dict[str, list] = {}
        skus = sorted(set(skus))
        with engine.connect() as conn:
            self.catalog_imported = conn.execute(select(supplier_records.c.external_id).where(
                supplier_records.c.supplier_id == SHOPLINE_SUPPLIER_ID).limit(1)).first() is not None
            for start in range(0, len(skus), CHUNK):
                for row in conn.execute(select(shopline_variants).where(
                        in_keys(conn, shopline_variants.c.sku, skus[start:start + CHUNK]))):
                    self.by_sku.setdefault(row.sku, []).append(dict(row._mapping))

    def inventory_item(self, sku: str) -> tuple[str, str]:
        """(variant id, inventory item id) of the SKU; NotSendable says why not."""
        found = self.by_sku.get(sku, [])
        if not found and not self.catalog_imported:
            raise NotSendable(f"SKU {sku!r}: no Shopline catalog imported yet (shopline_products); "
                              "tried again after the import")
        if not found:
            raise NotSendable(f"SKU {sku!r} is not sold in Shopline: no variant of the imported Shopline catalog "
                              "(shopline_products) has it; not sent", skip=True)
        if len(found) > 1:
            raise NotSendable(f"SKU {sku!r} belongs to {len(found)} Shopline variants "
                              f"({', '.join(r['variant_id'] for r in found)}); make it unique in Shopline",
                              final=True)
        variant = found[0]
        if not variant["inventory_item_id"]:
            answer = self.client.variant(variant["variant_id"])
            if answer is None or not answer.get("inventory_item_id"):
                self.forget(variant["variant_id"])
                raise NotSendable(f"Shopline has no variant {variant['variant_id']} for SKU {sku!r} any more "
                                  "(deleted since the last import); tried again after the next import")
            variant["inventory_item_id"] = str(answer["inventory_item_id"])
            with self.engine.begin() as conn:
                conn.execute(update(shopline_variants).where(shopline_variants.c.variant_id == variant["variant_id"])
                             .values(inventory_item_id=variant["inventory_item_id"]))
        return variant["variant_id"], variant["inventory_item_id"]

    def forget(self, variant_id: str) -> None:
        """The store no longer has the variant: the next import of its product decides what it is now."""
        with self.engine.begin() as conn:
            conn.execute(delete(shopline_variants).where(shopline_variants.c.variant_id == variant_id))


def sync_pending(engine: Engine, client: ShoplineClient, location_id: Callable[[], str], now: datetime,
                 policy: RetryPolicy = RetryPolicy(), limit: int = 5000) -> SyncResult:
    """Send the newest open push of each SKU that is due (at most `limit`); see the module docstring."""
    result = SyncResult()
    candidates, result.superseded = supersede_older(engine, now)
    due = [row for row in candidates if row.sync_status == "pending" or row.next_attempt_at <= now][:limit]
    result.due = len(due)
    if not due:
        return result
    variants = _Variants(engine, client, (row.sku for row in due))
    location: str | None = None
    for position, row in enumerate(due):
        if row.stock is None:
            with engine.begin() as conn:
                if _finish(conn, row, sync_status="skipped", processed_at=now, next_attempt_at=None,
                           error_message="unlimited stock (empty Stock): Shopline keeps a number, not sent"):
                    result.skipped += 1
            continue
        variant_id = None
        try:
            variant_id, item = variants.inventory_item(row.sku)
            location = location or location_id()
            client.set_inventory(item, location, row.stock)
        except CircuitOpenError:
            result.deferred = len(due) - position  # Shopline is down: nothing is sent, no attempt is counted
            break
        except NotSendable as why:
            if why.skip:
                with engine.begin() as conn:
                    if _finish(conn, row, sync_status="skipped", processed_at=now, next_attempt_at=None,
                               error_message=str(why)[:2000]):
                        result.not_in_shopline += 1
            else:
                _fail(engine, row, now, str(why), policy, result, final=why.final)
            continue
        except PermanentError as error:
            if error.status_code == 404 and variant_id is not None:  # the variant vanished since it was imported
                variants.forget(variant_id)
                _fail(engine, row, now, f"Shopline answered 404 for SKU {row.sku!r}: {error}; tried again after "
                      "the next import", policy, result, final=False)
            else:  # Shopline refuses the request itself: sending it again changes nothing
                _fail(engine, row, now, f"Shopline refused the level: {error}", policy, result, final=True)
            continue
        except (HttpCallError, ShoplineError) as error:  # the client's own retries are spent: retry later
            _fail(engine, row, now, f"Shopline call failed: {error}", policy, result, final=False)
            continue
        with engine.begin() as conn:
            if _finish(conn, row, sync_status="success", synced_to_shopline=True, processed_at=now,
                       next_attempt_at=None, error_message=None):
                result.succeeded += 1
                result.sent.append({"sku": row.sku, "variant_id": variant_id, "available": row.stock})
    return result


def _fail(engine: Engine, row, now: datetime, reason: str, policy: RetryPolicy, result: SyncResult,
          *, final: bool) -> None:
    attempts = row.retry_count + 1
    final = final or attempts >= policy.max_attempts
    with engine.begin() as conn:
        recorded = _finish(conn, row, sync_status="failed", retry_count=attempts, processed_at=now,
                           error_message=reason[:2000],
                           next_attempt_at=None if final else now + policy.delay(attempts))
    if not recorded:
        return
    if final:
        result.final_failures.append({"id": row.id, "sku": row.sku, "attempts": attempts, "error": reason})
    else:
        result.retrying += 1


def backlog(conn: Connection, now: datetime) -> tuple[int, int | None, int | None, int]:
    """(open rows due now, lowest id, highest id, their retry counts summed): what a sensor keys its run on."""
    count, low, high, retries = conn.execute(
        select(func.count(), func.min(pushes.id), func.max(pushes.id), func.coalesce(func.sum(pushes.retry_count), 0))
        .where(_open(now))).one()
    return count, low, high, int(retries)

"""One region's sync run and the dead-letter retry (GlobalHub design: SyncToRegion, ProcessDeadLetterQueue;
docs/background.md).

A run takes the products due for the region in (updated_at, id) order, a chunk
at a time. After each chunk every product is either delivered (recorded with
the content hash it was built from) or dead-lettered, and only then does the
region's cursor move past the chunk: a crash loses nothing, and what the cursor
passed is either at the region or in the dead-letter queue. The cursor is
re-read with a small overlap, because a catalog run commits products a little
after stamping them; the delivered hash keeps that overlap from sending twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, update

from commerce_core.bulk_work import fewer_gc_passes
from commerce_core.db.bulk import refresh_statistics, save_rows, upsert_rows
from commerce_core.db.cursors import get_cursor, set_cursor, utcnow
from commerce_core.db.schema import region_deliveries, region_sync_logs
from commerce_core.regions import dead_letters
from commerce_core.regions.central_products import iter_due_products
from commerce_core.regions.client import RegionProductsClient
from commerce_core.regions.config import RegionConfig
from commerce_core.regions.delivery import ChunkOutcome, RegionDelivery, RegionRefused
from commerce_core.regions.fx import FxRates
from commerce_core.regions.regional_product import iso_utc

CURSOR_OVERLAP = timedelta(minutes=5)
TRIGGERS = ("schedule", "sensor", "manual", "dead_letter_retry")


def cursor_name(region_code: str) -> str:
    return f"region:{region_code}:updated_at"


@dataclass
class RegionSyncResult:
    region: str
    sync_log_id: uuid.UUID
    considered: int = 0
    sent: int = 0
    created: int = 0
    updated: int = 0
    kept_regional: int = 0
    failed: int = 0
    dead_lettered: int = 0
    untranslated: int = 0
    calls: int = 0
    lookups: int = 0
    circuit_skipped_batches: int = 0
    status: str = "running"
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def success_rate(self) -> float:
        handled = self.created + self.updated + self.kept_regional + self.failed
        return (self.created + self.updated + self.kept_regional) / handled if handled else 1.0

    def add(self, outcome: ChunkOutcome) -> None:
        self.sent += outcome.sent
        self.created += sum(1 for _, status in outcome.delivered if status == "created")
        self.updated += sum(1 for _, status in outcome.delivered if status == "updated")
        self.kept_regional += len(outcome.kept_regional)
        self.failed += len(outcome.failed)
        self.untranslated += outcome.untranslated
        self.calls += outcome.calls
        self.lookups += outcome.lookups
        self.circuit_skipped_batches += outcome.circuit_skipped_batches
        self.errors += [f"{f.product.external_id}: {f.error}" for f in outcome.failed[: max(0, 20 - len(self.errors))]]


def _record(conn, region_code: str, outcome: ChunkOutcome, now: datetime, *, clear_dead_letters: bool) -> None:
    """What the region now holds; a delivered product leaves the dead-letter queue."""
    arrived = [*outcome.delivered, *((product, "kept_regional") for product in outcome.kept_regional)]
    rows = [
        {"region_code": region_code, "product_id": product.id, "content_hash": product.content_hash,
         "outcome": status, "delivered_at": now}
        for product, status in arrived
    ]
    if clear_dead_letters:
        # The retry job may deliver these products at the same time: upsert, never a duplicate insert.
        upsert_rows(conn, region_deliveries, rows, keys=("region_code", "product_id"))
        dead_letters.clear(conn, region_code, [row["product_id"] for row in rows])
    else:
        save_rows(conn, region_deliveries, rows, keys=("region_code", "product_id"),
                  is_new=[product.first_delivery for product, _ in arrived])


class _DeliveryStatistics:
    """Keeps the planner's idea of region_deliveries current while a first sync fills it.

    The due-products query joins region_deliveries; planned with the estimate of an
    empty table, PostgreSQL scans the whole table once per product. ANALYZE
    whenever the rows added since the last one reach the size then known: a handful
    of times however large the catalog.
    """

    def __init__(self) -> None:
        self.known = 0
        self.added = 0

    def grew(self, conn, new_rows: int) -> None:
        self.added += new_rows
        if self.added and self.added >= max(self.known, 1000):
            refresh_statistics(conn, region_deliveries)
            self.known += self.added
            self.added = 0


@fewer_gc_passes()
def sync_region(engine: Engine, region: RegionConfig, client: RegionProductsClient, fx: FxRates, *,
                run_id: str | None, trigger: str, resend_all: bool = False, concurrency: int = 8,
                chunk_size: int = 20_000, product_ids: list[uuid.UUID] | None = None,
                progress: Callable[[RegionSyncResult], None] | None = None) -> RegionSyncResult:
    """A region's run; with `product_ids`, a targeted refresh of those products (sent even if unchanged,
    e.g. after a stock change) that leaves the region's cursor where it is."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {TRIGGERS}, got {trigger!r}")
    targeted = product_ids is not None
    started, clock = utcnow(), time.perf_counter()
    result = RegionSyncResult(region=region.code, sync_log_id=uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(insert(region_sync_logs).values(
            id=result.sync_log_id, region_code=region.code, dagster_run_id=run_id, trigger=trigger,
            status="running", started_at=started))
        cursor = get_cursor(conn, cursor_name(region.code))
        # Most runs start with nothing dead-lettered: then no delivery needs to be looked up there.
        open_dead_letters = dead_letters.backlog(conn).get(region.code, 0)
    since = None if resend_all or targeted or cursor is None else datetime.fromisoformat(cursor) - CURSOR_OVERLAP
    delivery = RegionDelivery(region, client, fx, concurrency=concurrency, sync_timestamp=iso_utc(started))
    statistics = _DeliveryStatistics()
    try:
        for chunk in iter_due_products(engine, region.code, since=since, ids=product_ids,
                                       resend_all=resend_all or targeted, chunk_size=chunk_size):
            result.considered += len(chunk)
            outcome = delivery.deliver(chunk)
            now = utcnow()
            with engine.begin() as conn:
                _record(conn, region.code, outcome, now, clear_dead_letters=open_dead_letters > 0)
                statistics.grew(conn, sum(1 for product in chunk if product.first_delivery))
                dead_letters.record_failures(conn, region.code, outcome.failed, now)
                reached = max(product.updated_at for product in chunk)
                stored = get_cursor(conn, cursor_name(region.code))
                if not targeted and (stored is None or datetime.fromisoformat(stored) < reached):
                    set_cursor(conn, cursor_name(region.code), reached.isoformat())
            open_dead_letters += len(outcome.failed)
            result.add(outcome)
            result.dead_lettered += len(outcome.failed)
            if progress:
                progress(result)
    except Exception as error:
        result.status = "failed"
        _finish(engine, result, clock, error=f"{type(error).__name__}: {error}")
        raise
    finally:
        delivery.close()
    result.status = "succeeded" if result.failed == 0 else "partial"
    _finish(engine, result, clock)
    return result


def _finish(engine: Engine, result: RegionSyncResult, clock: float, error: str | None = None) -> None:
    result.seconds = time.perf_counter() - clock
    with engine.begin() as conn:
        conn.execute(update(region_sync_logs).where(region_sync_logs.c.id == result.sync_log_id).values(
            status=result.status, considered_count=result.considered, sent_count=result.sent,
            created_count=result.created, updated_count=result.updated, kept_regional_count=result.kept_regional,
            failed_count=result.failed, dead_lettered_count=result.dead_lettered,
            untranslated_count=result.untranslated, error_message=error, completed_at=utcnow()))


@dataclass
class DeadLetterRetryResult:
    attempted: int = 0
    delivered: int = 0
    still_failing: int = 0
    no_longer_due: int = 0
    newly_exhausted: list[dict] = field(default_factory=list)
    per_region: dict[str, dict] = field(default_factory=dict)
    refused_regions: dict[str, str] = field(default_factory=dict)  # credentials refused: items left untouched


def retry_dead_letters(engine: Engine, regions: dict[str, RegionConfig],
                       client_for: Callable[[RegionConfig], RegionProductsClient], fx: FxRates, *,
                       limit: int = 100, max_tries: int = dead_letters.MAX_TRIES,
                       concurrency: int = 8) -> DeadLetterRetryResult:
    """Retry the oldest items (at most `limit`) with the product as the catalog holds it now.

    Sending the current version, not the stored payload, means a retry never
    overwrites a newer delivery with an old copy. Regions are retried side by
    side, so a region that is still down does not hold up the others.
    """
    result = DeadLetterRetryResult()
    with engine.connect() as conn:
        items = dead_letters.due_for_retry(conn, limit, max_tries)
    by_region: dict[str, list[dict]] = {}
    for item in items:
        by_region.setdefault(item["target_region"], []).append(item)
    result.attempted = len(items)

    def retry_region(code: str) -> tuple[str, dict]:
        region_items = by_region[code]
        region = regions.get(code)
        if region is None:
            return code, {"errors": {i["entity_id"]: (f"region {code} is not configured or not enabled", None, None)
                                     for i in region_items}, "delivered": set(), "items": region_items}
        ids = [uuid.UUID(item["entity_id"]) for item in region_items]
        try:
            client = client_for(region)
            delivery = RegionDelivery(region, client, fx, concurrency=concurrency, sync_timestamp=iso_utc(utcnow()))
            try:
                outcome = ChunkOutcome()
                for chunk in iter_due_products(engine, code, ids=ids, resend_all=True):
                    outcome.absorb(delivery.deliver(chunk))
            finally:
                delivery.close()
                client.close()
        except RegionRefused as error:  # not the items' fault: no try is spent on them
            return code, {"refused": str(error), "items": region_items}
        except Exception as error:  # one region's trouble never stops the others
            message = f"{type(error).__name__}: {error}"
            return code, {"errors": {i["entity_id"]: (message, None, None) for i in region_items},
                          "delivered": set(), "items": region_items}
        with engine.begin() as conn:
            _record(conn, code, outcome, utcnow(), clear_dead_letters=True)
        return code, {"errors": {str(f.product.id): (f.error, f.http_status, f.payload) for f in outcome.failed},
                      "delivered": {str(p.id) for p, _ in outcome.delivered} | {str(p.id) for p in outcome.kept_regional},
                      "items": region_items}

    with ThreadPoolExecutor(max_workers=max(1, len(by_region))) as pool:
        outcomes = list(pool.map(retry_region, sorted(by_region)))
    now = utcnow()
    with engine.begin() as conn:
        for code, outcome in outcomes:
            if "refused" in outcome:
                result.refused_regions[code] = outcome["refused"]
                continue
            failing = [item for item in outcome["items"] if item["entity_id"] in outcome["errors"]]
            gone = [item for item in outcome["items"]
                    if item["entity_id"] not in outcome["errors"] and item["entity_id"] not in outcome["delivered"]]
            dead_letters.record_retry_failures(conn, failing, outcome["errors"], now)
            # The catalog no longer has it for this region (withdrawn before the region ever held it).
            dead_letters.clear(conn, code, [uuid.UUID(item["entity_id"]) for item in gone])
            delivered = len(outcome["items"]) - len(failing) - len(gone)
            result.delivered += delivered
            result.still_failing += len(failing)
            result.no_longer_due += len(gone)
            result.per_region[code] = {"attempted": len(outcome["items"]), "delivered": delivered,
                                       "still_failing": len(failing), "no_longer_due": len(gone)}
        result.newly_exhausted = dead_letters.exhausted_unalerted(conn, max_tries)
    return result

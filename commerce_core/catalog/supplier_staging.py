"""Stage raw supplier records (asset serp_products): keep what changed, tombstone what vanished.

A record is staged only when its payload hash differs from the staged one, so an
unchanged re-fetch writes nothing. A record that arrives as a RawRecord is kept
and hashed as the bytes the supplier sent; a parsed one as its canonical JSON. Records without a usable id, and second
occurrences of an id within one fetch, are rejected here: they cannot be keyed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select

from commerce_core.bulk_work import fewer_gc_passes, stream_in_workers
from commerce_core.catalog.models import RawRecord, canonical_json, hash_bytes, parse_utc
from commerce_core.db.lookup import in_keys
from commerce_core.db.cursors import utcnow
from commerce_core.db.bulk import bulk_transaction, insert_rows, refresh_statistics, save_rows, upsert_rows
from commerce_core.db.schema import import_rejects, supplier_records

DELETED_HASH = "deleted"
# SQLite (3.32+) allows 32,766 bound parameters per statement.
LOOKUP_CHUNK = 5000
# Pages are regrouped so a transaction carries thousands of records, not one page.
STAGING_BATCH = 5000


class MassArchiveRefused(RuntimeError):
    """A full listing lost too much of the catalog at once to archive it blindly."""


@dataclass
class StagingResult:
    fetched: int = 0
    staged_new: int = 0
    staged_changed: int = 0
    unchanged: int = 0
    tombstoned: int = 0
    rejected: int = 0
    max_source_updated_at: datetime | None = None
    seen_ids: set[str] = field(default_factory=set, repr=False)
    # Whole listings only: the ids that were live (not tombstoned) before this fetch.
    live_before: set[str] | None = field(default=None, repr=False)


def _staged_hashes(conn, supplier_id: str, ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        rows = conn.execute(
            select(supplier_records.c.external_id, supplier_records.c.payload_hash).where(
                supplier_records.c.supplier_id == supplier_id,
                in_keys(conn, supplier_records.c.external_id, ids[start : start + LOOKUP_CHUNK]),
            )
        )
        found.update((external_id, digest) for external_id, digest in rows)
    return found


def _all_staged_hashes(engine: Engine, supplier_id: str) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(supplier_records.c.external_id, supplier_records.c.payload_hash)
                            .where(supplier_records.c.supplier_id == supplier_id))
        return {external_id: payload_hash for external_id, payload_hash in rows}


def _reject_row(job_id, supplier_id, external_id, rule, message, payload: bytes, now) -> dict:
    return {
        "import_job_id": job_id, "supplier_id": supplier_id, "external_id": external_id, "rule": rule,
        "message": message, "record": payload.decode()[:20000], "created_at": now,
    }


def _regroup(batches: Iterable[list], size: int) -> Iterable[list]:
    group: list = []
    for batch in batches:
        group.extend(batch)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


def _serp_key(record: dict) -> object:
    return record.get("id")


@dataclass
class _StagingJob:
    """One batch of keyed records, for a worker to hash, compare and write (picklable)."""

    supplier_id: str
    job_id: uuid.UUID
    records: list[tuple[str, bytes, object]]  # external id, payload, updatedAt as sent
    rejects: list[dict]
    known: dict[str, str] | None  # the staged hashes of these ids, when read up front


@dataclass
class _StagedPart:
    staged_new: int = 0
    staged_changed: int = 0
    unchanged: int = 0
    max_source_updated_at: datetime | None = None


@fewer_gc_passes()
def stage_batches(engine: Engine, supplier_id: str, batches: Iterable[list], job_id: uuid.UUID,
                  progress: Callable[[StagingResult], None] | None = None, *,
                  key: Callable[[dict], object] = _serp_key, whole_listing: bool = False,
                  workers: int = 1) -> StagingResult:
    """Stage raw records in transactions of about STAGING_BATCH records; returns what happened.

    Keys are checked here, in fetch order (a second occurrence of an id is a reject); hashing,
    comparing and writing run in `workers` processes on PostgreSQL while the next pages arrive.
    key: the record's id at this supplier (SERP `id`, Next Engine `goods_id`, Shopline's GID as a
    plain id); a record without a usable one is rejected.
    whole_listing: the batches are the supplier's whole catalog, so every staged hash is read in
    one narrow scan up front instead of looked up batch by batch."""
    result = StagingResult()
    known = _all_staged_hashes(engine, supplier_id) if whole_listing else None
    if known is not None:
        result.live_before = {external_id for external_id, digest in known.items() if digest != DELETED_HASH}

    def jobs() -> Iterator[_StagingJob]:
        for records in _regroup(batches, STAGING_BATCH):
            keyed, rejects = _key_batch(supplier_id, job_id, records, result, key)
            yield _StagingJob(supplier_id, job_id, keyed, rejects, None if known is None else
                              {external_id: known[external_id] for external_id, _, _ in keyed
                               if external_id in known})

    for part in stream_in_workers(engine, _stage_and_write, jobs(), workers=workers):
        result.staged_new += part.staged_new
        result.staged_changed += part.staged_changed
        result.unchanged += part.unchanged
        result.max_source_updated_at = _later(result.max_source_updated_at, part.max_source_updated_at)
        if progress:
            progress(result)
    if result.staged_new or result.staged_changed:
        with engine.begin() as conn:
            refresh_statistics(conn, supplier_records)
    return result


def _key_batch(supplier_id: str, job_id: uuid.UUID, records: list, result: StagingResult,
               key: Callable[[dict], object]) -> tuple[list[tuple[str, bytes, object]], list[dict]]:
    """The records that can be keyed, as (id, payload, updatedAt); the others as rejects."""
    now = utcnow()
    keyed, rejects = [], []
    for record in records:
        result.fetched += 1
        if isinstance(record, RawRecord):
            external_id, updated_at, payload = record.external_id, record.updated_at, record.payload
        else:
            try:
                external_id = key(record) if isinstance(record, dict) else None
            except (ValueError, KeyError, TypeError):
                external_id = None
            updated_at = record.get("updatedAt") if isinstance(record, dict) else None
            payload = canonical_json(record)
        if not isinstance(external_id, str) or not external_id.strip():
            rejects.append(_reject_row(job_id, supplier_id, None, "id_required",
                                       "record has no usable id and cannot be imported", payload, now))
        elif external_id in result.seen_ids:
            rejects.append(_reject_row(job_id, supplier_id, external_id, "duplicate_id",
                                       f"id {external_id} appeared more than once in one fetch; the first was kept",
                                       payload, now))
        else:
            result.seen_ids.add(external_id)
            keyed.append((external_id, payload, updated_at))
    result.rejected += len(rejects)
    return keyed, rejects


_STAGED_COLUMNS = ("supplier_id", "external_id", "payload", "payload_hash", "source_updated_at", "fetched_at",
                   "deleted_at", "import_job_id")


def _stage_and_write(engine: Engine, job: _StagingJob) -> _StagedPart:
    """Hash each record, keep those whose hash changed, and write them with the rejects in one transaction."""
    now = utcnow()
    part = _StagedPart()
    existing = job.known if job.known is not None else _lookup_hashes(engine, job.supplier_id, job.records)
    rows, is_new = [], []
    for external_id, payload, source_updated_at in job.records:
        payload_hash = hash_bytes(payload)
        updated_at = parse_utc(source_updated_at)
        part.max_source_updated_at = _later(part.max_source_updated_at, updated_at)
        previous = existing.get(external_id)
        if previous == payload_hash:
            part.unchanged += 1
            continue
        is_new.append(previous is None)
        if previous is None:
            part.staged_new += 1
        else:
            part.staged_changed += 1
        rows.append((job.supplier_id, external_id, payload.decode(), payload_hash, updated_at, now, None, job.job_id))
    with bulk_transaction(engine) as conn:
        save_rows(conn, supplier_records, rows, keys=("supplier_id", "external_id"), is_new=is_new,
                  columns=_STAGED_COLUMNS)
        insert_rows(conn, import_rejects, job.rejects)
    return part


def _later(moment: datetime | None, other: datetime | None) -> datetime | None:
    return moment if other is None or (moment is not None and moment >= other) else other


def _lookup_hashes(engine: Engine, supplier_id: str, records: list[tuple[str, bytes, object]]) -> dict[str, str]:
    with engine.connect() as conn:
        return _staged_hashes(conn, supplier_id, [external_id for external_id, _, _ in records])


def tombstone(engine: Engine, supplier_id: str, external_ids: Iterable[str], job_id: uuid.UUID) -> int:
    """Mark staged records deleted at the supplier; downstream archives them."""
    now = utcnow()
    ids = sorted(set(external_ids))
    with engine.begin() as conn:
        live = [
            external_id for external_id, payload_hash in _staged_hashes(conn, supplier_id, ids).items()
            if payload_hash != DELETED_HASH
        ]
        rows = [
            {"supplier_id": supplier_id, "external_id": external_id, "payload": None, "payload_hash": DELETED_HASH,
             "source_updated_at": None, "fetched_at": now, "deleted_at": now, "import_job_id": job_id}
            for external_id in live
        ]
        upsert_rows(conn, supplier_records, rows, keys=("supplier_id", "external_id"))
    return len(rows)


def tombstone_missing(engine: Engine, supplier_id: str, staged: StagingResult, job_id: uuid.UUID,
                      max_archive_fraction: float) -> int:
    """After a complete full listing: every live staged id the supplier no longer lists was deleted.

    The live ids are those staging read up front for a whole listing (every id it staged since
    is among the seen ones), else read now."""
    live = staged.live_before
    if live is None:
        with engine.connect() as conn:
            live = conn.execute(
                select(supplier_records.c.external_id).where(
                    supplier_records.c.supplier_id == supplier_id, supplier_records.c.payload_hash != DELETED_HASH
                )
            ).scalars().all()
    missing = sorted(external_id for external_id in live if external_id not in staged.seen_ids)
    if live and len(missing) > max_archive_fraction * len(live):
        raise MassArchiveRefused(
            f"the full listing of {supplier_id} lacks {len(missing)} of {len(live)} live products "
            f"(more than {max_archive_fraction:.0%}); refusing to archive them. Check the supplier, "
            "then rerun with a higher max_archive_fraction if the deletions are real."
        )
    return tombstone(engine, supplier_id, missing, job_id)

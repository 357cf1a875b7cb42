"""Validate staged records into unified products (asset validated_products); every reject kept.

A valid record's text is made safe for storefronts here (storefront_text), so nothing downstream of
staging ever holds a supplier's markup as it was sent."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import msgspec
import orjson
from sqlalchemy import Engine, Row, and_, or_, select

from commerce_core.bulk_work import fewer_gc_passes, run_chunks
from commerce_core.catalog.models import content_hash
from commerce_core.catalog.pending import KeyRange, in_range, pending_ranges, read_pending
from commerce_core.catalog.serp_mapping import map_serp_record, validate_serp_record
from commerce_core.catalog.storefront_text import storefront_safe
from commerce_core.catalog.supplier_staging import DELETED_HASH
from commerce_core.db.cursors import utcnow
from commerce_core.db.bulk import bulk_transaction, insert_rows, refresh_statistics, save_rows
from commerce_core.db.schema import import_rejects, supplier_records, validated_products

Mapper = Callable[[dict], dict]
Validator = Callable[[object], list]
SAMPLES = 10


@dataclass
class ValidationResult:
    processed: int = 0
    valid: int = 0
    rejected: int = 0
    deleted: int = 0
    samples: list = field(default_factory=list, repr=False)  # the first valid products, for a preview

    def add(self, part: ValidationResult) -> None:
        self.processed += part.processed
        self.valid += part.valid
        self.rejected += part.rejected
        self.deleted += part.deleted
        self.samples += part.samples[: SAMPLES - len(self.samples)]

    @property
    def reject_rate(self) -> float:
        checked = self.valid + self.rejected
        return self.rejected / checked if checked else 0.0


def pending_records(supplier_id: str, key_range: KeyRange | None = None):
    staged, validated = supplier_records, validated_products
    return select(
        staged.c.external_id, staged.c.payload, staged.c.payload_hash,
        validated.c.external_id.is_(None).label("is_new"),
    ).select_from(
        staged.outerjoin(
            validated,
            and_(validated.c.supplier_id == staged.c.supplier_id, validated.c.external_id == staged.c.external_id,
                 in_range(validated.c.external_id, key_range)),
        )
    ).where(
        staged.c.supplier_id == supplier_id,
        in_range(staged.c.external_id, key_range),
        or_(validated.c.external_id.is_(None), validated.c.source_hash != staged.c.payload_hash),
    )


@fewer_gc_passes()
def validate_pending(engine: Engine, supplier_id: str, job_id: uuid.UUID, *, batch_size: int = 10_000,
                     workers: int = 1, validate: Validator = validate_serp_record, mapper: Mapper = map_serp_record,
                     progress: Callable[[ValidationResult], None] | None = None) -> ValidationResult:
    """Validate every pending record, a transaction per batch; on PostgreSQL in `workers` processes
    (validate and mapper must then be module-level functions)."""
    result = ValidationResult()
    chunks = pending_ranges(engine, pending_records(supplier_id), supplier_records.c.external_id, batch_size,
                            stage_table=validated_products, supplier_id=supplier_id, workers=workers)
    work = partial(_validate_chunk, supplier_id, job_id, validate, mapper)
    for part in run_chunks(engine, work, chunks, workers=workers):
        result.add(part)
        if progress:
            progress(result)
    if result.processed:
        with engine.begin() as conn:
            refresh_statistics(conn, validated_products)
    return result


def _validate_chunk(supplier_id: str, job_id: uuid.UUID, validate: Validator, mapper: Mapper, engine: Engine,
                    key_range: KeyRange) -> ValidationResult:
    batch = read_pending(engine, pending_records(supplier_id, key_range), supplier_records.c.external_id)
    part = ValidationResult()
    if not batch:  # nothing in this range changed
        return part
    rows, rejects = _validate_batch(supplier_id, job_id, batch, validate, mapper, part)
    _write_batch(engine, batch, rows, rejects)
    return part


def _validate_batch(supplier_id: str, job_id: uuid.UUID, batch: list[Row], validate: Validator, mapper: Mapper,
                    result: ValidationResult) -> tuple[list[dict], list[dict]]:
    now = utcnow()
    rows, rejects = [], []
    for staged in batch:
        result.processed += 1
        row = {"supplier_id": supplier_id, "external_id": staged.external_id,
               "source_hash": staged.payload_hash, "validated_at": now, "import_job_id": job_id}
        if staged.payload_hash == DELETED_HASH:
            result.deleted += 1
            rows.append({**row, "outcome": "deleted", "product": None, "content_hash": DELETED_HASH})
            continue
        record = msgspec.json.decode(staged.payload)
        violations = validate(record)
        if not violations:
            product, violations = storefront_safe(mapper(record))
        if violations:
            result.rejected += 1
            rows.append({**row, "outcome": "rejected", "product": None, "content_hash": "rejected"})
            rejects.extend(
                {"import_job_id": job_id, "supplier_id": supplier_id, "external_id": staged.external_id,
                 "rule": v.rule, "message": v.message, "record": staged.payload[:20000], "created_at": now}
                for v in violations
            )
            continue
        result.valid += 1
        rows.append({**row, "outcome": "valid", "product": orjson.dumps(product).decode(),
                     "content_hash": content_hash(product)})
        if len(result.samples) < SAMPLES:
            result.samples.append(product)
    return rows, rejects


def _write_batch(engine: Engine, batch: list[Row], rows: list[dict], rejects: list[dict]) -> None:
    with bulk_transaction(engine) as conn:
        save_rows(conn, validated_products, rows, keys=("supplier_id", "external_id"),
                  is_new=[staged.is_new for staged in batch])
        insert_rows(conn, import_rejects, rejects)

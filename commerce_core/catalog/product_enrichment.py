"""Enrich validated products (asset enriched_products).

The stage stores the enrichment only (cleaned description, tags, catalog
translations, missing languages); the central catalog joins it to the
validated product. Costly enrichers (the LLM) are cached by the hash of the
enrichable text, so a price or seat change never pays for a translation again. A product whose
enrichment fails is kept with its original content and stays pending, so the
next run tries again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import msgspec
import orjson
from sqlalchemy import Engine, Row, and_, or_, select

from commerce_core.bulk_work import fewer_gc_passes, run_chunks
from commerce_core.catalog.enrichment import CATALOG_LANGUAGES, EnrichableText, Enricher, Enrichment, text_hash
from commerce_core.catalog.models import canonical_json, hash_bytes
from commerce_core.catalog.pending import KeyRange, in_range, pending_ranges, read_pending
from commerce_core.catalog.supplier_staging import DELETED_HASH
from commerce_core.db.cursors import utcnow
from commerce_core.db.bulk import bulk_transaction, refresh_statistics, save_rows, upsert_rows
from commerce_core.db.lookup import in_keys
from commerce_core.db.schema import enriched_products, enrichment_cache, validated_products

FAILED_SOURCE_HASH = "failed"
# Failures named in the result (the counts cover all).
FAILURES_KEPT = 20


@dataclass
class EnrichmentResult:
    processed: int = 0
    enriched: int = 0
    failed: int = 0
    deleted: int = 0
    cache_hits: int = 0
    missing_languages: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def add(self, part: EnrichmentResult) -> None:
        for name in ("processed", "enriched", "failed", "deleted", "cache_hits"):
            setattr(self, name, getattr(self, name) + getattr(part, name))
        for language, count in part.missing_languages.items():
            self.missing_languages[language] = self.missing_languages.get(language, 0) + count
        self.failures += part.failures[: FAILURES_KEPT - len(self.failures)]


def pending_products(supplier_id: str, key_range: KeyRange | None = None):
    validated, enriched = validated_products, enriched_products
    return select(
        validated.c.external_id, validated.c.product, validated.c.content_hash, validated.c.outcome,
        enriched.c.external_id.is_(None).label("is_new"),
    ).select_from(
        validated.outerjoin(
            enriched,
            and_(enriched.c.supplier_id == validated.c.supplier_id, enriched.c.external_id == validated.c.external_id,
                 in_range(enriched.c.external_id, key_range)),
        )
    ).where(
        validated.c.supplier_id == supplier_id,
        in_range(validated.c.external_id, key_range),
        validated.c.outcome.in_(("valid", "deleted")),
        or_(enriched.c.external_id.is_(None), enriched.c.source_hash != validated.c.content_hash),
    )


def _cached(engine: Engine, enricher: Enricher, hashes: set[str]) -> dict[str, Enrichment]:
    found: dict[str, Enrichment] = {}
    keys = sorted(hashes)
    with engine.connect() as conn:
        for start in range(0, len(keys), 500):
            rows = conn.execute(
                select(enrichment_cache.c.text_hash, enrichment_cache.c.result).where(
                    enrichment_cache.c.enricher == enricher.name,
                    in_keys(conn, enrichment_cache.c.text_hash, keys[start : start + 500]),
                )
            )
            found.update((digest, orjson.loads(result)) for digest, result in rows)
    return found


# The product's enrichable fields only, straight from its JSON: half the cost of parsing it whole.
_decode_enrichable_text = msgspec.json.Decoder(EnrichableText).decode

ORIGINAL: Enrichment = {"enrichedDescription": None, "tags": [], "catalogTranslations": {},
                        "missingLanguages": list(CATALOG_LANGUAGES)}


def enriched_content_hash(product_hash: str, enrichment_json: bytes) -> str:
    """What the central catalog compares: the validated product and its enrichment together."""
    return hash_bytes(product_hash.encode() + b":" + enrichment_json)


@fewer_gc_passes()
def enrich_pending(engine: Engine, supplier_id: str, job_id: uuid.UUID, enricher: Enricher, *,
                   batch_size: int = 10_000, concurrency: int = 1, workers: int = 1,
                   progress: Callable[[EnrichmentResult], None] | None = None) -> EnrichmentResult:
    """Store each pending product's enrichment (not the product again: central_catalog joins the two).

    A costly enricher (it waits on the network) runs here with `concurrency` threads; any
    other is CPU-bound and runs in `workers` processes on PostgreSQL (it must be picklable)."""
    result = EnrichmentResult()
    chunks = pending_ranges(engine, pending_products(supplier_id), validated_products.c.external_id, batch_size,
                            stage_table=enriched_products, supplier_id=supplier_id, workers=workers)
    pool = ThreadPoolExecutor(max_workers=concurrency) if enricher.costly and concurrency > 1 else None
    try:
        work = partial(_enrich_chunk, supplier_id, job_id, enricher, pool)
        for part in run_chunks(engine, work, chunks, workers=1 if enricher.costly else workers):
            result.add(part)
            if progress:
                progress(result)
    finally:
        if pool:
            pool.shutdown()
    if result.processed:
        with engine.begin() as conn:
            refresh_statistics(conn, enriched_products)
    return result


def _enrich_chunk(supplier_id: str, job_id: uuid.UUID, enricher: Enricher, pool: ThreadPoolExecutor | None,
                  engine: Engine, key_range: KeyRange) -> EnrichmentResult:
    batch = read_pending(engine, pending_products(supplier_id, key_range), validated_products.c.external_id)
    part = EnrichmentResult()
    if not batch:  # nothing in this range changed
        return part
    rows, computed = _enrich_batch(engine, supplier_id, job_id, enricher, batch, pool, part)
    _write_batch(engine, enricher, batch, rows, computed)
    return part


def _enrich_batch(engine: Engine, supplier_id: str, job_id: uuid.UUID, enricher: Enricher, batch: list[Row],
                  pool: ThreadPoolExecutor | None, result: EnrichmentResult) -> tuple[list[dict], dict]:
    now = utcnow()
    texts = {row.external_id: _decode_enrichable_text(row.product) for row in batch if row.outcome == "valid"}
    if enricher.costly:  # worth a cache: its work is keyed by the hash of the text
        work_keys = {external_id: text_hash(text) for external_id, text in texts.items()}
        known = _cached(engine, enricher, set(work_keys.values()))
    else:  # cheaper to run than to hash: keyed by product
        work_keys, known = {external_id: external_id for external_id in texts}, {}
    result.cache_hits += sum(1 for key in work_keys.values() if key in known)
    to_compute = {key: texts[external_id] for external_id, key in work_keys.items() if key not in known}

    def attempt(item):
        key, text = item
        try:
            return key, enricher.enrich(text), None
        except Exception as error:  # one product's failure must not stop the batch
            return key, None, f"{type(error).__name__}: {error}"

    outcomes = list(pool.map(attempt, to_compute.items()) if pool else map(attempt, to_compute.items()))
    computed = {key: enrichment for key, enrichment, error in outcomes if enrichment is not None}
    errors = {key: error for key, _, error in outcomes if error is not None}

    rows = []
    base = {"supplier_id": supplier_id, "enriched_at": now, "import_job_id": job_id}
    for row in batch:
        result.processed += 1
        external_id = row.external_id
        if row.outcome == "deleted":
            result.deleted += 1
            rows.append({**base, "external_id": external_id, "source_hash": row.content_hash,
                         "outcome": "deleted", "enrichment": None, "content_hash": DELETED_HASH})
            continue
        key = work_keys[external_id]
        enrichment = known.get(key) or computed.get(key)
        if enrichment is None:
            result.failed += 1
            if len(result.failures) < FAILURES_KEPT:
                result.failures.append(f"{external_id}: {errors.get(key)}")
            enrichment, outcome, source_hash = ORIGINAL, "original", FAILED_SOURCE_HASH
        else:
            result.enriched += 1
            outcome, source_hash = "enriched", row.content_hash
        for language in enrichment["missingLanguages"]:
            result.missing_languages[language] = result.missing_languages.get(language, 0) + 1
        enrichment_json = canonical_json(enrichment)
        rows.append({**base, "external_id": external_id, "source_hash": source_hash, "outcome": outcome,
                     "enrichment": enrichment_json.decode(),
                     "content_hash": enriched_content_hash(row.content_hash, enrichment_json)})
    return rows, computed


def _write_batch(engine: Engine, enricher: Enricher, batch: list[Row], rows: list[dict], computed: dict) -> None:
    now = utcnow()
    with bulk_transaction(engine) as conn:
        new_ids = {row.external_id for row in batch if row.is_new}
        save_rows(conn, enriched_products, rows, keys=("supplier_id", "external_id"),
                  is_new=[row["external_id"] in new_ids for row in rows])
        if enricher.costly and computed:
            upsert_rows(conn, enrichment_cache, [
                {"text_hash": digest, "enricher": enricher.name,
                 "result": orjson.dumps(enrichment).decode(), "created_at": now}
                for digest, enrichment in computed.items()
            ], keys=("text_hash", "enricher"))

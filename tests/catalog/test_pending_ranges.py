"""pending_ranges: every upstream key on a stage's first import, only the pending ones after; ranges in rounds."""

from __future__ import annotations

from datetime import datetime, timezone

from commerce_core.catalog.pending import pending_ranges
from commerce_core.catalog.product_validation import pending_records
from commerce_core.db.bulk import insert_rows
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import supplier_records, validated_products

NOW = datetime(2026, 11, 21, tzinfo=timezone.utc)
KEYS = [f"S-{n:03d}" for n in range(25)]


def _ranges(engine, *, size: int, workers: int):
    return pending_ranges(engine, pending_records("SERP"), supplier_records.c.external_id, size,
                          stage_table=validated_products, supplier_id="SERP", workers=workers)


def test_first_import_ranges_cover_every_key_in_equal_rounds_then_only_pending_keys(database_url: str) -> None:
    engine = get_engine(database_url)
    with engine.begin() as conn:
        insert_rows(conn, supplier_records, [
            {"supplier_id": supplier, "external_id": key, "payload": "{}", "payload_hash": f"h-{key}",
             "fetched_at": NOW} for supplier in ("SERP", "OTHER") for key in KEYS])
    # Nothing validated yet: all 25 keys; 3 ranges of 10 become 4 (two rounds of two workers) of 7;
    # one worker: 3 of 9.
    assert _ranges(engine, size=10, workers=2) == [("S-000", "S-006"), ("S-007", "S-013"), ("S-014", "S-020"),
                                                   ("S-021", "S-024")]
    assert _ranges(engine, size=10, workers=1) == [("S-000", "S-008"), ("S-009", "S-017"), ("S-018", "S-024")]
    with engine.begin() as conn:
        # The first 20 are validated from the records as they are; S-005 from an older version.
        insert_rows(conn, validated_products, [
            {"supplier_id": "SERP", "external_id": key, "source_hash": "old" if key == "S-005" else f"h-{key}",
             "outcome": "valid", "product": "{}", "content_hash": "c", "validated_at": NOW} for key in KEYS[:20]])
    # Pending now: S-005 and S-020..S-024, six keys.
    assert _ranges(engine, size=10, workers=2) == [("S-005", "S-024")]
    assert _ranges(engine, size=4, workers=2) == [("S-005", "S-021"), ("S-022", "S-024")]

"""Import job rows (the GlobalHub design's ImportJob, docs/background.md): the audit trail of every catalog run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, select

from commerce_core.db.cursors import utcnow
from commerce_core.db.schema import import_jobs, supplier_records

TRIGGERS = ("schedule", "webhook", "manual")
MODES = ("full", "incremental", "ids", "reprocess")
COUNT_FIELDS = (
    "fetched_count", "valid_count", "rejected_count", "enriched_count", "enrichment_failed_count",
    "inserted_count", "updated_count", "unchanged_count", "archived_count",
)


def start_job(conn: Connection, *, supplier_id: str, mode: str, trigger: str, requested_by: str | None = None,
              product_ids: list[str] | None = None, run_id: str | None = None) -> uuid.UUID:
    if mode not in MODES:
        raise ValueError(f"import mode must be one of {MODES}, got {mode!r}")
    if trigger not in TRIGGERS:
        raise ValueError(f"import trigger must be one of {TRIGGERS}, got {trigger!r}")
    job_id = uuid.uuid4()
    conn.execute(
        import_jobs.insert().values(
            id=job_id, supplier_id=supplier_id, mode=mode, trigger=trigger, requested_by=requested_by,
            product_ids=product_ids or None, status="running", dagster_run_id=run_id, created_at=utcnow(),
            **{field: 0 for field in COUNT_FIELDS},
        )
    )
    return job_id


def find_job_for_run(conn: Connection, *, supplier_id: str, run_id: str) -> uuid.UUID | None:
    return conn.execute(
        select(import_jobs.c.id)
        .where(import_jobs.c.dagster_run_id == run_id, import_jobs.c.supplier_id == supplier_id)
        .order_by(import_jobs.c.created_at.desc())
        .limit(1)
    ).scalar()


def job_for_run(conn: Connection, *, supplier_id: str, run_id: str, trigger: str) -> uuid.UUID:
    """The run's import job; a run that starts below the raw asset records a reprocess job."""
    existing = find_job_for_run(conn, supplier_id=supplier_id, run_id=run_id)
    if existing is not None:
        return existing
    return start_job(conn, supplier_id=supplier_id, mode="reprocess", trigger=trigger, run_id=run_id)


def record_counts(conn: Connection, job_id: uuid.UUID, **counts: int) -> None:
    unknown = set(counts) - set(COUNT_FIELDS)
    if unknown:
        raise ValueError(f"unknown import job counts: {sorted(unknown)}")
    conn.execute(import_jobs.update().where(import_jobs.c.id == job_id).values(**counts))


def finish_job(conn: Connection, job_id: uuid.UUID, *, error: str | None = None) -> None:
    conn.execute(
        import_jobs.update()
        .where(import_jobs.c.id == job_id)
        .values(status="failed" if error else "succeeded", error_message=error, completed_at=utcnow())
    )


def get_job(conn: Connection, job_id: uuid.UUID) -> dict:
    return dict(conn.execute(select(import_jobs).where(import_jobs.c.id == job_id)).mappings().one())


def staged_by_run(conn: Connection, *, supplier_id: str, run_id: str) -> list[str]:
    """External ids whose staged record the run's import wrote (new, changed or deleted at the source)."""
    job_id = find_job_for_run(conn, supplier_id=supplier_id, run_id=run_id)
    if job_id is None:
        return []
    return list(conn.execute(
        select(supplier_records.c.external_id)
        .where(supplier_records.c.supplier_id == supplier_id, supplier_records.c.import_job_id == job_id)
        .order_by(supplier_records.c.external_id)
    ).scalars())


@contextmanager
def failure_recorded(engine: Engine, job_id: uuid.UUID, stage: str) -> Iterator[None]:
    """A failure inside the block is written on the import job, then propagates."""
    try:
        yield
    except Exception as error:
        with engine.begin() as conn:
            finish_job(conn, job_id, error=f"{stage}: {type(error).__name__}: {error}")
        raise

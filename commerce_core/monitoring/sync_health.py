"""GET /health/sync (GlobalHub design: 健康檢查, docs/background.md): is the catalog being fed and are the
regions being served?

SERP: Critical when there was never a successful import, Warning past 2 hours.
Each enabled region: Warning when it never had a successful sync or the last one
is older than 4 hours. Plus the database, Redis (when configured) and the
dead-letter backlog (Warning from 100 waiting deliveries). The overall status is
the worst check; Critical answers 503, everything else 200.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from commerce_core.db.schema import dead_letters, import_jobs, region_sync_logs

SERP_WARNING_AFTER = timedelta(hours=2)
REGION_WARNING_AFTER = timedelta(hours=4)
DEAD_LETTER_WARNING = 100
RANK = {"Healthy": 0, "Warning": 1, "Critical": 2}


def _check(name: str, status: str, message: str, last_run: datetime | None = None, **details) -> dict:
    return {"name": name, "status": status, "message": message,
            "lastRun": last_run.isoformat() if last_run else None, "details": details}


def _age_check(name: str, last: datetime | None, now: datetime, warn_after: timedelta, never: str,
               never_status: str, **details) -> dict:
    if last is None:
        return _check(name, never_status, never)
    age = now - last
    status = "Warning" if age > warn_after else "Healthy"
    return _check(name, status, f"Last sync: {age.total_seconds() / 60:.1f} minutes ago", last, **details)


def sync_health(engine: Engine, region_codes: Sequence[str], now: datetime,
                redis_reachable: bool | None = None) -> tuple[int, dict]:
    """(HTTP status, body) for /health/sync; `redis_reachable` None means no Redis is configured."""
    checks = []
    try:
        with engine.connect() as conn:
            serp = conn.execute(
                select(import_jobs.c.completed_at, import_jobs.c.created_at, import_jobs.c.inserted_count,
                       import_jobs.c.updated_count, import_jobs.c.rejected_count)
                .where(import_jobs.c.supplier_id == "SERP", import_jobs.c.status == "succeeded")
                .order_by(import_jobs.c.completed_at.desc()).limit(1)).first()
            checks.append(_age_check(
                "SERP Sync", serp.completed_at if serp else None, now, SERP_WARNING_AFTER,
                "No successful SERP sync found", "Critical",
                **({"productsImported": serp.inserted_count + serp.updated_count, "failedCount": serp.rejected_count,
                    "durationSeconds": round((serp.completed_at - serp.created_at).total_seconds(), 1)}
                   if serp else {})))
            for code in region_codes:
                last = conn.execute(
                    select(region_sync_logs.c.completed_at, region_sync_logs.c.started_at,
                           region_sync_logs.c.sent_count, region_sync_logs.c.failed_count)
                    .where(region_sync_logs.c.region_code == code, region_sync_logs.c.status == "succeeded")
                    .order_by(region_sync_logs.c.completed_at.desc()).limit(1)).first()
                checks.append(_age_check(
                    f"Region {code}", last.completed_at if last else None, now, REGION_WARNING_AFTER,
                    f"No successful sync to {code} found", "Warning",
                    **({"productsSynced": last.sent_count, "failedCount": last.failed_count,
                        "durationSeconds": round((last.completed_at - last.started_at).total_seconds(), 1)}
                       if last else {})))
            backlog = conn.execute(select(func.count()).select_from(dead_letters)).scalar_one()
        checks.append(_check("Database", "Healthy", "reachable"))
        checks.append(_check("Dead letters", "Warning" if backlog >= DEAD_LETTER_WARNING else "Healthy",
                             f"{backlog} deliveries waiting for a retry", waiting=backlog))
    except Exception as error:  # noqa: BLE001 - an unreachable database is the answer, not a crash
        checks.append(_check("Database", "Critical", f"unreachable: {type(error).__name__}"))
    if redis_reachable is not None:
        checks.append(_check("Redis", "Healthy" if redis_reachable else "Critical",
                             "reachable" if redis_reachable else "unreachable"))
    overall = max((check["status"] for check in checks), key=RANK.__getitem__)
    body = {"overallStatus": overall, "timestamp": now.isoformat(), "checks": checks}
    return (503 if overall == "Critical" else 200), body

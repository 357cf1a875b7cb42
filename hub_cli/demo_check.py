"""`hub demo --check`: the whole system once, headless, ending with a summary table and PASS or FAIL.

Each step is a Dagster run launched through Dagster's CLI, as a user would;
Dagster's event stream goes to a log file whose path is printed, and the
console shows one line per step. At the end the demo's promises are checked in
the data itself: the stock pushes seen by the stock service, every region
holding every published product, every demo invoice confirmed by Turnkey.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

REPO = Path(__file__).resolve().parent.parent
TAIPEI = ZoneInfo("Asia/Taipei")


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float | None
    counts: str


def _dagster(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "dagster", *arguments, "-m", "definitions", "-d", str(REPO)]


def _runs(region_codes: list[str]) -> list[tuple[str, list[str]]]:
    """(step name, command): full imports, orders, every region, stock, e-invoicing through Turnkey."""
    today = f"{datetime.now(TAIPEI):%Y-%m-%d}"
    steps = [(job, _dagster("job", "execute", "-j", job))
             for job in ("serp_full_import", "nextengine_import", "shopline_import", "orders_import")]
    steps += [(f"regional_snapshots {code}", _dagster("asset", "materialize", "--select", "regional_snapshots",
                                                      "--partition", code)) for code in region_codes]
    steps += [(job, _dagster("job", "execute", "-j", job))
              for job in ("stock_check", "number_pool_import", "invoice_upload")]
    steps.append((f"invoice_batches {today}", _dagster("asset", "materialize", "--select", "invoice_batches",
                                                       "--partition", today)))
    return steps


def _row_counts(run_started: float) -> str:
    """What the newest run materialized: each asset and its row count."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.get() as instance:
        records = instance.get_run_records(limit=1)
        if not records or records[0].create_timestamp.timestamp() < run_started - 1:
            return "no run recorded"
        events = instance.all_logs(records[0].dagster_run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    counts = []
    for event in events:
        materialization = event.asset_materialization
        rows = materialization.metadata.get("dagster/row_count")
        counts.append(f"{materialization.asset_key.to_user_string()} {rows.value if rows else '-'}")
    return " · ".join(counts) or "nothing materialized"


def _run_step(name: str, command: list[str], env: dict[str, str], log_path: Path) -> Step:
    started_wall, started = time.time(), time.perf_counter()
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n===== {name}: {' '.join(command)}\n")
        log.flush()
        returncode = subprocess.run(command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - started
    step = Step(name, returncode == 0, seconds, _row_counts(started_wall))
    print(f"[hub] {name}: {'ok' if step.ok else 'FAILED'} in {seconds:.1f} s — {step.counts}", flush=True)
    return step


def _stock_pushes(env: dict[str, str]) -> Step:
    """Two goods change in the Next Engine simulator: their stock pushes must be accepted by the stock
    service and show there as the goods' available stock."""
    started = time.perf_counter()
    answer = httpx.post(f"{env['NEXTENGINE_BASE_URL']}/_sim/change", json={"count": 2}, timeout=30).json()
    pushed = {d["params"]["Code"]: int(d["params"]["Stock"]) for d in answer["pushes"] if d["delivered"]}
    shown = {code: httpx.get(f"{env['STOCK_SERVICE_URL']}/stock/{code}", timeout=10).json().get("available")
             for code in answer["changed"]}
    ok = len(answer["changed"]) == 2 and shown == pushed
    step = Step("Next Engine stock pushes", ok, time.perf_counter() - started,
                f"pushed {pushed}, the stock service shows {shown}")
    print(f"[hub] {step.name}: {'ok' if ok else 'MISMATCH'} — {step.counts}", flush=True)
    return step


def _promises(database_url: str, region_codes: list[str], expected_invoices: int) -> list[Step]:
    """What the demo promises, read from the catalog database."""
    from sqlalchemy import func, select

    from commerce_core.db.engine import get_engine
    from commerce_core.db.schema import invoices, products, region_deliveries

    with get_engine(database_url).connect() as conn:
        published = conn.execute(select(func.count()).select_from(products)
                                 .where(products.c.is_active, products.c.status == "Published")).scalar_one()
        delivered = dict(conn.execute(select(region_deliveries.c.region_code, func.count())
                                      .group_by(region_deliveries.c.region_code)).all())
        by_status = dict(conn.execute(select(invoices.c.status, func.count()).group_by(invoices.c.status)).all())
    confirmed = by_status.get("confirmed", 0)
    regions_ok = published > 0 and all(delivered.get(code) == published for code in region_codes)
    return [
        Step("every region holds every published product", regions_ok, None,
             f"{published} published; " + ", ".join(f"{code} {delivered.get(code, 0)}" for code in region_codes)),
        Step("e-invoices confirmed by Turnkey", confirmed == expected_invoices and len(by_status) == 1, None,
             f"{confirmed} of {expected_invoices} confirmed"
             + "".join(f", {count} {status}" for status, count in by_status.items() if status != "confirmed")),
    ]


def _wait_until_turnkey_took_everything(root: Path, timeout: float = 30.0) -> None:
    from commerce_core.einvoice.turnkey import TurnkeyFolders

    src = TurnkeyFolders(root).src
    deadline = time.monotonic() + timeout
    while any(src.glob("*.xml")) and time.monotonic() < deadline:
        time.sleep(0.5)


def print_summary(steps: list[Step], log_path: Path) -> bool:
    passed = all(step.ok for step in steps)
    width = max(len(step.name) for step in steps)
    print(f"\n[hub] summary (Dagster's event stream: {log_path})", flush=True)
    print(f"  {'step'.ljust(width)}  outcome  time     counts")
    for step in steps:
        seconds = f"{step.seconds:6.1f} s" if step.seconds is not None else " " * 8
        print(f"  {step.name.ljust(width)}  {'ok     ' if step.ok else 'FAILED '}  {seconds} {step.counts}")
    failed = [step.name for step in steps if not step.ok]
    print("PASS: every step succeeded and every promise holds" if passed
          else f"FAIL: {', '.join(failed)} (see {log_path})", flush=True)
    return passed


def run_check(env: dict[str, str], region_codes: list[str], *, database_url: str, turnkey_root: Path,
              expected_invoices: int, log_dir: Path, check_stock_pushes: bool) -> int:
    log_path = log_dir / f"check-{datetime.now():%Y%m%d-%H%M%S}.log"
    print(f"[hub] check: Dagster's event stream goes to {log_path}", flush=True)
    steps = [_stock_pushes(env)] if check_stock_pushes else []
    for name, command in _runs(region_codes):
        steps.append(_run_step(name, command, env, log_path))
        if not steps[-1].ok:
            break
    if all(step.ok for step in steps):
        _wait_until_turnkey_took_everything(turnkey_root)
        steps.append(_run_step("turnkey_results_check", _dagster("job", "execute", "-j", "turnkey_results_check"),
                               env, log_path))
        steps += _promises(database_url, region_codes, expected_invoices)
    return 0 if print_summary(steps, log_path) else 1

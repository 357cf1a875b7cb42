"""Runs launched the way users launch them, on PostgreSQL: they end, and leave no process behind.

A Dagster instance stored in PostgreSQL (dagster_postgres.yaml), the catalog in
PostgreSQL (so the stages use their worker processes), and Dagster's default
multiprocess executor: each step in a process of its own, launched through
`execute_job(reconstructable(...))` and through the `dagster` CLI. Every launch
has a deadline that fails the test when the run does not end; every process the
run started is recorded while it runs and must be gone after it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, execute_job, reconstructable
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from commerce_core.db.engine import get_engine
from commerce_core.db.migrate import upgrade
from commerce_core.db.schema import invoices, products
from hub_cli.processes import descendants, is_running
from tests.conftest import PG_URL, SERP_KEY
from tests.einvoice.helpers import SELLER_A, SELLER_B, consumer_rows, csv_bytes, drop_file, tenant_with_pool

REPO = Path(__file__).resolve().parents[1]
RUN_DEADLINE_SECONDS = 300
INVOICE_DAY = "2025-01-15"


def serp_full_import():
    """The job as the code location defines it (reconstructed in each step process from this pointer)."""
    from definitions import defs

    return defs.resolve_job_def("serp_full_import")


def invoice_batch():
    from definitions import defs

    return defs.resolve_job_def("invoice_batch")


def _is_own_resource_tracker(pid: int) -> bool:
    """multiprocessing's resource tracker of this (test) process: one per launching process, started with
    its first spawned child and ended with it, so it is not the run's to stop."""
    try:
        command = (Path("/proc") / str(pid) / "cmdline").read_bytes()
        parent = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return False
    return b"resource_tracker" in command and parent == os.getpid()


def left_behind(pids: set[int], grace: float = 20.0) -> set[int]:
    pids = {pid for pid in pids if not _is_own_resource_tracker(pid)}
    deadline = time.monotonic() + grace
    while (living := {pid for pid in pids if is_running(pid)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    return living


class ProcessWatch:
    """Records every descendant of `pid` while it runs (a process that outlives its parent is re-parented
    away from the tree, so it must be seen before that)."""

    def __init__(self, pid: int):
        self.pid, self.seen, self._stop = pid, set(), threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.seen |= descendants(self.pid)
            time.sleep(0.05)

    def stop(self) -> set[int]:
        self._stop.set()
        self._thread.join()
        return self.seen


@pytest.fixture
def launch_env(monkeypatch, tmp_path, postgres_schema, serp_simulator) -> Callable[..., dict[str, str]]:
    """A user's PostgreSQL setup: DAGSTER_HOME with dagster_postgres.yaml on a fresh database, the catalog
    migrated in its own schema, the SERP simulator; returns the environment (also set in os.environ)."""
    dagster_db = f"hub_dagster_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {dagster_db}")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_postgres.yaml", home / "dagster.yaml")
    url = make_url(PG_URL)
    upgrade(postgres_schema)

    def start(**serp_faults) -> dict[str, str]:
        served, _ = serp_simulator(products=1500, **serp_faults)
        env = {"DAGSTER_HOME": str(home), "DAGSTER_PG_HOST": url.host, "DAGSTER_PG_PORT": str(url.port or 5432),
               "DAGSTER_PG_USER": url.username, "DAGSTER_PG_PASSWORD": url.password or "", "DAGSTER_PG_DB": dagster_db,
               "HUB_DATABASE_URL": postgres_schema, "HUB_DATA_DIR": str(tmp_path / "hub"),
               "SERP_BASE_URL": served.url, "SERP_API_KEY": SERP_KEY}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return env

    yield start
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {dagster_db} WITH (FORCE)")
    admin.dispose()


def run_in_thread_with_deadline(launch: Callable[[], object]) -> object:
    """launch() in a thread; the test fails when it has not returned by the deadline."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = launch()
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = error

    before = descendants(os.getpid())
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(RUN_DEADLINE_SECONDS)
    if thread.is_alive():  # kill what the run started, or this test process would wait for it at exit
        for pid in descendants(os.getpid()) - before:
            os.kill(pid, signal.SIGKILL)
        pytest.fail(f"the run did not end within {RUN_DEADLINE_SECONDS} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def dagster_cli(env: dict[str, str], *arguments: str) -> tuple[subprocess.CompletedProcess, set[int]]:
    """A `dagster` command as a user types it, with the deadline; returns it and every process it started."""
    process = subprocess.Popen([sys.executable, "-m", "dagster", *arguments, "-m", "definitions", "-d", str(REPO)],
                               cwd=REPO, env={**os.environ, **env}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    watch = ProcessWatch(process.pid)
    try:
        output, _ = process.communicate(timeout=RUN_DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        for pid in watch.stop():
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)
        pytest.fail(f"`dagster {' '.join(arguments)}` did not end within {RUN_DEADLINE_SECONDS} s")
    return subprocess.CompletedProcess(process.args, process.returncode, output), watch.stop()


def catalog_count(database_url: str) -> int:
    with get_engine(database_url).connect() as conn:
        return conn.execute(select(func.count()).select_from(products)).scalar_one()


def test_catalog_job_through_execute_job_on_a_postgres_instance_ends_and_leaves_no_process(launch_env):
    env = launch_env()
    before = descendants(os.getpid())
    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        watch = ProcessWatch(os.getpid())
        result = run_in_thread_with_deadline(lambda: execute_job(reconstructable(serp_full_import), instance=instance))
        started = watch.stop() - before
    assert result.success
    assert catalog_count(env["HUB_DATABASE_URL"]) == 1500
    assert len(started) >= 3, "step processes and their workers"
    assert not left_behind(started), "processes the run started are still alive"


def test_catalog_materialized_through_the_cli_ends_and_leaves_no_process(launch_env):
    env = launch_env()
    done, started = dagster_cli(env, "asset", "materialize", "--select",
                                "serp_products,validated_products,enriched_products,central_catalog")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "RUN_SUCCESS" in done.stdout
    assert catalog_count(env["HUB_DATABASE_URL"]) == 1500
    assert len(started) >= 3, "a step process and its two workers at least"
    assert not left_behind(started), "processes the run started are still alive"


def test_invoice_jobs_through_the_cli_and_execute_job_end_and_leave_no_process(launch_env):
    env = launch_env()
    engine = get_engine(env["HUB_DATABASE_URL"])
    for ban in (SELLER_A, SELLER_B):  # two tenants and two files: the work goes to the worker processes
        tenant_with_pool(engine, ban, period="11402", track="AB" if ban == SELLER_A else "XY", size=200)
        for part in ("a", "b"):
            drop_file(Path(env["HUB_DATA_DIR"]) / "uploads" / ban / "invoices", f"{part}.csv",
                      csv_bytes(consumer_rows(ban, 20, day=INVOICE_DAY, prefix=f"{part.upper()}-")))
    taken, started = dagster_cli(env, "job", "execute", "-j", "invoice_upload")
    assert taken.returncode == 0, taken.stdout[-3000:]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(invoices)).scalar_one() == 80
    before = descendants(os.getpid())
    with DagsterInstance.get() as instance:
        watch = ProcessWatch(os.getpid())
        result = run_in_thread_with_deadline(lambda: execute_job(
            reconstructable(invoice_batch), instance=instance, tags={"dagster/partition": INVOICE_DAY}))
        started |= watch.stop() - before
    assert result.success
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(invoices)
                            .where(invoices.c.invoice_number.is_not(None))).scalar_one() == 80
    assert not left_behind(started), "processes the runs started are still alive"


def test_a_run_cancelled_mid_stage_stops_and_leaves_no_process(launch_env):
    """Cancelling a run interrupts its run worker (Dagster's launchers send SIGTERM); while serp_products is
    fetching slow pages with its workers started, that must end the run and every process under it."""
    env = launch_env(slow_rate=1.0, slow_seconds=2.0)
    process = subprocess.Popen([sys.executable, "-m", "dagster", "job", "execute", "-j", "serp_full_import",
                                "-m", "definitions", "-d", str(REPO)], cwd=REPO, env={**os.environ, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    watch = ProcessWatch(process.pid)
    try:
        deadline = time.monotonic() + RUN_DEADLINE_SECONDS
        # The step process, its two workers (and the resource tracker): the stage is under way.
        while len({pid for pid in descendants(process.pid) if is_running(pid)}) < 4:
            assert process.poll() is None, process.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "the stage never started its workers"
            time.sleep(0.1)
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=120)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    started = watch.stop()
    assert "RUN_SUCCESS" not in output
    assert not left_behind(started), f"processes left behind after the cancelled run:\n{output[-3000:]}"
    with DagsterInstance.get() as instance:
        [run] = instance.get_runs()
        assert run.status in (DagsterRunStatus.CANCELED, DagsterRunStatus.FAILURE)

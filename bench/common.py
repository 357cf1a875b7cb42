"""What every benchmark needs: a throwaway PostgreSQL schema, free ports, and a results file."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
from sqlalchemy import create_engine

from commerce_core.db.engine import get_engine

RESULTS_DIR = Path(__file__).with_name("results")
DEFAULT_POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class BenchSchema:
    name: str
    database_url: str  # SQLAlchemy URL whose search_path is the schema


@contextmanager
def fresh_schema(postgres_url: str, *, keep: bool = False, name: str | None = None) -> Iterator[BenchSchema]:
    """A new schema for one benchmark run, dropped afterwards unless `keep`."""
    schema = name or f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    database_url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    try:
        yield BenchSchema(schema, database_url)
    finally:
        get_engine(database_url).dispose()
        if not keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def write_results(kind: str, report: dict) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"{kind}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"[bench] written {out}", flush=True)
    return out


def start_simulator(module: str, *arguments: str) -> tuple[subprocess.Popen, str]:
    """`python -m <module> --port <free> <arguments>` in its own process; returns once /_sim/stats answers."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", module, "--port", str(port), *arguments],
                               stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):  # a simulator may prepare its data first (serp --warm-cache)
        try:
            httpx.get(f"{url}/_sim/stats", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{module} did not start on port {port}")


def stop_simulator(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


def process_cpu_seconds(pid: int, *, with_reaped_children: bool = False) -> float:
    """CPU seconds (user + system) of one process; with its children that have exited and been waited for."""
    fields = _stat_fields(pid)
    ticks = int(fields[11]) + int(fields[12])
    if with_reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores, from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the process name (ppid is [1], utime [11], stime [12], cutime [13], cstime [14])."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2:].split()


def _processes() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, name, the stat fields after the name) of every process still there."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        yield int(pid), stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()


def postgres_cpu_seconds() -> float:
    """CPU seconds of this machine's PostgreSQL processes, including backends that have exited (the
    postmaster's reaped children)."""
    # utime, stime, cutime, cstime
    ticks = sum(sum(map(int, fields[11:15])) for _, name, fields in _processes() if name == "postgres")
    return ticks / os.sysconf("SC_CLK_TCK")


def child_pids(exclude: int | None = None) -> list[int]:
    """This process's live children (a worker pool outlives the stage it served), but `exclude`."""
    return [pid for pid, _, fields in _processes() if int(fields[1]) == os.getpid() and pid != exclude]


def own_cpu_seconds() -> tuple[float, float]:
    """(user, system) CPU seconds of this process, its children that ended, and its live children."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    user, system = sum(item.ru_utime for item in usage), sum(item.ru_stime for item in usage)
    tick = os.sysconf("SC_CLK_TCK")
    for pid in child_pids():
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue  # ended meanwhile (its time is in RUSAGE_CHILDREN from now on)
        user, system = user + int(fields[11]) / tick, system + int(fields[12]) / tick
    return user, system


def process_peak_rss_mb(pid: int) -> float | None:
    """A process's peak RSS (VmHWM), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None


def peak_rss_mb() -> float:
    """The largest peak RSS among this process, its children that ended and its live children."""
    peaks = [resource.getrusage(who).ru_maxrss / 1024 for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    peaks += [peak for pid in child_pids() if (peak := process_peak_rss_mb(pid)) is not None]
    return max(peaks)

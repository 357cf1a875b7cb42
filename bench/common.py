"""What every benchmark needs: a throwaway PostgreSQL schema, free ports, and a results file."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

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

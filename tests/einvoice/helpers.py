"""Building blocks for e-invoicing tests: tenants with pools, CSV uploads, Turnkey folders."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from commerce_core.einvoice.e0501 import AssignedRange
from commerce_core.einvoice.invoice_store import store_upload
from commerce_core.einvoice.tenancy import Tenant, add_tenant, register_range
from commerce_core.einvoice.uploads import REQUIRED_COLUMNS, parse_upload

SELLER_A = "22099131"
SELLER_B = "10458575"
BUYER = "53212539"
HEADER = ",".join(REQUIRED_COLUMNS)


def tenant_with_pool(engine: Engine, ban: str, *, period: str = "11402", track: str = "AB", begin: int = 10000000,
                     size: int = 100) -> Tenant:
    with engine.begin() as conn:
        tenant = add_tenant(conn, ban, f"Tenant {ban}", "Taipei")
        if size:
            register_range(conn, tenant, AssignedRange(ban, "07", period, track, begin, begin + size - 1, size // 50),
                           "test")
    return tenant


def consumer_rows(ban: str, count: int, day: str = "2025-01-15", prefix: str = "O") -> list[str]:
    """`count` consumer invoices of one printed item each, seconds apart."""
    return [f"{ban},{prefix}{i},{day},08:{i // 60 % 60:02d}:{i % 60:02d},,,,,0,,Y,Gasoline 95,10,30,300,1"
            for i in range(count)]


def csv_bytes(rows: list[str]) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def upload(engine: Engine, tenant: Tenant, rows: list[str], name: str = "upload.csv", today: date = date(2025, 3, 1)):
    data = csv_bytes(rows)
    parsed = parse_upload(data, uploader_ban=tenant.ban, today=today)
    with engine.begin() as conn:
        return store_upload(conn, tenant, name, hashlib.sha256(data).hexdigest(), len(data), parsed)


def drop_file(folder: Path, name: str, data: bytes, *, age_seconds: float = 3600) -> Path:
    """A finished file: written and left alone for `age_seconds`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path

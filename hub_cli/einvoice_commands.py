"""`hub einvoice ...`: register tenants and read the upload log (HUB_DATABASE_URL)."""

from __future__ import annotations

import argparse

from commerce_core.db.engine import get_engine
from commerce_core.db.migrate import upgrade
from commerce_core.einvoice import invoice_store
from commerce_core.einvoice.tenancy import TenantError, active_tenant, add_tenant, pool_status
from commerce_core.settings import load_settings


def _engine(args: argparse.Namespace):
    url = args.database_url or load_settings().database_url
    upgrade(url)
    return get_engine(url)


def _add_tenant(args: argparse.Namespace) -> int:
    with _engine(args).begin() as conn:
        try:
            tenant = add_tenant(conn, args.ban, args.name, args.address)
        except TenantError as error:
            print(f"refused: {error}")
            return 2
    folder = load_settings().uploads_dir / tenant.ban
    print(f"tenant {tenant.ban} ({tenant.name}) registered; drop E0501 files in {folder / 'e0501'} "
          f"and invoice CSVs in {folder / 'invoices'}")
    return 0


def _tenant_or_exit(conn, ban: str):
    try:
        return active_tenant(conn, ban)
    except TenantError as error:
        raise SystemExit(f"refused: {error}") from None


def _pools(args: argparse.Namespace) -> int:
    with _engine(args).connect() as conn:
        tenant = _tenant_or_exit(conn, args.ban)
        for pool in pool_status(conn, tenant.id):
            print(f"{pool.period} type {pool.invoice_type} {pool.track}{pool.begin_no:08d}-{pool.track}"
                  f"{pool.end_no:08d}: {pool.used} used, {pool.left} left")
    return 0


def _uploads(args: argparse.Namespace) -> int:
    with _engine(args).connect() as conn:
        tenant = _tenant_or_exit(conn, args.ban)
        if args.upload:
            for row in invoice_store.upload_rejects_page(conn, tenant.id, args.upload, page=args.page):
                print(f"order {row['order_id']} rows {row['row_numbers']}: [{row['rule']}] {row['message']}")
            return 0
        for row in invoice_store.upload_log_page(conn, tenant.id, page=args.page):
            print(f"#{row['id']} {row['kind']:8} {row['file_name']}: {row['status']}, {row['rows']} rows, "
                  f"{row['invoices']} invoices, {row['accepted']} accepted, {row['rejected']} rejected"
                  + (f" ({row['message']})" if row["message"] else ""))
    return 0


def add_commands(commands) -> None:
    einvoice = commands.add_parser("einvoice", help="e-invoicing tenants, number pools and the upload log")
    actions = einvoice.add_subparsers(dest="einvoice_command", required=True)
    tenant = actions.add_parser("add-tenant", help="register a seller (BAN checksum checked)")
    tenant.add_argument("--ban", required=True)
    tenant.add_argument("--name", required=True)
    tenant.add_argument("--address", default="")
    tenant.set_defaults(handler=_add_tenant)
    pools = actions.add_parser("pools", help="a tenant's number pools: used and left")
    pools.add_argument("--ban", required=True)
    pools.set_defaults(handler=_pools)
    uploads = actions.add_parser("uploads", help="a tenant's upload log, or one upload's rejects, a page at a time")
    uploads.add_argument("--ban", required=True)
    uploads.add_argument("--upload", type=int, help="show this upload's rejects (row numbers, rule, message)")
    uploads.add_argument("--page", type=int, default=1)
    uploads.set_defaults(handler=_uploads)
    for parser in (tenant, pools, uploads):
        parser.add_argument("--database-url", help="SQLAlchemy URL; default from HUB_DATABASE_URL")

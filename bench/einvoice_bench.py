"""A peak day of e-invoices (the e-invoice capacity plan's aggressive case in docs/background.md: 720,000 for
500 tenants), CSV to XSD-valid F0401 files.

  hub bench einvoice [--invoices 720000] [--tenants 500] [--workers cores+1] [--baseline-invoices 20000]

Setup (not timed): a fresh PostgreSQL schema, the tenants with one E0501 range
each, one upload CSV per tenant (about 1.3 items per invoice; printed, carrier,
donated and B2B invoices mixed). Timed, per stage, through the assets' own
functions with `--workers` processes (each file, then each tenant, one unit):
  upload   read + validate the CSV, store invoices, rejects and the log line (the invoice_uploads asset)
  issue    the day's batch as invoice_batches runs it (issue_day): the pool lock, numbers, each F0401
           built and validated against the official XSD, marked uploaded, written atomically
Then every file is read back and validated again (not timed), and beside it the
naive way: build each invoice element by element with lxml, validate, write.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from lxml import etree

from bench.common import (DEFAULT_POSTGRES_URL, fresh_schema, machine_busy_seconds, own_cpu_seconds,
                          peak_rss_mb, postgres_cpu_seconds, write_results)
from commerce_core.db.engine import get_engine
from commerce_core.db.migrate import upgrade
from commerce_core.einvoice import DEFAULT_WORKERS, invoice_store, schemas
from commerce_core.einvoice.ban import is_valid_ban
from commerce_core.einvoice.e0501 import AssignedRange
from commerce_core.einvoice.f0401 import CONSUMER_IDENTIFIER, NAMESPACE, InvoiceDocument, Seller, random_number
from commerce_core.einvoice.intake import ArrivedFile, take_invoice_files
from commerce_core.einvoice.issuing import issue_days
from commerce_core.einvoice.tenancy import add_tenant, register_range, tenant_by_ban
from commerce_core.einvoice.turnkey import TurnkeyFolders
from commerce_core.einvoice.uploads import REQUIRED_COLUMNS
from commerce_core.settings import load_settings

DAY = date(2025, 1, 15)
SLOW_CREATE_MICROS = 150
PROBE_DIR = ".bench-probe"
PERIOD = "11402"
BUYERS = ("53212539", "04595257", "47217677")


def valid_bans(count: int, start: int = 10_000_000) -> list[str]:
    bans, candidate = [], start
    while len(bans) < count:
        if is_valid_ban(f"{candidate:08d}"):
            bans.append(f"{candidate:08d}")
        candidate += 7
    return bans


def _invoice_rows(ban: str, index: int, rng: random.Random) -> list[str]:
    """Marks are buyer_ban, buyer_name, carrier_type, carrier_id, donate_mark, npoban, print_mark."""
    kind = rng.random()
    seconds = index * 86400 // 100_000
    when = f"{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    if kind < 0.55:
        marks = f",,,3J0002,/AB{index % 100000:05d},0,,N"
    elif kind < 0.75:
        marks = ",,,,,0,,Y"
    elif kind < 0.85:
        marks = ",,,,,1,168001,N"
    else:
        marks = f",{BUYERS[index % 3]},Buyer {index % 97} Co.,,,0,,Y"
    items = 1 if rng.random() < 0.75 else 2
    rows = []
    for item in range(items):
        litres = rng.randint(5, 60)
        price = (31.2, 29.8, 27.5)[item % 3]
        rows.append(f"{ban},O{index},{DAY.isoformat()},{when}{marks},Fuel {item},{litres},{price},"
                    f"{round(litres * price, 1)},1")
    return rows


def write_upload(path: Path, ban: str, invoices: int, seed: int) -> int:
    rng = random.Random(seed)
    rows = [",".join(REQUIRED_COLUMNS)]
    for index in range(invoices):
        rows += _invoice_rows(ban, index, rng)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")
    return len(rows) - 1


def _timed(stage: str, work) -> dict:
    started, (user, system), database = time.perf_counter(), own_cpu_seconds(), postgres_cpu_seconds()
    busy = machine_busy_seconds()
    done = work()
    seconds = time.perf_counter() - started
    after = own_cpu_seconds()
    user, system, database = after[0] - user, after[1] - system, postgres_cpu_seconds() - database
    busy = machine_busy_seconds() - busy
    # The machine's busy time beyond the bench's and PostgreSQL's is the kernel's writeback, and anyone else.
    print(f"[bench] {stage}: {done:,} invoices in {seconds:.1f} s = {done / seconds:,.0f}/s; CPU: bench "
          f"{user + system:.1f} s (user {user:.1f}, system {system:.1f}), PostgreSQL {database:.1f} s, "
          f"whole machine {busy:.1f} s of {seconds * (os.cpu_count() or 1):.1f}", flush=True)
    return {"invoices": done, "seconds": round(seconds, 2), "per_second": round(done / seconds),
            "bench_cpu_seconds": round(user + system, 1), "bench_system_cpu_seconds": round(system, 1),
            "postgres_cpu_seconds": round(database, 1), "machine_busy_seconds": round(busy, 1)}


def file_create_micros(turnkey_root: Path, files: int = 2000) -> float:
    """What writing one F0401 (temporary name, write, rename) costs on Turnkey's filesystem right now, in µs.
    The probe's files stay (beside SRC) until the run's files go: on this disk, freshly deleted inodes
    slow the creates that follow."""
    folders = TurnkeyFolders(turnkey_root / PROBE_DIR).create()
    data = b"x" * 1500
    started = time.perf_counter()
    for number in range(files):
        folders.write_f0401(f"probe-{number}.xml", data)
    return (time.perf_counter() - started) / files * 1e6


def _progress(stage: str):
    started, last = time.perf_counter(), [time.perf_counter()]

    def report(done: int) -> None:
        if time.perf_counter() - last[0] > 2:
            last[0] = time.perf_counter()
            print(f"[bench] {stage}: {done:,} invoices, {done / (last[0] - started):,.0f}/s", flush=True)
    return report


def _upload_stage(url: str, files: list[ArrivedFile], workers: int) -> int:
    progress = _progress("upload")
    return take_invoice_files(url, files, workers=workers, progress=lambda report: progress(report.accepted)).accepted


def _issue_stage(url: str, root: Path, tenants: list, workers: int) -> int:
    progress, done = _progress("issue"), 0
    for outcome in issue_days(url, root, tenants, DAY, workers=workers):
        if outcome.errors or outcome.exhausted:
            raise RuntimeError(f"{outcome.tenant_ban}: {outcome.errors[:3]} {outcome.exhausted}")
        done += outcome.written
        progress(done)
    return done


def naive_f0401(seller: Seller, invoice: InvoiceDocument) -> bytes:
    """The way a first version would do it: one lxml element at a time, all in one function."""
    root = etree.Element(f"{{{NAMESPACE}}}Invoice", nsmap={None: NAMESPACE})

    def child(parent, tag, text=None):
        element = etree.SubElement(parent, f"{{{NAMESPACE}}}{tag}")
        if text is not None:
            element.text = str(text)
        return element

    main = child(root, "Main")
    child(main, "InvoiceNumber", invoice.invoice_number)
    child(main, "InvoiceDate", invoice.invoice_date.strftime("%Y%m%d"))
    child(main, "InvoiceTime", invoice.invoice_time)
    seller_element = child(main, "Seller")
    child(seller_element, "Identifier", seller.ban)
    child(seller_element, "Name", seller.name)
    buyer = child(main, "Buyer")
    child(buyer, "Identifier", invoice.buyer_ban or CONSUMER_IDENTIFIER)
    child(buyer, "Name", invoice.buyer_name or "消費者")
    child(main, "InvoiceType", "07")
    child(main, "DonateMark", invoice.donate_mark)
    if invoice.carrier_type:
        child(main, "CarrierType", invoice.carrier_type)
        child(main, "CarrierId1", invoice.carrier_id)
        child(main, "CarrierId2", invoice.carrier_id)
    child(main, "PrintMark", invoice.print_mark)
    if invoice.npoban:
        child(main, "NPOBAN", invoice.npoban)
    child(main, "RandomNumber", random_number(seller.ban, invoice.invoice_number))
    details = child(root, "Details")
    for sequence, (description, quantity, unit_price, amount, tax_type) in enumerate(invoice.items, start=1):
        item = child(details, "ProductItem")
        for tag, value in (("Description", description), ("Quantity", quantity), ("UnitPrice", unit_price),
                           ("TaxType", tax_type), ("Amount", amount), ("SequenceNumber", sequence)):
            child(item, tag, value)
    amount = child(root, "Amount")
    for tag, value in (("SalesAmount", invoice.sales_amount), ("FreeTaxSalesAmount", invoice.free_tax_sales_amount),
                       ("ZeroTaxSalesAmount", invoice.zero_tax_sales_amount), ("TaxType", invoice.tax_type),
                       ("TaxRate", invoice.tax_rate), ("TaxAmount", invoice.tax_amount),
                       ("TotalAmount", invoice.total_amount)):
        child(amount, tag, value)
    schemas.validate("F0401", etree.fromstring(etree.tostring(root)))  # re-parsed, as a first version would
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def naive_way(seller: Seller, documents: list[InvoiceDocument], limit: int, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for done in range(limit):
        with open(out_dir / f"{done}.xml", "wb") as handle:
            handle.write(naive_f0401(seller, documents[done % len(documents)]))
    seconds = time.perf_counter() - started
    return {"invoices": limit, "seconds": round(seconds, 2), "per_second": round(limit / seconds)}


def verify_all(src: Path) -> int:
    checked = 0
    for path in src.iterdir():
        if path.name.startswith("."):
            continue
        schemas.validate("F0401", etree.parse(str(path)).getroot())
        checked += 1
    return checked


def _data_dir() -> Path:
    folder = load_settings().data_dir
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--invoices", type=int, default=720_000)
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help=f"worker processes (default: cores + 1 = {DEFAULT_WORKERS}, as the assets use)")
    parser.add_argument("--baseline-invoices", type=int, default=20_000, help="invoices the naive way writes")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--work-dir", help="where CSVs and Turnkey files go, kept afterwards (default: a new folder "
                        "in $HUB_DATA_DIR, removed afterwards, which on this machine's disk slows file creation for "
                        "minutes); TURNKEY_ROOT lives in it unless --turnkey-root is given")
    parser.add_argument("--turnkey-root", help="TURNKEY_ROOT for the run (default: inside the work dir); "
                        "e.g. /dev/shm/turnkey to take this machine's slow file creation out of the figure")
    parser.add_argument("--skip-verify", action="store_true", help="do not re-validate every file afterwards")


def run(args: argparse.Namespace) -> int:
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench-einvoice-", dir=_data_dir()))
    per_tenant = -(-args.invoices // args.tenants)
    turnkey_root = Path(args.turnkey_root or work / "turnkey")
    if any(turnkey_root.rglob("*.xml")):
        raise SystemExit(f"{turnkey_root} already holds files; give an empty --turnkey-root")
    with fresh_schema(args.postgres_url) as schema:
        url = schema.database_url
        upgrade(url)
        bans = valid_bans(args.tenants)
        print(f"[bench] setup: {args.tenants} tenants, {args.invoices:,} invoices in {work}", flush=True)
        engine = get_engine(url)
        booklets = -(-per_tenant // 50)
        with engine.begin() as conn:
            for number, ban in enumerate(bans):
                tenant = add_tenant(conn, ban, f"Station {number}", "Taipei")
                track = f"{chr(65 + number // 26 % 26)}{chr(65 + number % 26)}"
                begin = (number // 676) * 100_000
                register_range(conn, tenant, AssignedRange(ban, "07", PERIOD, track, begin,
                                                           begin + booklets * 50 - 1, booklets), "bench")
        rows, files = 0, []
        remaining = args.invoices
        for number, ban in enumerate(bans):
            count = min(per_tenant, remaining)
            remaining -= count
            path = work / "uploads" / ban / "invoices" / "day.csv"
            rows += write_upload(path, ban, count, seed=number)
            stat = path.stat()
            files.append(ArrivedFile(path, "invoices", ban, stat.st_size, stat.st_mtime_ns))
        TurnkeyFolders(turnkey_root).create()
        create_micros = file_create_micros(turnkey_root)
        print(f"[bench] writing one file in {turnkey_root} costs {create_micros:.0f} µs now", flush=True)
        if create_micros > SLOW_CREATE_MICROS:
            # ext4 without a journal (this machine's disk) skips inodes freed in the last minutes when it
            # allocates one, scanning them every time: right after a run's 720,000 files were removed,
            # a create costs ten times more until the kernel lets them go.
            print(f"[bench] WARNING: that is slow (over {SLOW_CREATE_MICROS} µs): files deleted minutes ago slow "
                  "this filesystem's inode allocation; wait a few minutes and run again for a fair figure", flush=True)
        with engine.connect() as conn:
            tenants = [tenant_by_ban(conn, ban) for ban in bans]
        print(f"[bench] setup done: {rows:,} CSV rows", flush=True)
        # The assets' own code paths: invoice_uploads (take_invoice_files) and invoice_batches (issue_days).
        stages = {"upload": _timed("upload", lambda: _upload_stage(url, files, args.workers)),
                  "issue": _timed("issue", lambda: _issue_stage(url, turnkey_root, tenants, args.workers))}
        total = stages["upload"]["seconds"] + stages["issue"]["seconds"]
        issued = stages["issue"]["invoices"]
        print(f"[bench] whole day: {issued:,} invoices in {total:.1f} s = {issued / total:,.0f}/s "
              f"(goal 60 s / 12,000/s)", flush=True)
        verified = None if args.skip_verify else verify_all(TurnkeyFolders(turnkey_root).src)
        if verified is not None:
            print(f"[bench] verified: {verified:,} files valid against the official F0401 XSD", flush=True)
        with engine.connect() as conn:  # the naive way's input: the first tenant's issued invoices
            first = tenant_by_ban(conn, bans[0])
            documents = [item.document for item in invoice_store.documents_by_order(
                conn, first.id, DAY, [order for order, _ in invoice_store.handed_over(conn, first.id, DAY)])]
        naive = naive_way(first.seller, documents, args.baseline_invoices, work / "naive")
        fast_rate = stages["issue"]["per_second"]
        print(f"[bench] naive way (element by element, validate, write): {naive['per_second']:,}/s; issue stage "
              f"(number + F0401 + write) {fast_rate:,}/s = {fast_rate / naive['per_second']:.1f}x", flush=True)
    peak_mb = peak_rss_mb()
    print(f"[bench] peak RSS {peak_mb:.0f} MB (largest single process)", flush=True)
    write_results("einvoice", {"invoices": args.invoices, "turnkey_root": str(turnkey_root), "tenants": args.tenants, "workers": args.workers,
                               "file_create_micros": round(create_micros),
                               "csv_rows": rows, "stages": stages, "total_seconds": round(total, 2),
                               "per_second": round(issued / total), "verified_files": verified,
                               "naive": naive, "peak_rss_mb": round(peak_mb)})
    if not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    if args.turnkey_root:
        for folder in (TurnkeyFolders(turnkey_root).src, turnkey_root / PROBE_DIR):
            shutil.rmtree(folder, ignore_errors=True)
    return 0

"""The Turnkey working folder: where F0401 files go, where Turnkey puts them back, and its result messages.

  UpCast/B2SSTORAGE/F0401/SRC/   we write F0401_<seller BAN>_<invoice number>.xml here
  UpCast/B2SSTORAGE/F0401/BAK/   Turnkey moves a file here when the platform took it
  UpCast/B2SSTORAGE/F0401/ERR/   … or here when it did not
  DownCast/B2SSTORAGE/           ProcessResult / SummaryResult 4.0 messages (any depth)
  DownCast/B2PMESSAGE/E0501/SRC/ E0501 number assignments downloaded for the sellers

Files are written under a temporary name and renamed into SRC, so Turnkey never reads half a
file. The temporary file lives in a folder of its own per process (`.hub-partial/<pid>/` beside
UpCast): creating it there takes only that folder's lock, so parallel writers meet in SRC for the
rename alone. On this machine's disk, two writers spent a third of their file CPU spinning on SRC's
lock when the temporary names were in SRC too (57 → 39 µs per file, 720,000 files, 2 processes).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from datetime import date, datetime, timedelta
from pathlib import Path

from commerce_core.einvoice import schemas
from commerce_core.einvoice.safe_xml import UnsafeXmlError, parse_untrusted

F0401_DIR = Path("UpCast/B2SSTORAGE/F0401")
RESULTS_DIR = Path("DownCast/B2SSTORAGE")
E0501_DIR = Path("DownCast/B2PMESSAGE/E0501/SRC")
PARTIAL_DIR = Path(".hub-partial")
FILE_NAME = re.compile(r"F0401_(\d{8})_([A-Z]{2}\d{8})\.xml")
MAX_RESULT_BYTES = 20_000_000
# The e-invoice capacity plan (docs/background.md): resend after 1 min, 5 min, 15 min, 1 h, 4 h; after the
# fifth resend fails, alert.
RESEND_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1),
                  timedelta(hours=4))


def f0401_file_name(seller_ban: str, invoice_number: str) -> str:
    return f"F0401_{seller_ban}_{invoice_number}.xml"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def next_resend_at(failed_at: datetime, attempts: int) -> datetime | None:
    """When to send again after the `attempts`-th upload failed; None when the resends are used up."""
    return failed_at + RESEND_BACKOFF[attempts - 1] if attempts <= len(RESEND_BACKOFF) else None


@dataclass(frozen=True)
class TurnkeyFolders:
    root: Path

    @cached_property
    def src(self) -> Path:
        return self.root / F0401_DIR / "SRC"

    @cached_property
    def bak(self) -> Path:
        return self.root / F0401_DIR / "BAK"

    @cached_property
    def err(self) -> Path:
        return self.root / F0401_DIR / "ERR"

    @cached_property
    def results(self) -> Path:
        return self.root / RESULTS_DIR

    @cached_property
    def e0501(self) -> Path:
        return self.root / E0501_DIR

    @cached_property
    def _src_text(self) -> str:
        return str(self.src)

    @cached_property
    def _partial_root(self) -> str:
        return str(self.root / PARTIAL_DIR)

    def create(self) -> TurnkeyFolders:
        for folder in (self.src, self.bak, self.err, self.results, self.e0501):
            folder.mkdir(parents=True, exist_ok=True)
        self._remove_dead_partials()
        return self

    def _remove_dead_partials(self) -> None:
        """Half-written files of processes that died mid-write (their invoices are rewritten whole)."""
        if not os.path.isdir(self._partial_root):
            return
        for entry in os.scandir(self._partial_root):
            if entry.name.isdigit() and not _process_alive(int(entry.name)):
                shutil.rmtree(entry.path, ignore_errors=True)

    def write_f0401(self, file_name: str, data: bytes) -> None:
        self.write_f0401_files([(file_name, data)])

    def write_f0401_files(self, files: Iterable[tuple[str, bytes]]) -> None:
        """Each (name, bytes) under a temporary name, then renamed into SRC: it appears whole or not at all."""
        src = self._src_text
        partial = os.path.join(self._partial_root, str(os.getpid()))  # per process: a fork gets its own
        suffix = f".{threading.get_ident()}.tmp"
        beside = False  # SRC is on another filesystem than the root: temporary files go in SRC
        for file_name, data in files:
            target = os.path.join(src, file_name)
            if beside:
                self._write_beside(target, data)
                continue
            temporary = os.path.join(partial, file_name + suffix)
            try:
                descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            except FileNotFoundError:
                os.makedirs(partial, exist_ok=True)
                descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(descriptor, data)
            finally:
                os.close(descriptor)
            try:
                os.replace(temporary, target)
            except OSError as error:
                os.unlink(temporary)
                if error.errno != errno.EXDEV:
                    raise
                beside = True  # learnt once per batch, not paid again per file
                self._write_beside(target, data)

    def _write_beside(self, target: str, data: bytes) -> None:
        name = os.path.basename(target)
        temporary = os.path.join(self._src_text, f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)

    def already_handed_over(self, file_name: str) -> bool:
        """The file is in SRC, or Turnkey already moved it to BAK or ERR (a crash after writing)."""
        return any((folder / file_name).exists() for folder in (self.src, self.bak, self.err))

    def handed_over_names(self) -> set[str]:
        """Every F0401 file name in SRC, BAK or ERR (any depth): one listing instead of a stat per invoice."""
        return {entry.name for folder in (self.src, self.bak, self.err) for entry in scan(folder)}


def scan(folder: Path, since_ns: int = 0) -> Iterator[os.DirEntry]:
    """Files under `folder` (any depth) that changed at or after `since_ns`, skipping temporary names.

    ctime, not mtime: a rename (Turnkey moving a file to BAK/ERR) keeps mtime but sets ctime.
    """
    if not folder.is_dir():
        return
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif not entry.name.startswith(".") and entry.stat().st_ctime_ns >= since_ns:
                    yield entry


@dataclass(frozen=True)
class InvoiceOutcome:
    """What one result says about one invoice."""

    seller_ban: str  # from the file name, or the result's addressee (RoutingInfo/To/PartyId)
    invoice_number: str
    invoice_date: date | None
    accepted: bool
    reason: str


class ResultUnreadable(ValueError):
    """A result message that is not safe, well-formed or schema-valid."""


def read_result_message(data: bytes, name: str) -> list[InvoiceOutcome]:
    """ProcessResult or SummaryResult 4.0, checked against its XSD, as outcomes per invoice."""
    try:
        root = parse_untrusted(data, max_bytes=MAX_RESULT_BYTES, name=name)
    except UnsafeXmlError as error:
        raise ResultUnreadable(str(error)) from None
    message_type = schemas.message_type_of(root)
    if message_type not in ("ProcessResult", "SummaryResult"):
        raise ResultUnreadable(f"{name}: not a ProcessResult or SummaryResult 4.0 message")
    try:
        schemas.validate(message_type, root)
    except schemas.SchemaViolation as error:
        raise ResultUnreadable(f"{name}: {error}") from None
    ns = {"r": schemas.NAMESPACES[message_type]}
    seller_ban = root.findtext("r:RoutingInfo/r:To/r:PartyId", namespaces=ns).strip()
    if message_type == "ProcessResult":
        if root.findtext("r:MessageInfo/r:MessageType", namespaces=ns) != "F0401":
            return []
        number = root.findtext("r:MessageInfo/r:Id", namespaces=ns).strip()
        infos = root.findall("r:Result/r:Info", namespaces=ns)
        failures = [info for info in infos if info.findtext("r:Code", namespaces=ns).strip() != "0"]
        reason = "; ".join(f"{info.findtext('r:Code', namespaces=ns)} {info.findtext('r:Description', '', ns)}"
                           for info in failures)
        return [InvoiceOutcome(seller_ban, number, None, not failures, reason or "accepted")]
    outcomes = []
    for message in root.findall("r:DetailList/r:Message", namespaces=ns):
        if message.findtext("r:Info/r:MessageType", namespaces=ns) != "F0401":
            continue
        for group, accepted in (("Good", True), ("Failed", False)):
            for invoice in message.findall(f"r:Result/r:{group}/r:Invoices/r:Invocie", namespaces=ns):
                outcomes.append(InvoiceOutcome(
                    seller_ban, invoice.findtext("r:ReferenceNumber", namespaces=ns).strip(),
                    date.fromisoformat(invoice.findtext("r:InvoiceDate", namespaces=ns).strip()), accepted,
                    "accepted" if accepted else "listed as failed in SummaryResult"))
    return outcomes


def outcome_of_moved_file(entry_name: str, accepted: bool) -> InvoiceOutcome | None:
    match = FILE_NAME.fullmatch(entry_name)
    if not match:
        return None
    reason = "accepted (moved to BAK)" if accepted else "rejected by Turnkey (moved to ERR)"
    return InvoiceOutcome(match.group(1), match.group(2), None, accepted, reason)

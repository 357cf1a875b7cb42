"""Invoice upload CSV (docs/protocols/einvoice-turnkey.md) → invoices, each checked against the F0401 rules.

One row per line item; rows with the same (tenant_ban, order_id) form one invoice,
wherever they stand in the file. A bad row rejects its invoice (with every row
number of that invoice and the rule), never the upload: the other invoices go on.
Two optional trailing columns, `customs_clearance_mark` and `zero_tax_rate_reason`,
carry what F0401 needs for zero-rated items and the contract's columns cannot say.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from commerce_core.einvoice.amounts import ZERO_RATED, InvoiceAmounts, invoice_amounts
from commerce_core.einvoice.ban import is_valid_ban

REQUIRED_COLUMNS = (
    "tenant_ban", "order_id", "invoice_date", "invoice_time", "buyer_ban", "buyer_name", "carrier_type",
    "carrier_id", "donate_mark", "npoban", "print_mark", "description", "quantity", "unit_price", "amount",
    "tax_type",
)
OPTIONAL_COLUMNS = ("customs_clearance_mark", "zero_tax_rate_reason")
MAX_ITEMS = 9999
TAIWAN = ZoneInfo("Asia/Taipei")  # "in the future" is judged by the seller's calendar
CONSUMER_IDENTIFIER = "0000000000"
# Header fields every row of one invoice must repeat identically.
INVOICE_FIELDS = ("invoice_date", "invoice_time", "buyer_ban", "buyer_name", "carrier_type", "carrier_id",
                  "donate_mark", "npoban", "print_mark", "customs_clearance_mark", "zero_tax_rate_reason")

_ORDER_ID = re.compile(r"[A-Za-z0-9_\-]{1,20}", re.ASCII)  # it becomes F0401 RelateNumber (max 20)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]")
_NPOBAN = re.compile(r"[0-9]{3,7}")
_MOBILE_BARCODE = re.compile(r"/[0-9A-Z.+\-]{7}")
_CITIZEN_CERTIFICATE = re.compile(r"[A-Z]{2}[0-9]{14}")
_CARRIER_FORMATS = {"3J0002": _MOBILE_BARCODE, "CQ0001": _CITIZEN_CERTIFICATE}
_ZERO_TAX_REASON = re.compile(r"7[1-9]")
# A number the digit rules (at most 20 digits, 7 decimals) cannot refuse: read without looking at its digits.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,13}(?:\.[0-9]{1,7})?", re.ASCII)
# Characters XML 1.0 cannot carry at all: one would make the invoice's F0401 unwritable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class UploadRefused(ValueError):
    """The whole file cannot be read (encoding, header); nothing from it is stored."""


@dataclass(frozen=True)
class InvoiceItem:
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    tax_type: str


@dataclass
class UploadedInvoice:
    tenant_ban: str
    order_id: str
    invoice_date: date
    invoice_time: str
    buyer_ban: str
    buyer_name: str
    carrier_type: str
    carrier_id: str
    donate_mark: str
    npoban: str
    print_mark: str
    customs_clearance_mark: str
    zero_tax_rate_reason: str
    items: list[InvoiceItem]
    rows: list[int]
    amounts: InvoiceAmounts

    @property
    def is_business(self) -> bool:
        return bool(self.buyer_ban)


@dataclass(frozen=True)
class InvoiceReject:
    tenant_ban: str
    order_id: str
    rows: tuple[int, ...]
    rule: str
    message: str

    def row_label(self) -> str:
        return ",".join(str(row) for row in self.rows[:20]) + ("…" if len(self.rows) > 20 else "")


@dataclass
class ParsedUpload:
    rows: int = 0
    invoices: list[UploadedInvoice] = field(default_factory=list)
    rejects: list[InvoiceReject] = field(default_factory=list)

    @property
    def invoice_count(self) -> int:
        return len(self.invoices) + len(self.rejects)


class _RowError(ValueError):
    def __init__(self, rule: str, message: str):
        self.rule = rule
        super().__init__(message)


def _decimal(value: str, column: str, *, minimum: Decimal | None = None) -> Decimal:
    if _PLAIN_DECIMAL.fullmatch(value):
        number = Decimal(value)
    else:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise _RowError(column, f"{column} {value!r} is not a number") from None
        if not number.is_finite():
            raise _RowError(column, f"{column} {value!r} is not a number")
        sign, digits, exponent = number.as_tuple()
        if -exponent > 7 or len(digits) > 20:
            raise _RowError(column, f"{column} {value} has more than 7 decimals or 20 digits")
    if minimum is not None and number < minimum:
        raise _RowError(column, f"{column} {value} is below {minimum}")
    return number


def _item(row: dict[str, str]) -> InvoiceItem:
    description = row["description"]
    if not 1 <= len(description) <= 500:
        raise _RowError("description", "description must be 1–500 characters")
    tax_type = row["tax_type"]
    if tax_type not in ("1", "2", "3"):
        raise _RowError("tax-type", f"tax_type {tax_type!r} must be 1 (taxable), 2 (zero-rated) or 3 (tax-free)")
    quantity = _decimal(row["quantity"], "quantity")
    unit_price = _decimal(row["unit_price"], "unit_price")
    amount = _decimal(row["amount"], "amount", minimum=Decimal(0))
    if abs(quantity * unit_price - amount) >= 1:
        raise _RowError("item-amount", f"amount {amount} is not quantity × unit_price ({quantity} × {unit_price})")
    return InvoiceItem(description, quantity, unit_price, amount, tax_type)


def _header_rules(head: dict[str, str], today: date) -> date:
    """F0401 rules on the invoice's header fields; returns the invoice date."""
    if not is_valid_ban(head["tenant_ban"]):
        raise _RowError("tenant-ban", f"tenant_ban {head['tenant_ban']!r} fails the BAN checksum")
    if not _ORDER_ID.fullmatch(head["order_id"]):
        raise _RowError("order-id", "order_id must be 1–20 letters, digits, '_' or '-'")
    raw_date = head["invoice_date"]
    try:
        if not _DATE.fullmatch(raw_date):
            raise ValueError
        invoice_date = date.fromisoformat(raw_date)
    except ValueError:
        raise _RowError("invoice-date", f"invoice_date {raw_date!r} is not a YYYY-MM-DD date") from None
    if invoice_date > today:
        raise _RowError("invoice-date", f"invoice_date {raw_date} is in the future")
    if not _TIME.fullmatch(head["invoice_time"]):
        raise _RowError("invoice-time", f"invoice_time {head['invoice_time']!r} is not HH:MM:SS")
    buyer_ban, buyer_name = head["buyer_ban"], head["buyer_name"]
    if buyer_ban and not is_valid_ban(buyer_ban):
        raise _RowError("buyer-ban", f"buyer_ban {buyer_ban!r} fails the BAN checksum")
    if buyer_ban and not buyer_name:
        raise _RowError("buyer-name", "a business buyer (buyer_ban set) needs buyer_name")
    if len(buyer_name) > 60:
        raise _RowError("buyer-name", "buyer_name is longer than 60 characters")
    donate, printed = head["donate_mark"], head["print_mark"]
    if donate not in ("0", "1"):
        raise _RowError("donate-mark", f"donate_mark {donate!r} must be 0 or 1")
    if printed not in ("Y", "N"):
        raise _RowError("print-mark", f"print_mark {printed!r} must be Y or N")
    carrier_type, carrier_id, npoban = head["carrier_type"], head["carrier_id"], head["npoban"]
    if printed == "Y" and (donate == "1" or carrier_type or carrier_id):
        raise _RowError("print-mark", "print_mark Y allows no donation and no carrier")
    if donate == "1":
        if buyer_ban:
            raise _RowError("donate-mark", "an invoice to a business buyer cannot be donated")
        if not _NPOBAN.fullmatch(npoban):
            raise _RowError("npoban", "donate_mark 1 needs npoban (3–7 digits)")
    elif npoban:
        raise _RowError("npoban", "npoban is only allowed when donate_mark is 1")
    if printed == "N" and donate == "0" and not (carrier_type and carrier_id):
        raise _RowError("carrier", "print_mark N without donation needs carrier_type and carrier_id")
    if carrier_type:
        if len(carrier_type) > 6 or not carrier_id or len(carrier_id) > 64:
            raise _RowError("carrier", "carrier_type is at most 6 characters and needs a carrier_id of 1–64")
        pattern = _CARRIER_FORMATS.get(carrier_type)
        if pattern and not pattern.fullmatch(carrier_id):
            raise _RowError("carrier", f"carrier_id {carrier_id!r} is not a valid {carrier_type} carrier")
    return invoice_date


def _zero_rated_rules(head: dict[str, str]) -> None:
    if head["customs_clearance_mark"] not in ("1", "2"):
        raise _RowError("zero-rated", "zero-rated items need customs_clearance_mark 1 or 2")
    if not _ZERO_TAX_REASON.fullmatch(head["zero_tax_rate_reason"]):
        raise _RowError("zero-rated", "zero-rated items need zero_tax_rate_reason (71–79)")


def _read_rows(data: bytes) -> Iterable[tuple[int, list[str], bool]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UploadRefused(f"the file is not UTF-8 ({error})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise UploadRefused("the file is empty (a header row is required)")
    header = [name.strip() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise UploadRefused(f"the header lacks column(s) {', '.join(missing)}")
    unknown = [name for name in header if name not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise UploadRefused(f"the header has unknown column(s) {', '.join(unknown)}")
    yield 1, header, False
    scan = _NOT_XML.search(text) is not None  # the common clean file skips the per-field scan
    for number, values in enumerate(reader, start=2):
        yield number, values, scan and any(_NOT_XML.search(value) for value in values)


def parse_upload(data: bytes, *, uploader_ban: str, today: date | None = None) -> ParsedUpload:
    """Parse and validate a whole upload; `uploader_ban` is the tenant whose folder it came from."""
    today = today or datetime.now(TAIWAN).date()
    rows = _read_rows(data)
    _, header = next(rows)[:2]
    width = len(header)
    groups: dict[tuple[str, str], list[tuple[int, dict[str, str] | None, str | None]]] = {}
    parsed = ParsedUpload()
    for number, values, unwritable in rows:
        if not values or values == [""]:
            continue
        parsed.rows += 1
        key = (values[0].strip() if values else "", values[1].strip() if len(values) > 1 else "")
        if len(values) != width:
            # Without its columns the row cannot even be placed in an invoice: it rejects its own.
            groups.setdefault(key, []).append(
                (number, None, ("row-columns", f"row has {len(values)} fields, the header {width}")))
            continue
        if unwritable:
            groups.setdefault(key, []).append(
                (number, None, ("characters", "holds a control character that XML cannot carry")))
            continue
        row = {name: value.strip() for name, value in zip(header, values)}
        for name in OPTIONAL_COLUMNS:
            row.setdefault(name, "")
        groups.setdefault((row["tenant_ban"], row["order_id"]), []).append((number, row, None))
    for (tenant_ban, order_id), members in groups.items():
        numbers = tuple(number for number, _, _ in members)
        try:
            parsed.invoices.append(_invoice(tenant_ban, order_id, members, uploader_ban, today))
        except _RowError as error:
            parsed.rejects.append(InvoiceReject(tenant_ban, order_id, numbers, error.rule, str(error)))
    return parsed


def _invoice(tenant_ban: str, order_id: str, members: list, uploader_ban: str, today: date) -> UploadedInvoice:
    broken = next(((number, problem) for number, _, problem in members if problem), None)
    if broken:
        number, (rule, message) = broken
        raise _RowError(rule, f"row {number}: {message}")
    if tenant_ban != uploader_ban:
        raise _RowError("tenant", f"tenant_ban {tenant_ban} is not the uploading tenant {uploader_ban}")
    if len(members) > MAX_ITEMS:
        raise _RowError("item-count", f"{len(members)} items; an invoice holds at most {MAX_ITEMS}")
    head = members[0][1]
    for number, row, _ in members[1:]:
        different = next((name for name in INVOICE_FIELDS if row[name] != head[name]), None)
        if different:
            raise _RowError("inconsistent-rows", f"row {number}: {different} differs from row {members[0][0]}")
    invoice_date = _header_rules(head, today)
    items = []
    for number, row, _ in members:
        try:
            items.append(_item(row))
        except _RowError as error:
            raise _RowError(error.rule, f"row {number}: {error}") from None
    if any(item.tax_type == ZERO_RATED for item in items):
        _zero_rated_rules(head)
    elif head["customs_clearance_mark"] or head["zero_tax_rate_reason"]:
        raise _RowError("zero-rated", "customs_clearance_mark / zero_tax_rate_reason only apply to zero-rated items")
    amounts = invoice_amounts(((item.tax_type, item.amount) for item in items), business_buyer=bool(head["buyer_ban"]))
    if amounts.total < 0:
        raise _RowError("amount", f"TotalAmount {amounts.total} is negative")
    return UploadedInvoice(
        tenant_ban=tenant_ban, order_id=order_id, invoice_date=invoice_date, invoice_time=head["invoice_time"],
        buyer_ban=head["buyer_ban"], buyer_name=head["buyer_name"], carrier_type=head["carrier_type"],
        carrier_id=head["carrier_id"], donate_mark=head["donate_mark"], npoban=head["npoban"],
        print_mark=head["print_mark"], customs_clearance_mark=head["customs_clearance_mark"],
        zero_tax_rate_reason=head["zero_tax_rate_reason"], items=items,
        rows=[number for number, _, _ in members], amounts=amounts,
    )


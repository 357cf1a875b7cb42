"""E0501 (營業人電子發票配號檔, urn:GEINV:E0501:4.0) → one number range, checked against XSD and rules."""

from __future__ import annotations

from dataclasses import dataclass

from commerce_core.einvoice import schemas
from commerce_core.einvoice.ban import is_valid_ban
from commerce_core.einvoice.periods import is_valid_period
from commerce_core.einvoice.safe_xml import UnsafeXmlError, parse_untrusted

MAX_E0501_BYTES = 64_000  # one range is a few hundred bytes
BOOKLET_SIZE = 50


class E0501Rejected(ValueError):
    """The file is refused; the message names the rule."""

    def __init__(self, rule: str, message: str):
        self.rule = rule
        super().__init__(f"{rule}: {message}")


@dataclass(frozen=True)
class AssignedRange:
    ban: str
    invoice_type: str
    period: str
    track: str
    begin_no: int
    end_no: int
    booklets: int

    @property
    def size(self) -> int:
        return self.end_no - self.begin_no + 1

    def label(self) -> str:
        return f"{self.track}{self.begin_no:08d}–{self.track}{self.end_no:08d} ({self.period}, type {self.invoice_type})"


def parse_e0501(data: bytes, *, name: str = "E0501") -> AssignedRange:
    try:
        root = parse_untrusted(data, max_bytes=MAX_E0501_BYTES, name=name)
    except UnsafeXmlError as error:
        raise E0501Rejected("unsafe-xml", str(error)) from None
    if schemas.message_type_of(root) != "E0501":
        raise E0501Rejected("namespace", f"{name}: root must be InvoiceAssignNo in {schemas.NAMESPACES['E0501']}")
    try:
        schemas.validate("E0501", root)
    except schemas.SchemaViolation as error:
        raise E0501Rejected("xsd", f"{name}: {error}") from None
    ns = {"e": schemas.NAMESPACES["E0501"]}

    def text(tag: str) -> str:
        return root.findtext(f"e:{tag}", namespaces=ns).strip()

    assigned = AssignedRange(ban=text("Ban"), invoice_type=text("InvoiceType"), period=text("YearMonth"),
                             track=text("InvoiceTrack"), begin_no=int(text("InvoiceBeginNo")),
                             end_no=int(text("InvoiceEndNo")), booklets=int(text("InvoiceBooklet")))
    check_range(assigned, name=name)
    return assigned


def check_range(assigned: AssignedRange, *, name: str = "E0501") -> None:
    """The rules the XSD cannot say: BAN checksum, period, booklet boundaries, booklet count."""
    if not is_valid_ban(assigned.ban):
        raise E0501Rejected("ban-checksum", f"{name}: Ban {assigned.ban} fails the BAN checksum")
    if not is_valid_period(assigned.period):
        raise E0501Rejected("period", f"{name}: YearMonth {assigned.period} is not ROC year + even month")
    if assigned.begin_no % BOOKLET_SIZE != 0:
        raise E0501Rejected("range-start", f"{name}: InvoiceBeginNo {assigned.begin_no:08d} must end in 00 or 50")
    if assigned.end_no % BOOKLET_SIZE != BOOKLET_SIZE - 1:
        raise E0501Rejected("range-end", f"{name}: InvoiceEndNo {assigned.end_no:08d} must end in 49 or 99")
    if assigned.end_no < assigned.begin_no:
        raise E0501Rejected("range-order", f"{name}: InvoiceEndNo {assigned.end_no:08d} is before "
                            f"InvoiceBeginNo {assigned.begin_no:08d}")
    if assigned.booklets != assigned.size // BOOKLET_SIZE:
        raise E0501Rejected("booklets", f"{name}: InvoiceBooklet {assigned.booklets} does not match the range "
                            f"({assigned.size // BOOKLET_SIZE} booklets of {BOOKLET_SIZE})")


def e0501_xml(assigned: AssignedRange) -> bytes:
    """The E0501 message for a range (used by the demo, tests and the benchmark to stand in for the MOF)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<InvoiceAssignNo xmlns="{schemas.NAMESPACES["E0501"]}">'
        f"<Ban>{assigned.ban}</Ban><InvoiceType>{assigned.invoice_type}</InvoiceType>"
        f"<YearMonth>{assigned.period}</YearMonth><InvoiceTrack>{assigned.track}</InvoiceTrack>"
        f"<InvoiceBeginNo>{assigned.begin_no:08d}</InvoiceBeginNo><InvoiceEndNo>{assigned.end_no:08d}</InvoiceEndNo>"
        f"<InvoiceBooklet>{assigned.booklets}</InvoiceBooklet></InvoiceAssignNo>\n"
    ).encode()

"""E-invoice rules without servers (docs/protocols/einvoice-turnkey.md): BAN, XSDs, periods, E0501,
amounts, upload CSV, F0401 (judged by the official XSD), Turnkey results and resend backoff."""

from __future__ import annotations

import csv
import hashlib
import io
import random
import re
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from lxml import etree

from commerce_core.einvoice import schemas
from commerce_core.einvoice.amounts import invoice_amounts
from commerce_core.einvoice.ban import is_valid_ban
from commerce_core.einvoice.e0501 import MAX_E0501_BYTES, AssignedRange, E0501Rejected, e0501_xml, parse_e0501
from commerce_core.einvoice.f0401 import (InvoiceDocument, InvoiceRuleViolation, Seller, check_document,
                                          f0401_xml, random_number, validated_f0401, validated_f0401_batch)
from commerce_core.einvoice.periods import is_valid_period, period_months, period_of
from commerce_core.einvoice.safe_xml import UnsafeXmlError, parse_untrusted
from commerce_core.einvoice.turnkey import (ResultUnreadable, f0401_file_name, next_resend_at,
                                            read_result_message)
from commerce_core.einvoice.uploads import (OPTIONAL_COLUMNS, REQUIRED_COLUMNS, UploadedInvoice, UploadRefused,
                                            parse_upload)
from simulators.turnkey import process_result_xml, summary_result_xml

SELLER = Seller("22099131", "Hub Gas", "Taipei")
TODAY = date(2025, 2, 1)
UPLOADER = "22099131"

# ---------------------------------------------------------------- BAN


@pytest.mark.parametrize("ban", ["22099131", "10458575", "53212539", "04595257", "47217677"])
def test_contract_valid_bans(ban):
    assert is_valid_ban(ban)


@pytest.mark.parametrize("ban", ["88117126", "2209913", "220991311", "2209913A", "", " 22099131", "22099131\n",
                                 None, 22099131])
def test_invalid_bans(ban):
    assert not is_valid_ban(ban)


@pytest.mark.parametrize("ban", ["２２０９９１３１", "٢٢٠٩٩١٣١"])
def test_non_ascii_digits_are_not_a_ban(ban):
    assert not is_valid_ban(ban)


@pytest.mark.parametrize("ban, valid", [("10458574", True), ("10458576", False)])
def test_ban_seventh_digit_seven(ban, valid):
    # 1,0,4,5,8,5,7,x: digit sums 1,0,4,1,8,1,(28→10→1 or 0),x → 15+x or 14+x
    assert is_valid_ban(ban) is valid


# ---------------------------------------------------------------- vendored XSDs

OFFICIAL_XSD_SHA256 = {  # as listed in commerce_core/einvoice/xsd/SOURCE.txt
    "common/GenericResult_4.0.xsd": "9100987ef2c071506fbecccd9189a00c800a34dd1e642e1ecd778ef8431c4a76",
    "common/GenericType_4.0.xsd": "47d36a2e4207b7c1787381121f0d8e32dabf8e7c5b7fda88830a6fbc367c397b",
    "common/v40/E0501.xsd": "61f5767be864fcfaa5955867bf7b0b623294d76a1b6089f116e97c3744adc5f5",
    "common/v40/ProcessResult.xsd": "c0e25a01b07950455ca1b43b9666e0efe31fc077071ce46c778b29750d4d5e9e",
    "common/v40/SummaryResult.xsd": "bfbc5e76fccc61ced7f3e375ab93ea46799d9cb4e2513521279f2e644effe6c6",
    "v41/F0401.xsd": "c8968fb2287286f561c152cf2d7b4e3cecd0abbd6b09effd3b028c2ce1178d89",
}


def test_vendored_xsds_are_the_official_bytes():
    vendored = {path.relative_to(schemas.XSD_DIR).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
                for path in schemas.XSD_DIR.rglob("*.xsd")}
    assert vendored == OFFICIAL_XSD_SHA256


@pytest.mark.parametrize("message_type", sorted(schemas.SCHEMA_FILES))
def test_every_schema_compiles(message_type):
    assert isinstance(schemas.schema(message_type), etree.XMLSchema)


# ---------------------------------------------------------------- periods


@pytest.mark.parametrize("day, period", [
    (date(2025, 1, 15), "11402"), (date(2025, 2, 28), "11402"), (date(2025, 3, 1), "11404"),
    (date(2025, 10, 1), "11410"), (date(2025, 11, 30), "11412"), (date(2025, 12, 31), "11412"),
    (date(2024, 12, 31), "11312"), (date(1912, 1, 1), "00102"),
])
def test_period_of(day, period):
    assert period_of(day) == period
    assert is_valid_period(period)
    start, after = period_months(period)
    assert start <= day < after and (after - start).days in (59, 60, 61, 62)
    assert period_months("11402") == (date(2025, 1, 1), date(2025, 3, 1))
    assert period_months("11412") == (date(2025, 11, 1), date(2026, 1, 1))


@pytest.mark.parametrize("period", ["11401", "11400", "11411", "11413", "11414", "1140", "114020", "1140|", "abcde",
                                    ""])
def test_invalid_periods(period):
    assert not is_valid_period(period)


# ---------------------------------------------------------------- E0501

RANGE = AssignedRange("22099131", "07", "11402", "AB", 12345600, 12345699, 2)


def test_e0501_valid_file_parses():
    assert parse_e0501(e0501_xml(RANGE)) == RANGE
    assert RANGE.size == 100
    single = replace(RANGE, begin_no=12345650, end_no=12345699, booklets=1, invoice_type="08")
    assert parse_e0501(e0501_xml(single)) == single


@pytest.mark.parametrize("changes, rule", [
    (dict(ban="88117126"), "ban-checksum"),
    (dict(period="11401"), "xsd"),          # odd month: the XSD pattern refuses it
    (dict(period="1140|"), "period"),       # the XSD's [2|4|6|8] lets '|' through; our rule does not
    (dict(track="ab"), "xsd"),
    (dict(invoice_type="09"), "xsd"),
    (dict(begin_no=12345610), "range-start"),
    (dict(end_no=12345698), "range-end"),
    (dict(begin_no=12345700, end_no=12345649, booklets=1), "range-order"),
    (dict(booklets=3), "booklets"),
    (dict(booklets=1), "booklets"),
])
def test_e0501_rules(changes, rule):
    with pytest.raises(E0501Rejected) as caught:
        parse_e0501(e0501_xml(replace(RANGE, **changes)))
    assert caught.value.rule == rule


def test_e0501_wrong_namespace():
    data = e0501_xml(RANGE).replace(b"urn:GEINV:E0501:4.0", b"urn:GEINV:eInvoiceMessage:E0501:4.0")
    with pytest.raises(E0501Rejected) as caught:
        parse_e0501(data)
    assert caught.value.rule == "namespace"


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
    + b']><InvoiceAssignNo xmlns="urn:GEINV:E0501:4.0"><Ban>&lol9;</Ban></InvoiceAssignNo>')
XXE = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       b'<InvoiceAssignNo xmlns="urn:GEINV:E0501:4.0"><Ban>&xxe;</Ban></InvoiceAssignNo>')
HOSTILE = {
    "billion-laughs": BILLION_LAUGHS,
    "xxe": XXE,
    "xxe-utf16": XXE.replace(b'version="1.0"', b'version="1.0" encoding="UTF-16"').decode().encode("utf-16"),
    "doctype-after-long-comment": b"<!--" + b"x" * 5000 + b"-->" + XXE,
    "undeclared-entity": e0501_xml(RANGE).replace(b"22099131", b"&xxe;"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_e0501_hostile_xml_refused_without_expansion(name):
    started = time.monotonic()
    with pytest.raises(E0501Rejected) as caught:
        parse_e0501(HOSTILE[name])
    assert caught.value.rule == "unsafe-xml"
    assert "lollol" not in str(caught.value) and "root:" not in str(caught.value)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_parse_untrusted_refuses_hostile_xml(name):
    with pytest.raises(UnsafeXmlError):
        parse_untrusted(HOSTILE[name])


def test_e0501_oversized_file_refused():
    data = e0501_xml(RANGE).replace(b"</InvoiceAssignNo>", b"<!--" + b"x" * MAX_E0501_BYTES + b"--></InvoiceAssignNo>")
    with pytest.raises(E0501Rejected) as caught:
        parse_e0501(data)
    assert caught.value.rule == "unsafe-xml" and "over the limit" in str(caught.value)


# ---------------------------------------------------------------- amounts


def half_up(value: Fraction) -> int:
    return int((value + Fraction(1, 2)) // 1)


@pytest.mark.parametrize("items, business, expected", [
    # (sales, free, zero, tax, total, tax_type, rate)
    ([("1", Decimal("1051.6"))], False, (1002, 0, 0, 50, 1052, "1", Decimal("0.05"))),
    ([("1", Decimal("280"))], True, (280, 0, 0, 14, 294, "1", Decimal("0.05"))),
    ([("1", Decimal("10"))], True, (10, 0, 0, 1, 11, "1", Decimal("0.05"))),        # 0.5 → 1
    ([("1", Decimal("30"))], True, (30, 0, 0, 2, 32, "1", Decimal("0.05"))),        # 1.5 → 2
    ([("1", Decimal("50"))], True, (50, 0, 0, 3, 53, "1", Decimal("0.05"))),        # 2.5 → 3, not banker's 2
    ([("1", Decimal("0.5"))], True, (1, 0, 0, 0, 1, "1", Decimal("0.05"))),         # T itself half-up
    ([("1", Decimal("105"))], False, (100, 0, 0, 5, 105, "1", Decimal("0.05"))),
    ([("1", Decimal("1"))], False, (1, 0, 0, 0, 1, "1", Decimal("0.05"))),
    ([("1", Decimal("100")), ("3", Decimal("50"))], False, (95, 50, 0, 5, 150, "9", Decimal("0.05"))),
    ([("2", Decimal("40.4")), ("2", Decimal("9.6"))], True, (0, 0, 50, 0, 50, "2", Decimal("0"))),
    ([("3", Decimal("70"))], False, (0, 70, 0, 0, 70, "3", Decimal("0"))),
    ([("2", Decimal("20")), ("3", Decimal("30"))], True, (0, 30, 20, 0, 50, "9", Decimal("0"))),
    ([("1", Decimal("200")), ("2", Decimal("20")), ("3", Decimal("30"))], True,
     (200, 30, 20, 10, 260, "9", Decimal("0.05"))),
])
def test_invoice_amounts(items, business, expected):
    a = invoice_amounts(items, business_buyer=business)
    assert (a.sales, a.free_tax_sales, a.zero_tax_sales, a.tax, a.total, a.tax_type, a.tax_rate) == expected


@pytest.mark.parametrize("seed", range(5))
def test_amount_rule_property(seed):
    rng = random.Random(seed)
    for _ in range(400):
        items = [(rng.choice("1123"), Decimal(rng.randrange(0, 5_000_000)) / 100) for _ in range(rng.randint(1, 6))]
        business = rng.random() < 0.5
        a = invoice_amounts(items, business_buyer=business)
        sums = {t: sum((Fraction(amount) for kind, amount in items if kind == t), Fraction(0)) for t in "123"}
        taxable = half_up(sums["1"])
        if business:
            assert (a.sales, a.tax) == (taxable, half_up(taxable * Fraction(5, 100)))
        else:
            assert (a.sales, a.tax) == (half_up(taxable / Fraction(105, 100)), taxable - a.sales)
        assert (a.zero_tax_sales, a.free_tax_sales) == (half_up(sums["2"]), half_up(sums["3"]))
        assert a.total == a.sales + a.free_tax_sales + a.zero_tax_sales + a.tax
        assert min(a.sales, a.tax, a.total) >= 0
        kinds = {kind for kind, _ in items}
        assert a.tax_type == (kinds.pop() if len(kinds) == 1 else "9")
        assert a.tax_rate == (Decimal("0.05") if "1" in {k for k, _ in items} else 0)


# ---------------------------------------------------------------- upload CSV

BASE_ROW = dict(tenant_ban="22099131", order_id="O-1", invoice_date="2025-01-15", invoice_time="10:20:30",
                buyer_ban="", buyer_name="", carrier_type="3J0002", carrier_id="/ABC+123", donate_mark="0",
                npoban="", print_mark="N", description="Gas", quantity="2", unit_price="100", amount="200",
                tax_type="1")
B2B = dict(buyer_ban="53212539", buyer_name="Acme Ltd", carrier_type="", carrier_id="", print_mark="Y",
           quantity="1", unit_price="280", amount="280")
DONATION = dict(carrier_type="", carrier_id="", donate_mark="1", npoban="8585")
ALL_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


def row(**changes) -> dict[str, str]:
    return {**BASE_ROW, **changes}


def csv_bytes(rows, columns=REQUIRED_COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for values in rows:
        writer.writerow(values if isinstance(values, list) else [values.get(name, "") for name in columns])
    return out.getvalue().encode()


def parse(rows, columns=REQUIRED_COLUMNS, uploader=UPLOADER):
    return parse_upload(csv_bytes(rows, columns), uploader_ban=uploader, today=TODAY)


def only_invoice(rows, columns=REQUIRED_COLUMNS) -> UploadedInvoice:
    parsed = parse(rows, columns)
    assert parsed.rejects == [], parsed.rejects
    assert len(parsed.invoices) == 1
    return parsed.invoices[0]


def test_upload_b2c_mobile_barcode():
    invoice = only_invoice([row(), row(description="Stove", quantity="1", unit_price="51.6", amount="51.6")])
    assert (invoice.tenant_ban, invoice.order_id, invoice.invoice_date) == ("22099131", "O-1", date(2025, 1, 15))
    assert (invoice.carrier_type, invoice.carrier_id, invoice.is_business) == ("3J0002", "/ABC+123", False)
    assert invoice.rows == [2, 3] and [item.description for item in invoice.items] == ["Gas", "Stove"]
    assert (invoice.amounts.sales, invoice.amounts.tax, invoice.amounts.total) == (240, 12, 252)


def test_upload_b2b():
    invoice = only_invoice([row(**B2B)])
    assert invoice.is_business and invoice.buyer_name == "Acme Ltd"
    assert (invoice.amounts.sales, invoice.amounts.tax, invoice.amounts.total) == (280, 14, 294)


def test_upload_donation_and_today_is_not_future():
    invoice = only_invoice([row(invoice_date="2025-02-01", **DONATION)])
    assert (invoice.donate_mark, invoice.npoban, invoice.carrier_type) == ("1", "8585", "")


def test_upload_zero_rated_with_optional_columns():
    invoice = only_invoice([row(tax_type="2", customs_clearance_mark="1", zero_tax_rate_reason="71")], ALL_COLUMNS)
    assert (invoice.customs_clearance_mark, invoice.zero_tax_rate_reason) == ("1", "71")
    assert (invoice.amounts.zero_tax_sales, invoice.amounts.tax, invoice.amounts.tax_rate) == (200, 0, 0)


def test_upload_tenant_ban_checksum():
    parsed = parse([row(tenant_ban="88117126")], uploader="88117126")
    assert [reject.rule for reject in parsed.rejects] == ["tenant-ban"] and parsed.invoices == []


REJECTS = [
    (dict(tenant_ban="53212539"), "tenant"),
    (dict(tenant_ban="88117126"), "tenant"),
    (dict(invoice_date="2025-02-30"), "invoice-date"),
    (dict(invoice_date="2025/01/15"), "invoice-date"),
    (dict(invoice_date="2025-1-15"), "invoice-date"),
    (dict(invoice_date="2025-02-02"), "invoice-date"),        # future
    (dict(invoice_time="24:00:00"), "invoice-time"),
    (dict(invoice_time="9:00:00"), "invoice-time"),
    (dict(B2B, buyer_ban="88117126"), "buyer-ban"),
    (dict(B2B, buyer_name=""), "buyer-name"),
    (dict(donate_mark="2"), "donate-mark"),
    (dict(print_mark="Y"), "print-mark"),                      # printed, yet a carrier
    (dict(DONATION, print_mark="Y"), "print-mark"),
    (dict(print_mark="X"), "print-mark"),
    (dict(carrier_type="", carrier_id=""), "carrier"),         # N, no donation, no carrier
    (dict(carrier_id=""), "carrier"),
    (dict(DONATION, npoban=""), "npoban"),
    (dict(DONATION, npoban="12"), "npoban"),
    (dict(npoban="8585"), "npoban"),                           # npoban without donation
    (dict(B2B, print_mark="N", donate_mark="1", npoban="8585"), "donate-mark"),
    (dict(carrier_id="ABC+1234"), "carrier"),
    (dict(carrier_id="/abc+123"), "carrier"),
    (dict(carrier_id="/ABC+1234"), "carrier"),
    (dict(carrier_type="CQ0001", carrier_id="AB123"), "carrier"),
    (dict(tax_type="9"), "tax-type"),
    (dict(tax_type="4"), "tax-type"),
    (dict(tax_type="2"), "zero-rated"),
    (dict(amount="150"), "item-amount"),
    (dict(quantity="two"), "quantity"),
    (dict(amount="-1", quantity="-1", unit_price="1"), "amount"),
    (dict(order_id="A" * 21), "order-id"),
    (dict(order_id="A B"), "order-id"),
    (dict(description=""), "description"),
]


@pytest.mark.parametrize("changes, rule", REJECTS, ids=[f"{rule}-{i}" for i, (_, rule) in enumerate(REJECTS)])
def test_upload_rejects_invoice_but_not_upload(changes, rule):
    good = row(order_id="GOOD-1")
    parsed = parse([good, row(**changes), good])
    assert [(reject.rule, reject.rows) for reject in parsed.rejects] == [(rule, (3,))]
    assert [(invoice.order_id, invoice.rows) for invoice in parsed.invoices] == [("GOOD-1", [2, 4])]
    assert parsed.rows == 3 and parsed.invoice_count == 2


@pytest.mark.parametrize("customs, reason", [("", ""), ("1", ""), ("", "71"), ("3", "71"), ("1", "70")])
def test_upload_zero_rated_needs_both_columns(customs, reason):
    parsed = parse([row(tax_type="2", customs_clearance_mark=customs, zero_tax_rate_reason=reason)], ALL_COLUMNS)
    assert [reject.rule for reject in parsed.rejects] == ["zero-rated"]


def test_upload_zero_rated_columns_only_for_zero_rated_items():
    parsed = parse([row(customs_clearance_mark="1", zero_tax_rate_reason="71")], ALL_COLUMNS)
    assert [reject.rule for reject in parsed.rejects] == ["zero-rated"]


def test_upload_reject_carries_every_row_of_its_invoice():
    rows = [row(order_id="A"), row(order_id="B"), row(order_id="A", amount="150"), row(order_id="C"),
            row(order_id="A")]
    parsed = parse(rows)
    assert [(r.order_id, r.rule, r.rows) for r in parsed.rejects] == [("A", "item-amount", (2, 4, 6))]
    assert "row 4" in parsed.rejects[0].message
    assert [(i.order_id, i.rows) for i in parsed.invoices] == [("B", [3]), ("C", [5])]


def test_upload_inconsistent_rows():
    parsed = parse([row(), row(order_id="B"), row(invoice_time="10:20:31")])
    assert [(r.rule, r.rows) for r in parsed.rejects] == [("inconsistent-rows", (2, 4))]
    assert [i.order_id for i in parsed.invoices] == ["B"]


def test_upload_wrong_field_count():
    extra = [row()[name] for name in REQUIRED_COLUMNS] + ["surplus"]
    short = [row(order_id="C")[name] for name in REQUIRED_COLUMNS][:-1]
    parsed = parse([row(), row(order_id="B"), extra, short])
    assert sorted((r.order_id, r.rule, r.rows) for r in parsed.rejects) == [
        ("C", "row-columns", (5,)), ("O-1", "row-columns", (2, 4))]
    assert [i.order_id for i in parsed.invoices] == ["B"]


def test_upload_item_count_limit():
    rows = [row(order_id="BIG", description=f"item {n}") for n in range(10_000)] + [row(order_id="SMALL")]
    parsed = parse(rows)
    assert [(r.order_id, r.rule, len(r.rows)) for r in parsed.rejects] == [("BIG", "item-count", 10_000)]
    assert parsed.rejects[0].rows == tuple(range(2, 10_002))
    assert [i.order_id for i in parsed.invoices] == ["SMALL"]
    assert len(only_invoice(rows[:9999]).items) == 9999


def test_upload_bom_and_blank_lines_are_fine():
    data = b"\xef\xbb\xbf" + csv_bytes([row()]) + b"\n\n"
    parsed = parse_upload(data, uploader_ban=UPLOADER, today=TODAY)
    assert len(parsed.invoices) == 1 and parsed.rejects == [] and parsed.rows == 1


@pytest.mark.parametrize("data", [
    csv_bytes([row()], REQUIRED_COLUMNS[:-1]),                              # tax_type column missing
    csv_bytes([row()], REQUIRED_COLUMNS + ("remark",)),                     # unknown column
    csv_bytes([row(description="瓦斯")]).decode().encode("big5"),            # not UTF-8
    b"",
], ids=["missing-column", "unknown-column", "big5", "empty"])
def test_upload_refused_as_a_whole(data):
    with pytest.raises(UploadRefused):
        parse_upload(data, uploader_ban=UPLOADER, today=TODAY)


# ---------------------------------------------------------------- F0401


def document(invoice: UploadedInvoice, number: str = "AB12345678") -> InvoiceDocument:
    a = invoice.amounts
    return InvoiceDocument(
        invoice_number=number, invoice_date=invoice.invoice_date, invoice_time=invoice.invoice_time,
        order_id=invoice.order_id, buyer_ban=invoice.buyer_ban, buyer_name=invoice.buyer_name,
        carrier_type=invoice.carrier_type, carrier_id=invoice.carrier_id, donate_mark=invoice.donate_mark,
        npoban=invoice.npoban, print_mark=invoice.print_mark, customs_clearance_mark=invoice.customs_clearance_mark,
        zero_tax_rate_reason=invoice.zero_tax_rate_reason,
        items=tuple((i.description, format(i.quantity, "f"), format(i.unit_price, "f"), format(i.amount, "f"),
                     i.tax_type) for i in invoice.items),
        sales_amount=a.sales, free_tax_sales_amount=a.free_tax_sales, zero_tax_sales_amount=a.zero_tax_sales,
        tax_amount=a.tax, total_amount=a.total, tax_type=a.tax_type, tax_rate=Decimal(a.tax_rate))


KINDS = {
    "b2c-mobile-barcode": [row(), row(description="Stove", quantity="3", unit_price="33.3333333", amount="100")],
    "b2c-citizen-certificate": [row(carrier_type="CQ0001", carrier_id="AB12345678901234")],
    "b2c-printed": [row(carrier_type="", carrier_id="", print_mark="Y")],
    "b2b": [row(**B2B)],
    "donation": [row(**DONATION)],
    "zero-rated": [row(tax_type="2", customs_clearance_mark="2", zero_tax_rate_reason="79")],
    "mixed": [row(), row(description="Book", tax_type="3", quantity="1", unit_price="50", amount="50")],
    "b2b-mixed": [row(**B2B), row(**B2B, description="Book", tax_type="3")],
}
F0401_NS = {"f": schemas.NAMESPACES["F0401"]}


def kind_document(kind: str) -> InvoiceDocument:
    return document(only_invoice(KINDS[kind], ALL_COLUMNS))


def text(data: bytes, path: str) -> str | None:
    return etree.fromstring(data).findtext(path, namespaces=F0401_NS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_f0401_for_every_accepted_kind_validates(kind):
    doc = kind_document(kind)
    data = validated_f0401(SELLER, doc)
    root = etree.fromstring(data)
    schemas.validate("F0401", root)  # the XSD is the judge
    assert schemas.message_type_of(root) == "F0401"
    assert text(data, "f:Main/f:Seller/f:Identifier") == "22099131"
    assert text(data, "f:Main/f:Buyer/f:Identifier") == (doc.buyer_ban or "0000000000")
    assert text(data, "f:Main/f:InvoiceDate") == doc.invoice_date.strftime("%Y%m%d")
    assert len(root.findall("f:Details/f:ProductItem", F0401_NS)) == len(doc.items)
    parts = sum(int(text(data, f"f:Amount/f:{name}")) for name in
                ("SalesAmount", "FreeTaxSalesAmount", "ZeroTaxSalesAmount", "TaxAmount"))
    assert parts == int(text(data, "f:Amount/f:TotalAmount")) == doc.total_amount
    assert (text(data, "f:Main/f:NPOBAN") is not None) == (doc.donate_mark == "1")


def test_f0401_is_deterministic():
    doc = kind_document("b2c-mobile-barcode")
    first, second = validated_f0401(SELLER, doc), validated_f0401(SELLER, doc._replace())
    assert first == second
    number = random_number(SELLER.ban, doc.invoice_number)
    assert re.fullmatch(r"\d{4}", number) and number == random_number("22099131", "AB12345678")
    assert text(first, "f:Main/f:RandomNumber") == number
    numbers = {random_number(SELLER.ban, f"AB{n:08d}") for n in range(200)}
    assert len(numbers) > 150 and all(re.fullmatch(r"\d{4}", n) for n in numbers)


def test_f0401_escapes_special_characters():
    doc = kind_document("b2b")
    nasty = 'Pipe <3/4"> & fittings > 2'
    doc = doc._replace(buyer_name="A&B <Co>", items=((nasty,) + doc.items[0][1:],))
    data = validated_f0401(SELLER, doc)
    assert b"A&amp;B &lt;Co&gt;" in data and b"<Co>" not in data
    assert text(data, "f:Details/f:ProductItem/f:Description") == nasty
    assert text(data, "f:Main/f:Buyer/f:Name") == "A&B <Co>"


def edited(kind: str, old: str, new: str, count: int = 1) -> etree._Element:
    data = validated_f0401(SELLER, kind_document(kind)).decode()
    assert old in data, old
    return etree.fromstring(data.replace(old, new, count).encode())


XSD_VIOLATIONS = {
    "invoice-number-lowercase": ("b2b", "<InvoiceNumber>AB12345678", "<InvoiceNumber>ab12345678"),
    "invoice-number-short": ("b2b", "<InvoiceNumber>AB12345678", "<InvoiceNumber>AB1234567"),
    "invoice-number-digits": ("b2b", "<InvoiceNumber>AB12345678", "<InvoiceNumber>A112345678"),
    "date-iso": ("b2b", "<InvoiceDate>20250115", "<InvoiceDate>2025-01-15"),
    "date-month-13": ("b2b", "<InvoiceDate>20250115", "<InvoiceDate>20251315"),
    "time": ("b2b", "<InvoiceTime>10:20:30", "<InvoiceTime>10:20"),
    "print-mark-x": ("b2b", "<PrintMark>Y", "<PrintMark>X"),
    "random-number-5": ("b2b", "</RandomNumber>", "7</RandomNumber>"),
    "random-number-letters": ("b2b", "<RandomNumber>", "<RandomNumber>A"),
    "no-product-items": ("b2b", None, None),
    "tax-amount-decimals": ("b2b", "<TaxAmount>14</TaxAmount><TotalAmount>294",
                            "<TaxAmount>14.5</TaxAmount><TotalAmount>294.5"),
    "tax-rate-0.03": ("b2b", "<TaxRate>0.05", "<TaxRate>0.03"),
    "invoice-type-09": ("b2b", "<InvoiceType>07", "<InvoiceType>09"),
    "donate-mark-2": ("b2b", "<DonateMark>0", "<DonateMark>2"),
    "zero-tax-reason-70": ("zero-rated", "<ZeroTaxRateReason>79", "<ZeroTaxRateReason>70"),
    "wrong-namespace": ("b2b", "F0401:4.1", "F0401:4.0"),
}


@pytest.mark.parametrize("case", sorted(XSD_VIOLATIONS))
def test_f0401_xsd_violations(case):
    kind, old, new = XSD_VIOLATIONS[case]
    if old is None:
        data = validated_f0401(SELLER, kind_document(kind)).decode()
        root = etree.fromstring(re.sub(r"<Details>.*</Details>", "<Details></Details>", data).encode())
    else:
        root = edited(kind, old, new)
    with pytest.raises(schemas.SchemaViolation):
        check_document(root)


RULE_VIOLATIONS = {
    "total-not-sum": ("b2b", "<TotalAmount>294", "<TotalAmount>295"),
    "tax-not-in-total": ("b2b", "<TaxAmount>14", "<TaxAmount>15"),
    "item-tax-type-9": ("b2b", "<TaxType>1</TaxType><Amount>280", "<TaxType>9</TaxType><Amount>280"),
    "printed-and-donated": ("donation", "<PrintMark>N", "<PrintMark>Y"),
    "printed-with-carrier": ("b2c-mobile-barcode", "<PrintMark>N", "<PrintMark>Y"),
}


@pytest.mark.parametrize("case", sorted(RULE_VIOLATIONS))
def test_f0401_rule_violations(case):
    root = edited(*RULE_VIOLATIONS[case])
    schemas.validate("F0401", root)  # the XSD lets it through: the rule is ours
    with pytest.raises(InvoiceRuleViolation):
        check_document(root)


CONTRACT_GAPS = {
    # contract F0401: "N and not donated: CarrierType, CarrierId1, CarrierId2 all required"
    "print-n-no-carrier": ("b2c-mobile-barcode", re.compile(r"<CarrierType>.*</CarrierId2>"), ""),
    # contract F0401: "DonateMark 1 needs NPOBAN"
    "donated-without-npoban": ("donation", re.compile(r"<NPOBAN>\d+</NPOBAN>"), ""),
    # contract F0401: "zero-rated (TaxType 2) needs CustomsClearanceMark and ZeroTaxRateReason"
    "zero-rated-without-marks": ("zero-rated", re.compile(r"<CustomsClearanceMark>\d</CustomsClearanceMark>|"
                                                          r"<ZeroTaxRateReason>\d+</ZeroTaxRateReason>"), ""),
    # contract F0401: "TaxAmount and the five totals whole numbers for domestic sellers"
    "fractional-totals": ("b2b", re.compile(r"<SalesAmount>280</SalesAmount>(.*)<TotalAmount>294"),
                          r"<SalesAmount>280.5</SalesAmount>\1<TotalAmount>294.5"),
}


@pytest.mark.parametrize("case", sorted(CONTRACT_GAPS))
def test_f0401_contract_rules_beyond_the_xsd(case):
    kind, pattern, replacement = CONTRACT_GAPS[case]
    data = validated_f0401(SELLER, kind_document(kind)).decode()
    changed = pattern.sub(replacement, data)
    assert changed != data
    root = etree.fromstring(changed.encode())
    schemas.validate("F0401", root)
    with pytest.raises(InvoiceRuleViolation):
        check_document(root)


def test_validated_f0401_refuses_bad_documents():
    doc = kind_document("b2b")
    with pytest.raises(InvoiceRuleViolation):
        validated_f0401(SELLER, doc._replace(total_amount=doc.total_amount + 1))
    with pytest.raises(schemas.SchemaViolation):
        validated_f0401(SELLER, doc._replace(invoice_number="AB1234567X"))
    with pytest.raises(schemas.SchemaViolation):
        validated_f0401(SELLER, doc._replace(items=()))


def test_a_batch_is_judged_as_each_document_alone():
    good = [kind_document(kind) for kind in sorted(KINDS)]
    doc = kind_document("b2b")
    bad_schema, bad_rule = doc._replace(invoice_number="AB1234567X"), doc._replace(total_amount=doc.total_amount + 1)
    batch = [*good[:3], bad_schema, *good[3:], bad_rule]
    results = validated_f0401_batch(SELLER, batch)
    assert [data for data in results if isinstance(data, bytes)] == [validated_f0401(SELLER, d) for d in good]
    assert isinstance(results[3], schemas.SchemaViolation) and "AB1234567X" in str(results[3])
    assert isinstance(results[-1], InvoiceRuleViolation)
    texts = [validated_f0401(SELLER, d) for d in good]
    assert schemas.all_valid("F0401", texts)
    assert not schemas.all_valid("F0401", [*texts, f0401_xml(SELLER, bad_schema)])
    assert not schemas.all_valid("F0401", [*texts, b"<Invoice"])  # not even well-formed
    # A document of another type is no F0401, even inside a batch of good ones.
    assert not schemas.all_valid("F0401", [*texts, e0501_xml(RANGE)])


# ---------------------------------------------------------------- Turnkey

FAILED_AT = datetime(2025, 1, 15, 10, 0)


@pytest.mark.parametrize("attempts, delay", [(1, timedelta(minutes=1)), (2, timedelta(minutes=5)),
                                             (3, timedelta(minutes=15)), (4, timedelta(hours=1)),
                                             (5, timedelta(hours=4)), (6, None), (7, None)])
def test_next_resend_at(attempts, delay):
    expected = FAILED_AT + delay if delay else None
    assert next_resend_at(FAILED_AT, attempts) == expected


def test_read_process_result_accepted_and_refused():
    assert f0401_file_name("22099131", "AB12345678") == "F0401_22099131_AB12345678.xml"
    accepted = read_result_message(process_result_xml("22099131", "AB12345678", 1234, "0", "OK"), "ok.xml")
    assert [(o.seller_ban, o.invoice_number, o.invoice_date, o.accepted) for o in accepted] == [
        ("22099131", "AB12345678", None, True)]
    refused = read_result_message(process_result_xml("53212539", "CD00000049", 99, "E0401", "bad <amount> & co"),
                                  "err.xml")
    assert [(o.seller_ban, o.invoice_number, o.accepted) for o in refused] == [("53212539", "CD00000049", False)]
    assert "E0401" in refused[0].reason and "bad <amount> & co" in refused[0].reason


def test_read_summary_result():
    day = date(2025, 1, 15)
    data = summary_result_xml("22099131", [("AB12345678", day), ("AB12345679", day)], [("AB12345680", date(2025, 1, 16))])
    outcomes = read_result_message(data, "summary.xml")
    assert sorted((o.seller_ban, o.invoice_number, o.invoice_date, o.accepted) for o in outcomes) == [
        ("22099131", "AB12345678", day, True), ("22099131", "AB12345679", day, True),
        ("22099131", "AB12345680", date(2025, 1, 16), False)]


@pytest.mark.parametrize("data", [
    process_result_xml("22099131", "AB12345678", 1, "0", "OK").replace(
        b"?>\n", b'?>\n<!DOCTYPE ProcessResult [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n', 1),
    process_result_xml("22099131", "AB12345678", 1, "0", "OK").replace(b"?>\n", b"?>\n<!DOCTYPE ProcessResult>\n", 1),
    process_result_xml("22099131", "AB12345678", 1, "0", "OK").replace(b"<Size>1</Size>", b""),   # XSD
    e0501_xml(RANGE),                                                                             # not a result
    b"<ProcessResult",                                                                            # not well-formed
], ids=["doctype-entity", "doctype", "schema-invalid", "not-a-result", "broken"])
def test_unreadable_results(data):
    with pytest.raises(ResultUnreadable):
        read_result_message(data, "bad.xml")

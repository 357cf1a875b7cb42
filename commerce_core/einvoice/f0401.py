"""One numbered invoice → F0401 MIG 4.1 XML (urn:GEINV:eInvoiceMessage:F0401:4.1).

The document is written as text in one pass (element order fixed, every value
escaped), then parsed and judged by the official XSD before anyone writes it to
disk. The same invoice always gives the same bytes: the random number comes from
the invoice itself, so a rerun or a resend never produces a different file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

from lxml import etree

from commerce_core.einvoice import schemas

NAMESPACE = schemas.NAMESPACES["F0401"]
GENERAL_INVOICE = "07"
CONSUMER_IDENTIFIER = "0000000000"
CONSUMER_NAME = "消費者"


@dataclass(frozen=True)
class Seller:
    ban: str
    name: str
    address: str = ""


@dataclass(frozen=True)
class InvoiceDocument:
    """Everything F0401 says about one invoice, as the database holds it."""

    invoice_number: str
    invoice_date: date
    invoice_time: str
    order_id: str
    buyer_ban: str
    buyer_name: str
    carrier_type: str
    carrier_id: str
    donate_mark: str
    npoban: str
    print_mark: str
    customs_clearance_mark: str
    zero_tax_rate_reason: str
    items: tuple[tuple[str, str, str, str, str], ...]  # description, quantity, unit_price, amount, tax_type
    sales_amount: int
    free_tax_sales_amount: int
    zero_tax_sales_amount: int
    tax_amount: int
    total_amount: int
    tax_type: str
    tax_rate: Decimal


def random_number(seller_ban: str, invoice_number: str) -> str:
    """The 4-digit anti-forgery code, fixed per invoice so every rewrite is byte-identical."""
    digest = hashlib.sha256(f"{seller_ban}:{invoice_number}".encode()).digest()
    return f"{int.from_bytes(digest[:4], 'big') % 10000:04d}"


def _tag(name: str, value: str) -> str:
    return f"<{name}>{escape(value)}</{name}>"


def _role(identifier: str, name: str, address: str = "") -> str:
    return _tag("Identifier", identifier) + _tag("Name", name) + (_tag("Address", address) if address else "")


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def f0401_xml(seller: Seller, invoice: InvoiceDocument) -> bytes:
    buyer_id = invoice.buyer_ban or CONSUMER_IDENTIFIER
    buyer_name = invoice.buyer_name or CONSUMER_NAME
    main = [
        _tag("InvoiceNumber", invoice.invoice_number),
        _tag("InvoiceDate", invoice.invoice_date.strftime("%Y%m%d")),
        _tag("InvoiceTime", invoice.invoice_time),
        f"<Seller>{_role(seller.ban, seller.name, seller.address)}</Seller>",
        f"<Buyer>{_role(buyer_id, buyer_name)}</Buyer>",
    ]
    if invoice.customs_clearance_mark:
        main.append(_tag("CustomsClearanceMark", invoice.customs_clearance_mark))
    main += [_tag("RelateNumber", invoice.order_id), _tag("InvoiceType", GENERAL_INVOICE),
             _tag("DonateMark", invoice.donate_mark)]
    if invoice.carrier_type:
        main += [_tag("CarrierType", invoice.carrier_type), _tag("CarrierId1", invoice.carrier_id),
                 _tag("CarrierId2", invoice.carrier_id)]
    main.append(_tag("PrintMark", invoice.print_mark))
    if invoice.npoban:
        main.append(_tag("NPOBAN", invoice.npoban))
    main.append(_tag("RandomNumber", random_number(seller.ban, invoice.invoice_number)))
    if invoice.zero_tax_rate_reason:
        main.append(_tag("ZeroTaxRateReason", invoice.zero_tax_rate_reason))
    details = [
        "<ProductItem>" + _tag("Description", description) + f"<Quantity>{quantity}</Quantity>"
        f"<UnitPrice>{unit_price}</UnitPrice><TaxType>{tax_type}</TaxType><Amount>{amount}</Amount>"
        f"<SequenceNumber>{sequence}</SequenceNumber></ProductItem>"
        for sequence, (description, quantity, unit_price, amount, tax_type) in enumerate(invoice.items, start=1)
    ]
    amount = (
        f"<SalesAmount>{invoice.sales_amount}</SalesAmount>"
        f"<FreeTaxSalesAmount>{invoice.free_tax_sales_amount}</FreeTaxSalesAmount>"
        f"<ZeroTaxSalesAmount>{invoice.zero_tax_sales_amount}</ZeroTaxSalesAmount>"
        f"<TaxType>{invoice.tax_type}</TaxType><TaxRate>{_decimal_text(invoice.tax_rate)}</TaxRate>"
        f"<TaxAmount>{invoice.tax_amount}</TaxAmount><TotalAmount>{invoice.total_amount}</TotalAmount>"
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Invoice xmlns="{NAMESPACE}"><Main>{"".join(main)}</Main>'
        f'<Details>{"".join(details)}</Details><Amount>{amount}</Amount></Invoice>\n'
    ).encode()


class InvoiceRuleViolation(ValueError):
    """F0401 rules the XSD cannot express (totals, tax type 9 on an item)."""


def check_document(root: etree._Element) -> None:
    """XSD first, then the arithmetic the Turnkey checker leaves to us."""
    schemas.validate("F0401", root)
    ns = {"f": NAMESPACE}

    def number(path: str) -> Decimal:
        return Decimal(root.findtext(path, namespaces=ns))

    parts = sum(number(f"f:Amount/f:{name}") for name in
                ("SalesAmount", "FreeTaxSalesAmount", "ZeroTaxSalesAmount", "TaxAmount"))
    if parts != number("f:Amount/f:TotalAmount"):
        raise InvoiceRuleViolation(f"TotalAmount {number('f:Amount/f:TotalAmount')} is not the sum of its parts {parts}")
    if root.find("f:Details/f:ProductItem[f:TaxType='9']", namespaces=ns) is not None:
        raise InvoiceRuleViolation("an item's TaxType is 9")
    main = {element.tag.rsplit("}", 1)[1]: element.text for element in root.find("f:Main", namespaces=ns)}
    if main["PrintMark"] == "Y" and (main["DonateMark"] == "1" or "CarrierType" in main):
        raise InvoiceRuleViolation("PrintMark Y with a donation or a carrier")
    if main["PrintMark"] == "N" and main["DonateMark"] == "0" and not all(
            main.get(name) for name in ("CarrierType", "CarrierId1", "CarrierId2")):
        raise InvoiceRuleViolation("PrintMark N without donation needs CarrierType, CarrierId1 and CarrierId2")
    if main["DonateMark"] == "1" and not main.get("NPOBAN"):
        raise InvoiceRuleViolation("DonateMark 1 needs NPOBAN")
    if root.find("f:Details/f:ProductItem[f:TaxType='2']", namespaces=ns) is not None and not (
            main.get("CustomsClearanceMark") and main.get("ZeroTaxRateReason")):
        raise InvoiceRuleViolation("zero-rated items need CustomsClearanceMark and ZeroTaxRateReason")
    for name in ("SalesAmount", "FreeTaxSalesAmount", "ZeroTaxSalesAmount", "TotalAmount"):
        if number(f"f:Amount/f:{name}") % 1:
            raise InvoiceRuleViolation(f"{name} must be a whole number for a domestic seller")


def validated_f0401(seller: Seller, invoice: InvoiceDocument) -> bytes:
    """The F0401 bytes, only once they pass the XSD and the rules."""
    data = f0401_xml(seller, invoice)
    check_document(etree.fromstring(data))
    return data

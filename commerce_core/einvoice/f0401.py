"""One numbered invoice → F0401 MIG 4.1 XML (urn:GEINV:eInvoiceMessage:F0401:4.1).

The document is written as text in one pass (element order fixed, every value
escaped), then parsed and judged by the official XSD before anyone writes it to
disk. The same invoice always gives the same bytes: the random number comes from
the invoice itself, so a rerun or a resend never produces a different file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple
from xml.sax.saxutils import escape

from lxml import etree

from commerce_core.einvoice import schemas
from commerce_core.einvoice.schemas import SchemaViolation

NAMESPACE = schemas.NAMESPACES["F0401"]
GENERAL_INVOICE = "07"
CONSUMER_IDENTIFIER = "0000000000"
CONSUMER_NAME = "消費者"


@dataclass(frozen=True)
class Seller:
    ban: str
    name: str
    address: str = ""


class InvoiceDocument(NamedTuple):
    """Everything F0401 says about one invoice, as the database holds it (a tuple: a day's batch
    builds hundreds of thousands, and a tuple is built several times faster than a frozen dataclass)."""

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
    """A text element; only free text can hold &, < or >, so plain values skip the escaping."""
    if "&" in value or "<" in value or ">" in value:
        value = escape(value)
    return f"<{name}>{value}</{name}>"


def _role(identifier: str, name: str, address: str = "") -> str:
    return _tag("Identifier", identifier) + _tag("Name", name) + (_tag("Address", address) if address else "")


@lru_cache(maxsize=1024)
def _seller_xml(seller: Seller) -> str:  # the same for each of a tenant's invoices
    return f"<Seller>{_role(seller.ban, seller.name, seller.address)}</Seller>"


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def f0401_xml(seller: Seller, invoice: InvoiceDocument) -> bytes:
    buyer_id = invoice.buyer_ban or CONSUMER_IDENTIFIER
    buyer_name = invoice.buyer_name or CONSUMER_NAME
    main = [
        _tag("InvoiceNumber", invoice.invoice_number),
        _tag("InvoiceDate", invoice.invoice_date.isoformat().replace("-", "")),
        _tag("InvoiceTime", invoice.invoice_time),
        _seller_xml(seller),
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
    """F0401 rules the XSD cannot express (marks that need each other, totals, tax type 9 on an item)."""


_TOTALS = ("SalesAmount", "FreeTaxSalesAmount", "ZeroTaxSalesAmount", "TaxAmount", "TotalAmount")


def _check_rules(main: Mapping[str, str | None], item_tax_types: set[str], amounts: Mapping[str, Decimal]) -> None:
    if sum(amounts[name] for name in _TOTALS[:4]) != amounts["TotalAmount"]:
        raise InvoiceRuleViolation(f"TotalAmount {amounts['TotalAmount']} is not the sum of its parts")
    for name in _TOTALS:
        if amounts[name] % 1:
            raise InvoiceRuleViolation(f"{name} must be a whole number for a domestic seller")
    if "9" in item_tax_types:
        raise InvoiceRuleViolation("an item's TaxType is 9")
    if main["PrintMark"] == "Y" and (main["DonateMark"] == "1" or main.get("CarrierType")):
        raise InvoiceRuleViolation("PrintMark Y with a donation or a carrier")
    if main["PrintMark"] == "N" and main["DonateMark"] == "0" and not all(
            main.get(name) for name in ("CarrierType", "CarrierId1", "CarrierId2")):
        raise InvoiceRuleViolation("PrintMark N without donation needs CarrierType, CarrierId1 and CarrierId2")
    if main["DonateMark"] == "1" and not main.get("NPOBAN"):
        raise InvoiceRuleViolation("DonateMark 1 needs NPOBAN")
    if "2" in item_tax_types and not (main.get("CustomsClearanceMark") and main.get("ZeroTaxRateReason")):
        raise InvoiceRuleViolation("zero-rated items need CustomsClearanceMark and ZeroTaxRateReason")


def check_document(root: etree._Element) -> None:
    """Any F0401 (ours or not): the official XSD first, then the rules it cannot express."""
    schemas.validate("F0401", root)
    ns = {"f": NAMESPACE}
    main = {element.tag.rsplit("}", 1)[1]: element.text for element in root.find("f:Main", namespaces=ns)}
    amounts = {name: Decimal(element.text) for element in root.find("f:Amount", namespaces=ns)
               if (name := element.tag.rsplit("}", 1)[1]) in _TOTALS}
    item_tax_types = {element.text for element in root.iterfind("f:Details/f:ProductItem/f:TaxType", namespaces=ns)}
    _check_rules(main, item_tax_types, amounts)


BadDocument = SchemaViolation | InvoiceRuleViolation


def validated_f0401_batch(seller: Seller, invoices: Sequence[InvoiceDocument]) -> list[bytes | BadDocument]:
    """Each invoice's F0401 bytes, once the XSD accepts them and the rules hold for the invoice they say;
    else the reason, in the invoice's place. The XSD judges the lot at once and each one alone only when
    the lot fails, so a bad invoice costs a second look and never its neighbours' place."""
    texts = [f0401_xml(seller, invoice) for invoice in invoices]
    results: list[bytes | BadDocument] = []
    together = schemas.all_valid("F0401", texts)
    for invoice, data in zip(invoices, texts):
        try:
            if not together:
                schemas.validate("F0401", _parsed(data))
            _check_invoice_rules(invoice)
        except (SchemaViolation, InvoiceRuleViolation) as error:
            results.append(error)
        else:
            results.append(data)
    return results


def _parsed(data: bytes) -> etree._Element:
    try:
        return etree.fromstring(data)
    except etree.XMLSyntaxError as error:
        raise SchemaViolation("F0401", [f"not well-formed XML: {error}"]) from None


def validated_f0401(seller: Seller, invoice: InvoiceDocument) -> bytes:
    """One invoice's F0401 bytes; raises SchemaViolation or InvoiceRuleViolation."""
    result = validated_f0401_batch(seller, [invoice])[0]
    if isinstance(result, Exception):
        raise result
    return result


def _check_invoice_rules(invoice: InvoiceDocument) -> None:
    carrier = invoice.carrier_id if invoice.carrier_type else None
    main = {"PrintMark": invoice.print_mark, "DonateMark": invoice.donate_mark, "CarrierType": invoice.carrier_type,
            "CarrierId1": carrier, "CarrierId2": carrier, "NPOBAN": invoice.npoban,
            "CustomsClearanceMark": invoice.customs_clearance_mark, "ZeroTaxRateReason": invoice.zero_tax_rate_reason}
    amounts = {"SalesAmount": invoice.sales_amount, "FreeTaxSalesAmount": invoice.free_tax_sales_amount,
               "ZeroTaxSalesAmount": invoice.zero_tax_sales_amount, "TaxAmount": invoice.tax_amount,
               "TotalAmount": invoice.total_amount}
    _check_rules(main, {item[4] for item in invoice.items}, amounts)

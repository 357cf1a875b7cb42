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


def _text(value: str) -> str:
    """Element text; only free text can hold &, < or >, so plain values skip the escaping."""
    return escape(value) if "&" in value or "<" in value or ">" in value else value


@lru_cache(maxsize=1024)
def _seller_xml(seller: Seller) -> str:  # the same for each of a tenant's invoices
    address = f"<Address>{_text(seller.address)}</Address>" if seller.address else ""
    return f"<Seller><Identifier>{_text(seller.ban)}</Identifier><Name>{_text(seller.name)}</Name>{address}</Seller>"


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _item_xml(sequence: int, item: tuple[str, str, str, str, str]) -> str:
    description, quantity, unit_price, amount, tax_type = item
    return (f"<ProductItem><Description>{_text(description)}</Description><Quantity>{quantity}</Quantity>"
            f"<UnitPrice>{unit_price}</UnitPrice><TaxType>{tax_type}</TaxType><Amount>{amount}</Amount>"
            f"<SequenceNumber>{sequence}</SequenceNumber></ProductItem>")


def f0401_xml(seller: Seller, invoice: InvoiceDocument) -> bytes:
    """One template, in the XSD's element order; optional elements appear only with a value."""
    (number, day, time, order_id, buyer_ban, buyer_name, carrier_type, carrier_id, donate_mark, npoban, print_mark,
     customs_clearance_mark, zero_tax_rate_reason, items, sales, free_tax_sales, zero_tax_sales, tax, total,
     tax_type, tax_rate) = invoice
    customs = (f"<CustomsClearanceMark>{_text(customs_clearance_mark)}</CustomsClearanceMark>"
               if customs_clearance_mark else "")
    carrier = (f"<CarrierType>{_text(carrier_type)}</CarrierType><CarrierId1>{_text(carrier_id)}</CarrierId1>"
               f"<CarrierId2>{_text(carrier_id)}</CarrierId2>" if carrier_type else "")
    donation = f"<NPOBAN>{_text(npoban)}</NPOBAN>" if npoban else ""
    zero_tax = f"<ZeroTaxRateReason>{_text(zero_tax_rate_reason)}</ZeroTaxRateReason>" if zero_tax_rate_reason else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Invoice xmlns="{NAMESPACE}"><Main>'
        f"<InvoiceNumber>{_text(number)}</InvoiceNumber><InvoiceDate>{day.isoformat().replace('-', '')}</InvoiceDate>"
        f"<InvoiceTime>{_text(time)}</InvoiceTime>{_seller_xml(seller)}"
        f"<Buyer><Identifier>{_text(buyer_ban) or CONSUMER_IDENTIFIER}</Identifier>"
        f"<Name>{_text(buyer_name) or CONSUMER_NAME}</Name></Buyer>{customs}"
        f"<RelateNumber>{_text(order_id)}</RelateNumber><InvoiceType>{GENERAL_INVOICE}</InvoiceType>"
        f"<DonateMark>{_text(donate_mark)}</DonateMark>{carrier}<PrintMark>{_text(print_mark)}</PrintMark>{donation}"
        f"<RandomNumber>{random_number(seller.ban, number)}</RandomNumber>{zero_tax}</Main>"
        f"<Details>{''.join([_item_xml(sequence, item) for sequence, item in enumerate(items, start=1)])}</Details>"
        f"<Amount><SalesAmount>{sales}</SalesAmount><FreeTaxSalesAmount>{free_tax_sales}</FreeTaxSalesAmount>"
        f"<ZeroTaxSalesAmount>{zero_tax_sales}</ZeroTaxSalesAmount><TaxType>{tax_type}</TaxType>"
        f"<TaxRate>{_decimal_text(tax_rate)}</TaxRate><TaxAmount>{tax}</TaxAmount><TotalAmount>{total}</TotalAmount>"
        "</Amount></Invoice>\n"
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

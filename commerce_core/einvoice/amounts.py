"""The project's amount rule (docs/protocols/einvoice-turnkey.md): 5 % tax, whole dollars, half-up.

T is the taxable (tax type 1) total. Consumer (B2C) amounts include tax:
SalesAmount = round(T / 1.05), TaxAmount = T − SalesAmount. Business (B2B) amounts
exclude it: SalesAmount = T, TaxAmount = round(T × 0.05). Zero-rated and tax-free
items sum into ZeroTaxSalesAmount / FreeTaxSalesAmount, and always
TotalAmount = SalesAmount + FreeTaxSalesAmount + ZeroTaxSalesAmount + TaxAmount.
Each sum is rounded to whole dollars before the rule is applied, since the MIG wants
whole numbers for domestic sellers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

TAX_RATE = Decimal("0.05")
TAXABLE, ZERO_RATED, TAX_FREE = "1", "2", "3"
MIXED = "9"  # the invoice-level TaxType when items differ; never an item's
_WHOLE = Decimal(1)


def whole(value: Decimal) -> int:
    return int(value.quantize(_WHOLE, rounding=ROUND_HALF_UP)) if value else 0


@dataclass(frozen=True)
class InvoiceAmounts:
    sales: int
    free_tax_sales: int
    zero_tax_sales: int
    tax: int
    total: int
    tax_type: str
    tax_rate: Decimal


def invoice_amounts(items: Iterable[tuple[str, Decimal]], *, business_buyer: bool) -> InvoiceAmounts:
    """`items` are (tax_type, amount) pairs."""
    sums = {TAXABLE: Decimal(0), ZERO_RATED: Decimal(0), TAX_FREE: Decimal(0)}
    types = set()
    for tax_type, amount in items:
        sums[tax_type] += amount
        types.add(tax_type)
    taxable, zero, free = whole(sums[TAXABLE]), whole(sums[ZERO_RATED]), whole(sums[TAX_FREE])
    if business_buyer:
        sales, tax = taxable, whole(taxable * TAX_RATE)
    else:
        sales = whole(taxable / (1 + TAX_RATE))
        tax = taxable - sales
    rate = TAX_RATE if TAXABLE in types else Decimal(0)
    invoice_type = next(iter(types)) if len(types) == 1 else MIXED
    return InvoiceAmounts(sales=sales, free_tax_sales=free, zero_tax_sales=zero, tax=tax,
                          total=sales + free + zero + tax, tax_type=invoice_type, tax_rate=rate)

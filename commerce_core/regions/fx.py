"""Currency conversion for regional prices: decimals only, rounded to the currency's minor unit."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# Decimal places a price is shown with (contract: JPY and TWD 0, USD 2).
MINOR_UNITS = {"TWD": 0, "JPY": 0, "USD": 2}
_QUANTUM = {currency: Decimal(1).scaleb(-places) for currency, places in MINOR_UNITS.items()}


class UnknownCurrency(ValueError):
    """A currency without a rate or without a known minor unit."""


def round_to_minor_unit(amount: Decimal, currency: str) -> Decimal:
    """Commercial rounding (half up) to the currency's smallest unit."""
    try:
        quantum = _QUANTUM[currency]
    except KeyError:
        raise UnknownCurrency(f"no minor unit known for currency {currency!r}") from None
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


def format_amount(amount: Decimal, currency: str) -> str:
    """The contract's decimal string: '1235' for TWD/JPY, '12.50' for USD."""
    # A quantized Decimal prints in plain notation for any price-sized amount.
    return str(round_to_minor_unit(amount, currency))


@dataclass(frozen=True)
class FxRates:
    """Units of each currency per one TWD (the catalog's home currency)."""

    per_twd: dict[str, Decimal]

    def __post_init__(self) -> None:
        bad = [f"{currency}={rate}" for currency, rate in self.per_twd.items() if not (rate.is_finite() and rate > 0)]
        if bad:
            raise ValueError(f"FX rates must be finite and positive: {', '.join(bad)}")

    def convert(self, amount: Decimal, source: str, target: str) -> Decimal:
        """Exact conversion; round only when showing the price."""
        if source == target:
            return amount
        for currency in (source, target):
            if currency not in self.per_twd:
                raise UnknownCurrency(f"no FX rate for {currency!r}; known: {', '.join(sorted(self.per_twd))}")
        return amount / self.per_twd[source] * self.per_twd[target]

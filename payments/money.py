"""Money at the edges: a provider's minor units (pence), and how an amount is shown.

Inside the app an amount is a Decimal with two places and a currency code beside it; only the provider's
API speaks in integers of the smallest unit. Every currency the clinic may set has two decimal places
(GBP, EUR, USD); a zero-decimal one (JPY) is refused rather than charged a hundred times over.
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
CENT = Decimal("0.01")


class UnsupportedCurrency(ValueError):
    pass


def _check(currency: str) -> str:
    code = (currency or "").upper()
    if code not in SYMBOLS:
        raise UnsupportedCurrency(f"Currency {currency!r} is not one the clinic takes.")
    return code


def to_minor(amount: Decimal, currency: str) -> int:
    _check(currency)
    return int((Decimal(amount) * 100).to_integral_value(rounding=ROUND_HALF_UP))


def from_minor(units: int, currency: str) -> Decimal:
    _check(currency)
    return (Decimal(int(units)) / 100).quantize(CENT)


def quantize(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def share(amount: Decimal, numerator: int, denominator: int) -> Decimal:
    """numerator/denominator of an amount, rounded DOWN to the penny: a pro-rata refund never pays out more
    than the unused part."""
    return (Decimal(amount) * numerator / denominator).quantize(CENT, rounding=ROUND_DOWN)


def format_money(amount: Decimal, currency: str) -> str:
    symbol = SYMBOLS.get((currency or "").upper())
    value = f"{quantize(amount):,.2f}"
    return f"{symbol}{value}" if symbol else f"{value} {currency}"

"""Exact arithmetic for anything money-like. Never binary floating point.

The documents define: exchange rate = A.offramp ÷ B.onramp; received =
floor(amount × rate); NFT points to burn = ceil(NFT onramp ÷ point onramp).
The behaviour notes add that "exact" means rational: no rounding in between.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from fractions import Fraction

Number = int | str | Decimal | Fraction


def to_fraction(value: Number) -> Fraction:
    """Parse a decimal written as a string (or int/Decimal) exactly."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int | Decimal):
        return Fraction(value)
    try:
        return Fraction(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError) as err:
        raise ValueError(f"not a decimal number: {value!r}") from err


def to_decimal(value: Number) -> Decimal:
    if isinstance(value, Fraction):
        return Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(to_fraction(value).numerator) / Decimal(to_fraction(value).denominator)


def exchange_rate(offramp_a: Number, onramp_b: Number) -> Fraction:
    on = to_fraction(onramp_b)
    if on == 0:
        raise ZeroDivisionError("onramp of the target token is zero")
    return to_fraction(offramp_a) / on


def received_amount(amount: int, rate: Number) -> int:
    """floor(amount × rate), exactly."""
    return math.floor(amount * to_fraction(rate))


def nft_points_to_burn(nft_onramp: Number, point_onramp: Number) -> int:
    """ceil(NFT onramp ÷ point onramp), exactly."""
    return math.ceil(to_fraction(nft_onramp) / to_fraction(point_onramp))


def float_received(amount: int, offramp_a: Number, onramp_b: Number) -> int:
    """What a server using binary floats would compute: used to pick revealing amounts."""
    return math.floor(amount * (float(to_fraction(offramp_a)) / float(to_fraction(onramp_b))))


def revealing_amounts(offramp_a: Number, onramp_b: Number, *, limit: int = 2000) -> list[int]:
    """Small amounts on which a wrong implementation gives another answer.

    Returns up to three amounts: one where binary floating point floors to a
    different integer, one whose exact product has a fractional part of at
    least one half (round-to-nearest differs from floor), and one where the
    inverted rate differs. A correct server is unaffected by the choice.
    """
    rate = exchange_rate(offramp_a, onramp_b)
    inverted = 1 / rate if rate else rate
    wanted: dict[str, int] = {}
    for amount in range(1, limit + 1):
        exact = received_amount(amount, rate)
        if "float" not in wanted and float_received(amount, offramp_a, onramp_b) != exact:
            wanted["float"] = amount
        if "round" not in wanted and amount * rate - exact >= Fraction(1, 2):
            wanted["round"] = amount
        if "invert" not in wanted and exact != math.floor(amount * inverted):
            wanted["invert"] = amount
        if len(wanted) == 3:
            break
    return sorted(set(wanted.values()))


def number_equals(observed: object, expected: Number) -> bool:
    """Compare a number the target sent (int, digit string, decimal string) exactly."""
    if observed is None or isinstance(observed, bool):
        return False
    if isinstance(observed, float):
        # JSON numbers may arrive as floats; compare via their shortest repr.
        observed = repr(observed)
    try:
        return to_fraction(observed) == to_fraction(expected)  # type: ignore[arg-type]
    except ValueError:
        return False

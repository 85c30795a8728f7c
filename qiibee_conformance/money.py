"""Exact arithmetic for anything money-like. Never binary floating point.

The documents define: exchange rate = A.offramp ÷ B.onramp; received =
floor(amount × rate); NFT points to burn = ceil(NFT onramp ÷ point onramp).
The behaviour notes add that "exact" means rational: no rounding in between.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, InvalidOperation
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
    except (InvalidOperation, ValueError, OverflowError) as err:  # OverflowError: "Infinity"
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


# Decimal places a careless server might round (or truncate) the rate to before multiplying.
ROUNDED_PLACES = (2, 4, 6, 8)
DECIMAL_PRECISION = 28  # Python's and Elixir's default significant digits


def _decimal_rate(offramp_a: Number, onramp_b: Number) -> Decimal:
    """The rate divided first in Decimal (28 significant digits), as a server that trusts
    Decimal division to be exact computes it."""
    context = Context(prec=DECIMAL_PRECISION, rounding=ROUND_HALF_EVEN)
    return context.divide(to_decimal(to_fraction(offramp_a)), to_decimal(to_fraction(onramp_b)))


def _decimal_received(amount: int, rate: Decimal) -> int:
    """floor(amount × rate) with the product also rounded to 28 significant digits."""
    context = Context(prec=DECIMAL_PRECISION, rounding=ROUND_HALF_EVEN)
    return math.floor(context.multiply(Decimal(amount), rate))


def _rounded_rate(rate: Fraction, places: int, rounding: str) -> Fraction:
    """The rate rounded to ``places`` decimals in ``rounding`` mode."""
    context = Context(prec=200)
    value = context.divide(Decimal(rate.numerator), Decimal(rate.denominator))
    return Fraction(value.quantize(Decimal(1).scaleb(-places), rounding=rounding, context=context))


def _wrong_ways(offramp_a: Number, onramp_b: Number) -> list[Callable[[int], int]]:
    """Received amounts as common mistakes compute them, the oldest-known first."""
    rate = exchange_rate(offramp_a, onramp_b)
    decimal_rate = _decimal_rate(offramp_a, onramp_b)
    ways: list[Callable[[int], int]] = [
        lambda a: float_received(a, offramp_a, onramp_b),
        lambda a: math.floor(a * rate + Fraction(1, 2)),  # round to nearest, not floor
        lambda a: math.floor(a / rate) if rate else 0,  # inverted rate
        lambda a: _decimal_received(a, decimal_rate),
    ]
    for places in ROUNDED_PLACES:
        for rounding in (ROUND_HALF_UP, ROUND_DOWN):
            ways.append(_floor_times(_rounded_rate(rate, places, rounding)))
    return ways


def _floor_times(rate: Fraction) -> Callable[[int], int]:
    """floor(amount × rate) for a fixed (wrongly rounded) rate."""
    return lambda amount: math.floor(amount * rate)


def _structural_amounts(rate: Fraction, low: int, limit: int) -> list[int]:
    """For a rate that is not whole: the smallest multiple of its denominator (an exact whole result,
    which any rate rounded down floors one too low) and the amount whose product has the largest
    fractional part (which any rate rounded up floors one too high)."""
    den = rate.denominator
    if den == 1 or low > limit:
        return []
    found = []
    multiple = den * max(1, math.ceil(Fraction(low, den)))
    if multiple <= limit:
        found.append(multiple)
    window = range(low, min(limit, low + den - 1) + 1)
    found.append(max(window, key=lambda a: ((a * rate.numerator) % den, -a)))
    return found


def revealing_amounts(offramp_a: Number, onramp_b: Number, *, limit: int = 2000, low: int = 1) -> list[int]:
    """Few amounts in [low, limit] on which a wrong implementation gives another answer.

    For each common mistake (binary floating point, rounding to nearest, an inverted rate,
    Decimal division first, a rate rounded or truncated to a few places) the smallest amount
    it gets wrong is added, unless an amount already chosen exposes it; then the two
    structural amounts of :func:`_structural_amounts`. A correct server is unaffected.
    """
    rate = exchange_rate(offramp_a, onramp_b)
    amounts = range(max(1, low), limit + 1)
    exact = {a: received_amount(a, rate) for a in amounts}
    chosen: list[int] = []
    for wrong in _wrong_ways(offramp_a, onramp_b):
        if any(wrong(a) != exact[a] for a in chosen):
            continue
        found = next((a for a in amounts if wrong(a) != exact[a]), None)
        if found is not None:
            chosen.append(found)
    chosen += _structural_amounts(rate, max(1, low), limit)
    return sorted(set(chosen))


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

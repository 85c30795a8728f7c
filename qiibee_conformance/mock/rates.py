"""Exact exchange arithmetic (Fractions), plus the deliberately wrong variants faults use."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction


def exact(value: str | Decimal) -> Fraction:
    """A decimal string as an exact rational."""
    return Fraction(Decimal(value))


def received(amount: int, rate: Fraction, *, round_nearest: bool = False) -> int:
    """floor(amount x rate), exactly; round_nearest is the exchange-round-nearest fault."""
    value = amount * rate
    if round_nearest:
        return math.floor(value + Fraction(1, 2))
    return math.floor(value)


def received_float(amount: int, numerator: str | Decimal | int, denominator: str | Decimal | int) -> int:
    """The exchange-float-math fault: binary floating point, as a careless server would."""
    return math.floor(amount * float(numerator) / float(denominator))


def nft_burn(nft_onramp: str, point_onramp: str, *, use_floor: bool = False) -> int:
    """ceil(NFT onramp / point onramp); use_floor is the nft-floor fault."""
    value = exact(nft_onramp) / exact(point_onramp)
    return math.floor(value) if use_floor else math.ceil(value)

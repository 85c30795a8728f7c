"""The amounts the checks choose: revealing, inside the pair's limits, exact."""

from __future__ import annotations

import math
from fractions import Fraction

from qiibee_conformance.checks.exchange import _override_plan
from qiibee_conformance.checks.exchange_run import (
    amounts_strictly_inside_limits,
    choose_amounts,
    minimal_amount,
)
from qiibee_conformance.money import float_received, received_amount
from tests.catalogue_helpers import pair


def test_amounts_reveal_float_rounding_and_inversion() -> None:
    p = pair("0.35", "0.1")
    amounts = choose_amounts(p)
    rate = Fraction(35, 10)
    assert any(float_received(a, "0.35", "0.1") != received_amount(a, rate) for a in amounts)
    assert any(a * rate - received_amount(a, rate) >= Fraction(1, 2) for a in amounts)
    assert any(received_amount(a, rate) != math.floor(a / rate) for a in amounts)


def test_amounts_respect_usd_limits() -> None:
    # 2 x 0.35 = 0.70 sits on the minimum (inclusiveness undocumented); 4 x 0.35 = 1.40 is over the maximum.
    p = pair("0.35", "0.0125", max_usd_exchange_limit="1.100", min_usd_exchange_limit="0.70")
    low, high = amounts_strictly_inside_limits(p)
    assert (low, high) == (3, 3)
    assert choose_amounts(p) == [3]


def test_some_amount_receives_something() -> None:
    p = pair("0.01", "7")
    assert any(received_amount(a, Fraction(1, 700)) >= 1 for a in choose_amounts(p))
    assert received_amount(minimal_amount(p), Fraction(1, 700)) >= 1


def test_override_plan_avoids_rounding_and_changes_result() -> None:
    p = pair("0.35", "0.1")
    base, amount, override = _override_plan(p)
    assert amount != base
    assert (amount * override).denominator == 1
    assert received_amount(base, override) != received_amount(base, Fraction(35, 10))

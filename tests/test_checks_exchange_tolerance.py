"""Amounts stay strictly inside USD limits; exchange rows are found by type before amount; CON-01
accepts a target that answers 202 to a whole burst and fails the excess at settlement."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pytest

from qiibee_conformance.checks.concurrency import exchange_burst
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.exchange import _override_plan
from qiibee_conformance.checks.exchange_run import PairRun, amounts_strictly_inside_limits, minimal_amount
from qiibee_conformance.checks.target import Target
from qiibee_conformance.client import ApiClient, Response
from qiibee_conformance.discovery import Pair
from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.findings import Untestable
from qiibee_conformance.money import received_amount, revealing_amounts
from qiibee_conformance.settings import Settings
from tests.catalogue_helpers import pair


def test_bounds_never_sit_on_a_limit() -> None:
    # 0.5 / 0.25 = 2 and 1.5 / 0.25 = 6 exactly: both are limits, so 3..5.
    p = pair("0.25", "0.1", min_usd_exchange_limit="0.5", max_usd_exchange_limit="1.5")
    assert amounts_strictly_inside_limits(p) == (3, 5)
    # Not whole: floor(0.3 / 0.25) + 1 = 2, ceil(1.6 / 0.25) - 1 = 6.
    p = pair("0.25", "0.1", min_usd_exchange_limit="0.3", max_usd_exchange_limit="1.6")
    assert amounts_strictly_inside_limits(p) == (2, 6)


def test_no_room_inside_the_limits_is_untestable() -> None:
    p = pair("0.25", "0.1", min_usd_exchange_limit="0.5", max_usd_exchange_limit="0.75")
    with pytest.raises(Untestable):
        amounts_strictly_inside_limits(p)


def test_minimal_amount_stays_inside_the_limits() -> None:
    p = pair("0.25", "0.1", min_usd_exchange_limit="0.5", max_usd_exchange_limit="1.5")
    assert minimal_amount(p) == 3


def test_override_amount_is_clamped_to_the_limits() -> None:
    # rate 2.5: base 3; the override 1/2 needs an even amount above 3 (4), inside 3..5.
    p = pair("0.25", "0.1", min_usd_exchange_limit="0.5", max_usd_exchange_limit="1.5")
    base, amount, override = _override_plan(p)
    low, high = amounts_strictly_inside_limits(p)
    assert low <= base <= high and low <= amount <= high and amount != base
    assert (amount * override).denominator == 1


def test_override_plan_untestable_when_no_multiple_fits() -> None:
    # Only the amount 3 fits (0.75 < 3 x 0.25 < 1.0 with limits 0.5 and 1.0): no second amount.
    p = pair("0.25", "0.1", min_usd_exchange_limit="0.5", max_usd_exchange_limit="1.0")
    assert amounts_strictly_inside_limits(p) == (3, 3)
    with pytest.raises(Untestable):
        _override_plan(p)


def row(kind: str, burned: int, status: str = "success") -> dict[str, Any]:
    return {"loyalty_event_type": kind, "points_burned": burned, "status": status}


def test_row_for_prefers_the_exchange_row_over_a_newer_reversal() -> None:
    run = PairRun(pair=pair("0.35", "0.1"), user="u", amounts=[7], funded=20)
    exchange = row("exchange", 7, "failed")
    run.rows = [row("reversal", 7), exchange, row("credit_points", 20)]  # newest first
    assert run.row_for(7) is exchange
    assert run.row_for(8) is None


def test_row_for_falls_back_to_another_type() -> None:
    run = PairRun(pair=pair("0.35", "0.1"), user="u", amounts=[7], funded=20)
    odd = row("points_exchange", 7)
    run.rows = [odd, row("credit_points", 20)]
    assert run.row_for(7) is odd


# CON-01 against a correct target that debits at settlement and holds nothing back ----------
KEY = "exchange-tolerance-key-3c1f"


@pytest.fixture
def no_hold_mock(start_mock: Callable[..., EmbeddedMock]) -> str:
    """The mock debiting at settlement and holding nothing back for pending exchanges: it
    answers 202 to every exchange the balance alone covers and fails the excess at settlement."""
    mock = start_mock(api_key=KEY, settle_delay=0.3, variants=["debit-at-settlement", "no-pending-hold"])
    return mock.base_url


class RecordingTarget(Target):
    """Remembers the status of every exchange request, to show the burst was all accepted."""

    def __init__(self, state: CheckContext) -> None:
        super().__init__(state)
        self.statuses: list[int] = []

    def exchange(self, user: str, pair: Pair | tuple[int, int], amount: object, **extra: Any) -> Response:
        response = super().exchange(user, pair, amount, **extra)
        with self.state.lock:
            self.statuses.append(response.status)
        return response


def test_burst_accepted_in_full_and_failed_at_settlement_conforms(no_hold_mock: str) -> None:
    settings = Settings(base_url=no_hold_mock, api_key=KEY, settle_timeout=10, burst_size=12)
    ctx = CheckContext(settings, ApiClient(no_hold_mock, KEY))
    recording = ctx.api = RecordingTarget(ctx)
    exchange_burst(ctx)  # raises Nonconformity on a false failure
    assert recording.statuses.count(202) == 12  # beyond the balance: the excess failed at settlement


# Amounts that expose a rate rounded before multiplying ------------------------------------
def wrong_received(amount: int, rate: Fraction, places: int, rounding: str) -> int:
    rounded = (Decimal(rate.numerator) / Decimal(rate.denominator)).quantize(
        Decimal(1).scaleb(-places), rounding
    )
    return math.floor(amount * Fraction(rounded))


@pytest.mark.parametrize(
    ("offramp", "onramp"), [("0.35", "0.3"), ("23.5", "24.2"), ("1", "3"), ("0.1", "0.12")]
)
def test_amounts_expose_rounded_and_divide_first_rates(offramp: str, onramp: str) -> None:
    rate = Fraction(Decimal(offramp)) / Fraction(Decimal(onramp))
    amounts = revealing_amounts(offramp, onramp, limit=2000)
    assert all(1 <= a <= 2000 for a in amounts) and len(amounts) <= 8
    for places in (2, 4):
        for rounding in (ROUND_HALF_UP, ROUND_DOWN):
            if any(
                wrong_received(a, rate, places, rounding) != received_amount(a, rate) for a in range(1, 2001)
            ):
                assert any(
                    wrong_received(a, rate, places, rounding) != received_amount(a, rate) for a in amounts
                ), (places, rounding)
    divided = Decimal(offramp) / Decimal(onramp)  # 28 significant digits: a rate rounded down shows
    if any(math.floor(a * divided) != received_amount(a, rate) for a in range(1, 2001)):
        assert any(math.floor(a * divided) != received_amount(a, rate) for a in amounts)
    assert any(a % rate.denominator == 0 for a in amounts)  # a whole result


def test_revealing_amounts_stay_inside_the_bounds() -> None:
    amounts = revealing_amounts("0.35", "0.3", limit=40, low=10)
    assert amounts and all(10 <= a <= 40 for a in amounts)
    # 7/6: the largest fractional part (5/6) within 10..15 is at 11 (77/6 = 12 5/6).
    assert 11 in amounts and 12 in amounts


def test_a_divide_first_rate_rounded_down_is_exposed() -> None:
    # 1/3 in 28 digits is 0.333...3: 3 x that floors to 0, not 1.
    assert any(math.floor(a * (Decimal(1) / Decimal(3))) != a // 3 for a in revealing_amounts("1", "3"))


def test_terminating_rates_add_few_amounts() -> None:
    assert revealing_amounts("0.35", "0.05") == [1]
    assert len(revealing_amounts("0.35", "0.1")) <= 3

"""One shared round of exchanges on every usable pair, settled once.

Exchange results, history rows, settlement and reversal are all read from the
same exchanges: one user per pair (so a failing partner does not blur another
pair's balance), amounts chosen to expose float maths, rounding and inverted
rates, and a single wait for settlement for all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from qiibee_conformance import reconcile
from qiibee_conformance.checks.context import CheckContext, Settled
from qiibee_conformance.client import Response
from qiibee_conformance.discovery import Pair, parse_rate
from qiibee_conformance.findings import Untestable
from qiibee_conformance.money import exchange_rate, received_amount, revealing_amounts

DEBIT = 3
SPARE = 5
MAX_AMOUNT = 2000


def amount_bounds(pair: Pair) -> tuple[int, int]:
    """The smallest and largest amounts strictly inside the pair's USD limits.

    Targets may or may not enforce the limits, and whether a limit itself is allowed
    is not documented: an amount exactly on a limit could be refused by a correct
    target, so none is chosen. Untestable when no whole amount fits.
    """
    offramp = pair.from_token.offramp
    low, high = 1, MAX_AMOUNT
    if offramp:
        max_usd = parse_rate(pair.raw.get("max_usd_exchange_limit"))
        min_usd = parse_rate(pair.raw.get("min_usd_exchange_limit"))
        if max_usd:
            high = min(high, math.ceil(max_usd / offramp) - 1)
        if min_usd:
            low = max(low, math.floor(min_usd / offramp) + 1)
    if low > high:
        raise Untestable(
            f"no whole amount lies strictly inside the USD limits of pair "
            f"{pair.from_token.id}→{pair.to_token.id}"
        )
    return low, high


def choose_amounts(pair: Pair) -> list[int]:
    """Revealing amounts inside the limits, plus one that receives at least one unit."""
    offramp, onramp = pair.from_token.offramp, pair.to_token.onramp
    assert offramp is not None and onramp
    low, high = amount_bounds(pair)
    amounts = revealing_amounts(offramp, onramp, limit=high, low=low)
    rate = exchange_rate(offramp, onramp)
    if not any(received_amount(a, rate) >= 1 for a in amounts) and rate > 0:
        useful = max(low, math.ceil(1 / rate))
        if useful <= high:
            amounts.append(useful)
    return sorted(set(amounts)) or [low]


def minimal_amount(pair: Pair, *, received_at_least: int = 1) -> int:
    """A small valid amount that receives at least ``received_at_least`` units."""
    low, high = amount_bounds(pair)
    offramp, onramp = pair.from_token.offramp, pair.to_token.onramp
    if offramp and onramp:
        rate = exchange_rate(offramp, onramp)
        if rate > 0:
            return min(high, max(low, math.ceil(received_at_least / rate)))
    return low


@dataclass
class PairRun:
    pair: Pair
    user: str
    amounts: list[int]
    funded: int
    debited: int = 0
    responses: dict[int, Response] = field(default_factory=dict)
    skipped: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    balance: Decimal | None = None
    partner_balance: Decimal | None = None

    @property
    def accepted(self) -> list[int]:
        return [a for a, r in self.responses.items() if r.status == 202]

    def exchange_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if reconcile.row_type(r) not in (reconcile.CREDIT, reconcile.DEBIT)]

    def row_for(self, amount: int) -> dict[str, Any] | None:
        """The history row of the exchange of ``amount`` (amounts are distinct per run).

        A row of type "exchange" wins: a target may record a reversal as a row of its own
        with the same amount, and it is newer than the exchange. Rows of other types are
        a fallback, so EXC-11 can still name a mistyped exchange row."""
        matching = [r for r in self.exchange_rows() if reconcile.points_burned(r) == Fraction(amount)]
        typed = [r for r in matching if reconcile.row_type(r) == "exchange"]
        return next(iter(typed or matching), None)

    @property
    def rate(self) -> Fraction:
        offramp, onramp = self.pair.from_token.offramp, self.pair.to_token.onramp
        assert offramp is not None and onramp is not None
        return exchange_rate(offramp, onramp)


@dataclass
class ExchangeRun:
    runs: list[PairRun]
    settled: Settled

    def active(self) -> list[PairRun]:
        return [r for r in self.runs if r.skipped is None]


def _start(ctx: CheckContext, pair: Pair) -> PairRun:
    try:
        amounts = choose_amounts(pair)
    except Untestable as err:  # this pair only; the others still run
        return PairRun(pair=pair, user="", amounts=[], funded=0, skipped=err.reason)
    user = ctx.new_user("x")
    if pair.to_token.type == "miles":
        ctx.save_memberships(user)
    run = PairRun(pair=pair, user=user, amounts=amounts, funded=sum(amounts) + DEBIT + SPARE)
    ctx.fund(user, run.funded)
    for amount in amounts:
        response = ctx.exchange(user, pair, amount)
        run.responses[amount] = response
        if pair.to_token.type == "miles" and response.status == 400:
            run.skipped = (
                f"exchange to miles token {pair.to_token.id} refused: no valid membership number is "
                "configured for its provider (membership_numbers)"
            )
            break
    # The debit comes last, so the exchanges are not the newest rows (robust to paging faults).
    if ctx.points("debit_points", user, DEBIT).status == 202:
        run.debited = DEBIT
    return run


def exchange_run(ctx: CheckContext) -> ExchangeRun:
    return ctx.memo("exchange-run", lambda: _build(ctx))


def _build(ctx: CheckContext) -> ExchangeRun:
    runs = [_start(ctx, pair) for pair in ctx.catalogue.exchangeable_pairs()]
    active = [r for r in runs if r.skipped is None]
    settled = ctx.wait_settled([r.user for r in active], min_moves={r.user: len(r.accepted) for r in active})
    for run in active:
        run.rows = settled.rows.get(run.user, [])
        run.balance = ctx.balance(run.user)
        run.partner_balance = ctx.balance(run.user, run.pair.to_token.id)
    return ExchangeRun(runs=runs, settled=settled)

"""One shared round of exchanges on every usable pair, settled once; and how exchanges are read.

Exchange results, history rows, settlement and reversal are all read from the
same exchanges: one user per pair (so a failing partner does not blur another
pair's balance), amounts chosen to expose float maths, rounding and inverted
rates, and a single wait for settlement for all of them.

Balances are judged by their change from the balance each user holds once funded
(a new user may start with a sign-up bonus, D27); statuses by their family
(``reconcile.settlement_state``, D74); and an exchange's history row is found by
what it moves, its type "exchange" only preferred (D163: another name is EXC-11's
advisory, never a reason to lose the row).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from qiibee_conformance import reconcile
from qiibee_conformance.checks.base import describe
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.outcome import map_in_threads
from qiibee_conformance.checks.target import Settled
from qiibee_conformance.client import Response
from qiibee_conformance.discovery import Pair, parse_rate
from qiibee_conformance.findings import Untestable
from qiibee_conformance.money import exchange_rate, revealing_amounts

DEBIT = 3
SPARE = 5
MAX_AMOUNT = 2000
EXCHANGE = "exchange"
# Pairs prepared and read at once (each pair has its own user, so they share no state).
PAIRS_AT_ONCE = 8
Row = dict[str, Any]


def amounts_strictly_inside_limits(pair: Pair) -> tuple[int, int]:
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


def _rate(pair: Pair) -> Fraction | None:
    offramp, onramp = pair.from_token.offramp, pair.to_token.onramp
    if offramp is None or not onramp:
        return None
    return exchange_rate(offramp, onramp)


def _yielding_bounds(pair: Pair, received_at_least: int = 1) -> tuple[int, int]:
    """The amounts inside the USD limits that receive at least ``received_at_least`` units.

    An amount whose result floors to 0 may be refused with a 400 or accepted receiving 0
    (D65): the suite never sends one where it expects an acceptance."""
    low, high = amounts_strictly_inside_limits(pair)
    rate = _rate(pair)
    if rate is None:
        return low, high
    least = max(low, math.ceil(received_at_least / rate)) if rate > 0 else high + 1
    if least > high:
        raise Untestable(
            f"no amount inside the USD limits of pair {pair.from_token.id}→{pair.to_token.id} "
            f"receives {received_at_least} unit(s) (an exchange receiving 0 may be refused)"
        )
    return least, high


def choose_amounts(pair: Pair) -> list[int]:
    """Revealing amounts inside the limits, each receiving at least one unit."""
    offramp, onramp = pair.from_token.offramp, pair.to_token.onramp
    assert offramp is not None and onramp
    low, high = _yielding_bounds(pair)
    return sorted(set(revealing_amounts(offramp, onramp, limit=high, low=low))) or [low]


def minimal_amount(pair: Pair, *, received_at_least: int = 1) -> int:
    """The smallest valid amount that receives at least ``received_at_least`` units."""
    return _yielding_bounds(pair, received_at_least)[0]


def distinct_amounts(pair: Pair, count: int) -> list[int]:
    """Up to ``count`` different amounts, each inside the limits and receiving something."""
    low, high = _yielding_bounds(pair)
    return list(range(low, min(high, low + count - 1) + 1))


# Reading exchanges from the history -----------------------------------------------------------
def is_move(row: Row) -> bool:
    """Neither a credit nor a debit: an exchange, a redemption, or the target's own kind of row."""
    return reconcile.row_type(row) not in (reconcile.CREDIT, reconcile.DEBIT)


def _along(row: Row, pair: Pair) -> bool:
    """The row moves from the pair's source to its target (a token not shown does not disagree)."""
    src, dst = reconcile.row_token_id(row, "token"), reconcile.row_token_id(row, "token_to")
    return src in (pair.from_token.id, None) and dst in (pair.to_token.id, None)


def exchange_type(moves: list[Row]) -> str | None:
    """The type the target gives its exchange rows: "exchange" when any row has it, else the
    most common type among the moves (the oldest on a tie: an exchange precedes its reversal)."""
    kinds = [reconcile.row_type(r) for r in reversed(moves)]  # histories list the newest first
    if EXCHANGE in kinds:
        return EXCHANGE
    if not kinds:
        return None
    counts = Counter(kinds)
    return max(counts, key=lambda kind: (counts[kind], -kinds.index(kind)))


def exchange_rows(rows: list[Row], pair: Pair, amount: int | None = None) -> list[Row]:
    """The rows that are the exchanges along ``pair`` (of ``amount``, if given), newest first:
    moves along the pair of the target's exchange type (D163), not a reversal of another type."""
    moves = [r for r in rows if is_move(r) and _along(r, pair)]
    kind = exchange_type(moves)
    found = [r for r in moves if reconcile.row_type(r) == kind]
    if amount is not None:
        found = [r for r in found if reconcile.points_burned(r) == Fraction(amount)]
    return found


def exchange_row(rows: list[Row], pair: Pair, amount: int) -> Row | None:
    """The row of the exchange of ``amount`` along ``pair``: one of the exchange type wins; any
    move along the pair burning the amount is the fallback, so EXC-11 can name a mistyped row.
    Among several, the oldest: a reversal comes after its exchange."""
    typed = exchange_rows(rows, pair, amount)
    if typed:
        return typed[-1]
    moves = [r for r in rows if is_move(r) and _along(r, pair)]
    matching = [r for r in moves if reconcile.points_burned(r) == Fraction(amount)]
    return matching[-1] if matching else None


def history_burned(rows: list[Row], pair: Pair) -> Fraction | None:
    """What the history says the exchanges along ``pair`` burned: a failed one burns nothing,
    however its reversal is shown (D76). None when a row does not show its amount."""
    total = Fraction(0)
    for row in exchange_rows(rows, pair):
        if reconcile.is_failed(row):
            continue
        burned = reconcile.points_burned(row)
        if burned is None:
            return None
        total += burned
    return total


def history_debited(rows: list[Row], token_id: int) -> Fraction:
    """What the history says debit_points took from ``token_id``."""
    total = Fraction(0)
    for row in rows:
        debit = reconcile.row_type(row) == reconcile.DEBIT and reconcile.row_token_id(row) in (token_id, None)
        if debit and not reconcile.is_failed(row):
            total += reconcile.row_number(row, *reconcile.DEBIT_FIELDS) or 0
    return total


def duplicate_ids(rows: list[Row]) -> list[str]:
    """Transaction ids listed more than once."""
    ids = [i for i in (reconcile.row_id(r) for r in rows) if i is not None]
    return sorted(i for i, n in Counter(ids).items() if n > 1)


# Users -------------------------------------------------------------------------------------------
def exact_user(ctx: CheckContext, amount: int, tag: str = "x") -> str:
    """A new user holding exactly ``amount`` brand points.

    A sign-up bonus (tolerated, D27) is debited first, so rules about the whole balance
    (overdraw, "more than the user has") see only what the suite funded."""
    user = ctx.api.new_user(tag)
    start = ctx.api.balance(user)
    if start:
        if start != int(start) or start < 0:
            raise Untestable(f"a new user starts with {start} points, which debit_points cannot clear")
        cleared = ctx.api.points("debit_points", user, int(start))
        if cleared.status != 202 or not ctx.api.until_balance(user, Decimal(0)):
            raise Untestable(
                f"cannot clear the {start} points a new user starts with: debit_points gave "
                f"{describe(cleared)}; see BAL-02"
            )
    if amount:
        ctx.api.fund(user, amount)
    return user


# The shared round ---------------------------------------------------------------------------------
@dataclass
class PairRun:
    pair: Pair
    user: str
    amounts: list[int]
    funded: int
    debited: int = 0
    responses: dict[int, Response] = field(default_factory=dict)
    skipped: str | None = None
    rows: list[Row] = field(default_factory=list)
    start_balance: Decimal | None = None  # once funded, before the exchanges (bonus included)
    balance: Decimal | None = None  # after settlement
    partner_balance: Decimal | None = None

    @property
    def accepted(self) -> list[int]:
        return [a for a, r in self.responses.items() if r.status == 202]

    def exchange_rows(self) -> list[Row]:
        return [r for r in self.rows if is_move(r)]

    def row_for(self, amount: int) -> Row | None:
        """The history row of the exchange of ``amount`` (amounts are distinct per run)."""
        return exchange_row(self.rows, self.pair, amount)

    def outcomes(self) -> dict[int, str]:
        """Accepted amount → settlement state of its row ("" when it has no row)."""
        found = {a: self.row_for(a) for a in self.accepted}
        return {a: reconcile.settlement_state(r) if r is not None else "" for a, r in found.items()}

    def moved(self) -> Decimal | None:
        """How much the brand balance changed since the user was funded."""
        if self.balance is None or self.start_balance is None:
            return None
        return self.balance - self.start_balance

    @property
    def rate(self) -> Fraction:
        rate = _rate(self.pair)
        assert rate is not None
        return rate


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
    user = ctx.api.new_user("x")
    if pair.to_token.type == "miles":
        ctx.api.save_memberships(user)
    run = PairRun(pair=pair, user=user, amounts=amounts, funded=sum(amounts) + DEBIT + SPARE)
    ctx.api.fund(user, run.funded)
    run.start_balance = ctx.api.balance(user)
    for amount in amounts:
        response = ctx.api.exchange(user, pair, amount)
        run.responses[amount] = response
        if pair.to_token.type == "miles" and response.status == 400:
            run.skipped = (
                f"exchange to miles token {pair.to_token.id} refused: no valid membership number is "
                "configured for its provider (membership_numbers)"
            )
            break
    # The debit comes last, so the exchanges are not the newest rows (robust to paging faults).
    if ctx.api.points("debit_points", user, DEBIT).status == 202:
        run.debited = DEBIT
    return run


def exchange_run(ctx: CheckContext) -> ExchangeRun:
    return ctx.memo("exchange-run", lambda: _build(ctx))


def _build(ctx: CheckContext) -> ExchangeRun:
    # Each pair has its own user: the pairs run side by side, each one's exchanges in order.
    pairs = ctx.catalogue.exchangeable_pairs()
    runs = map_in_threads(lambda pair: _start(ctx, pair), pairs, workers=PAIRS_AT_ONCE)
    active = [r for r in runs if r.skipped is None]
    moves = {r.user: len(r.accepted) for r in active}
    settled = ctx.api.wait_settled([r.user for r in active], min_moves=moves)
    for run in active:
        run.rows = settled.rows.get(run.user, [])
    _wait_for_debits(ctx, active)
    map_in_threads(lambda run: _read_balances(ctx, run), active, workers=PAIRS_AT_ONCE)
    return ExchangeRun(runs=runs, settled=settled)


def _read_balances(ctx: CheckContext, run: PairRun) -> None:
    run.balance = ctx.api.balance(run.user)
    run.partner_balance = ctx.api.balance(run.user, run.pair.to_token.id)


def _shows_debit(rows: list[Row]) -> bool:
    return any(reconcile.row_type(r) == reconcile.DEBIT and not reconcile.is_pending(r) for r in rows)


def _wait_for_debits(ctx: CheckContext, runs: list[PairRun]) -> None:
    """The trailing debit may be applied, and listed, after its 202 (D162): wait until each
    history shows it, so balances are read after it (briefly, once settlement is known broken)."""

    def read(run: PairRun) -> None:
        run.rows, _ = ctx.api.user_rows(run.user)

    def listed() -> bool:
        waiting = [r for r in runs if r.debited and not _shows_debit(r.rows)]
        map_in_threads(read, waiting, workers=PAIRS_AT_ONCE)
        return all(_shows_debit(r.rows) for r in waiting)

    ctx.poll(listed, timeout=2.0 if ctx.settlement_broken else None)

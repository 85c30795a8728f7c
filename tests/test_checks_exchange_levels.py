"""The exchange, settlement and concurrency checks at their levels.

Each rule is held against the reference mock with the fault that breaks it and, where
the mock has no such choice, against a scripted target: warn-level readings give
advisories (D73, D78), fail-level ones failures (D68, D70, D75, D77, D79), tolerated
behaviours nothing at all (a sign-up bonus, another name for the exchange type, a 202
to miles without a membership that fails and is reversed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from qiibee_conformance.checks.base import REGISTRY, all_checks
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.exchange_run import (
    ExchangeRun,
    PairRun,
    choose_amounts,
    exchange_row,
    exchange_rows,
    exchange_run,
    history_burned,
    minimal_amount,
)
from qiibee_conformance.checks.outcome import ADVISORY, FAILED, UNTESTABLE, VERIFIED, CheckOutcome, run_check
from qiibee_conformance.checks.target import Settled, Target
from qiibee_conformance.client import ApiClient, Response
from qiibee_conformance.discovery import Catalogue, Pair
from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.findings import Level, Untestable
from qiibee_conformance.money import received_amount
from qiibee_conformance.settings import Settings
from tests.catalogue_helpers import pair, token

KEY = "exchange-levels-key-5d0c7e"
Start = Callable[..., EmbeddedMock]

all_checks()


def context(mock: EmbeddedMock, groups: Iterable[str], **settings: Any) -> CheckContext:
    """A context on ``mock`` with the prerequisites of ``groups`` established."""
    settings.setdefault("settle_timeout", 3.0)
    settings.setdefault("burst_size", 8)
    ctx = CheckContext(
        Settings(base_url=mock.base_url, api_key=mock.api_key, **settings),
        ApiClient(mock.base_url, mock.api_key),
    )
    assert ctx.establish(groups) is None
    return ctx


def outcome(ctx: CheckContext, rid: str) -> CheckOutcome:
    result = run_check(REGISTRY[rid], ctx)
    assert result.error is None, result.error
    return result


def statuses(ctx: CheckContext, *rids: str) -> dict[str, str]:
    return {rid: outcome(ctx, rid).status for rid in rids}


def started(start_mock: Start, *, faults: Iterable[str] = (), variants: Iterable[str] = ()) -> EmbeddedMock:
    return start_mock(api_key=KEY, faults=list(faults), variants=list(variants))


# Reading exchanges from the history (no server) -------------------------------------------------
def row(
    kind: str, burned: int | None, status: str = "success", src: int = 1, dst: int | None = 2
) -> dict[str, Any]:
    return {
        "id": f"{kind}-{burned}-{status}-{src}-{dst}",
        "loyalty_event_type": kind,
        "points_burned": burned,
        "status": status,
        "token": {"id": src},
        "token_to": {"id": dst} if dst is not None else None,
    }


def test_exchange_rows_take_the_targets_own_type_name_and_leave_refunds_out() -> None:
    p = pair("0.35", "0.1")
    rows = [
        row("refund", 3, dst=None),  # a reversal of its own kind, newest
        row("points_exchange", 3, "failed"),
        row("points_exchange", 4),
        row("credit_points", 20, dst=None),
    ]
    assert [r["points_burned"] for r in exchange_rows(rows, p)] == [3, 4]
    assert exchange_row(rows, p, 3) is rows[1]
    assert history_burned(rows, p) == 4  # the failed exchange burns nothing, however it is shown


def test_exchange_rows_prefer_the_type_exchange_and_the_pairs_direction() -> None:
    p = pair("0.35", "0.1")
    back = row("exchange", 3, src=2, dst=1)  # the reverse direction: not an exchange along the pair
    rows = [row("reversal", 3), back, row("exchange", 3)]
    assert exchange_rows(rows, p, 3) == [rows[2]]
    assert history_burned([row("exchange", None)], p) is None  # a row without its amount


def test_amounts_always_receive_something() -> None:
    p = pair("0.1", "0.3")  # rate 1/3: amounts 1 and 2 would receive 0
    assert all(received_amount(a, Fraction(1, 3)) >= 1 for a in choose_amounts(p))
    assert minimal_amount(p) == 3
    tight = pair("0.1", "0.3", max_usd_exchange_limit="0.25")  # only 1 and 2 fit the limit
    with pytest.raises(Untestable):
        minimal_amount(tight)


# EXC-03: the formula binds points and miles (D63); for other targets it is a reading (D64) -------
def seeded(run: PairRun) -> CheckContext:
    """A context whose exchange round is ``run``, already settled (no server is asked)."""
    url = "http://127.0.0.1:9"
    ctx = CheckContext(Settings(base_url=url, api_key="k"), ApiClient(url, "k"))
    ctx._memo["exchange-run"] = (True, ExchangeRun(runs=[run], settled=Settled(rows={}, settled=True)))
    return ctx


@pytest.mark.parametrize(
    ("kind", "settles_as", "wanted"),
    [
        ("erc20", "success", FAILED),
        ("miles", "success", FAILED),
        ("external", "success", ADVISORY),
        ("donation", "success", ADVISORY),
        ("erc20", "failed", UNTESTABLE),
    ],
)
def test_exc03_levels_by_target_type(kind: str, settles_as: str, wanted: str) -> None:
    brand, target = token(1, "0.3", "0.35"), token(2, "0.1", None, kind)
    run = PairRun(pair=Pair(1, brand, target, "active", {}), user="u", amounts=[2], funded=10)
    run.responses[2] = ScriptedMiles.answer(202)
    run.rows = [{**row("exchange", 2, settles_as), "amount_received": "6"}]  # floor(2 × 3.5) = 7
    result = outcome(seeded(run), "EXC-03")
    assert result.status == wanted, result
    if wanted == ADVISORY:
        assert [f.decision for f in result.advisories] == ["D64"]


# EXC-09: a scripted target for the branches the mock does not offer -------------------------------
def miles_catalogue() -> Catalogue:
    brand = token(1, "0.3", "0.35")
    miles = token(4, "0.0125", None, "miles")
    return Catalogue(
        tokens={1: brand, 4: miles}, pairs=[Pair(1, brand, miles, "active", {})], brand_token=brand
    )


class ScriptedMiles(Target):
    """Accepts an exchange to miles with no membership and settles it as told; a sign-up bonus
    of 50 sits on every user."""

    def __init__(self, state: CheckContext, status: int, settles_as: str, gives_back: bool) -> None:
        super().__init__(state)
        self.status, self.settles_as, self.gives_back = status, settles_as, gives_back
        self.held = Decimal(50)

    def new_user(self, tag: str = "", **fields: Any) -> str:
        return "u"

    def fund(self, user: str, amount: int, token_id: int | None = None) -> Response:
        self.held += amount
        return self.answer(202)

    def balance(self, user: str, token_id: int | None = None) -> Decimal:
        return self.held

    def exchange(self, user: str, pair: Pair | tuple[int, int], amount: object, **extra: Any) -> Response:
        assert "brandB_membership_number" not in extra
        if self.status == 202:
            self.held -= Decimal(str(amount))
            self.amount = amount
        return self.answer(self.status)

    def wait_settled(self, users: Iterable[str], *, min_moves: dict[str, int] | None = None) -> Settled:
        if self.gives_back:
            self.held += Decimal(str(self.amount))
        shown = row("exchange", int(str(self.amount)), self.settles_as, src=1, dst=4)
        return Settled(rows={"u": [shown]}, settled=True)

    @staticmethod
    def answer(status: int) -> Response:
        sent = Exchange("POST", "http://127.0.0.1:9/transactions", {}, None, status, {}, "", 0.0)
        return Response(status, {}, "", sent)


@pytest.mark.parametrize(
    ("status", "settles_as", "gives_back", "wanted", "level"),
    [
        (400, "", False, VERIFIED, None),  # the reading (D69)
        (422, "", False, ADVISORY, Level.WARN),  # another 4xx: an advisory of D69
        (202, "reversed", True, VERIFIED, None),  # accepted, failed and reversed: tolerated
        (202, "success", False, FAILED, Level.FAIL),  # miles credited to no account (D70)
        (202, "failed", False, FAILED, Level.FAIL),  # failed and not reversed (D75)
    ],
)
def test_exc09_levels(
    status: int, settles_as: str, gives_back: bool, wanted: str, level: Level | None
) -> None:
    url = "http://127.0.0.1:9"
    # a balance that never comes back is waited for until the deadline: keep it short
    ctx = CheckContext(Settings(base_url=url, api_key="k", settle_timeout=2), ApiClient(url, "k"))
    ctx._memo["catalogue"] = (True, miles_catalogue())
    ctx.api = ScriptedMiles(ctx, status, settles_as, gives_back)
    result = outcome(ctx, "EXC-09")
    assert result.status == wanted, result
    findings = list(result.findings())
    assert [f.level for f in findings] == ([level] if level else [])
    if level == Level.WARN:
        assert findings[0].decision == "D69"


# Against the reference mock --------------------------------------------------------------------------
def test_a_renamed_exchange_type_is_only_an_advisory(start_mock: Start) -> None:
    ctx = context(
        started(start_mock, faults=["exchange-row-type-renamed"]), ["exchange", "settlement", "concurrency"]
    )
    advised = outcome(ctx, "EXC-11")
    assert advised.status == ADVISORY
    assert [(f.level, f.decision) for f in advised.advisories] == [(Level.WARN, "D73")]
    assert "points_exchange" in advised.advisories[0].message
    others = ("EXC-03", "EXC-04", "EXC-05", "SET-01", "SET-02", "SET-03", "CON-01", "CON-03")
    assert statuses(ctx, *others) == dict.fromkeys(others, VERIFIED)


def test_a_sign_up_bonus_is_tolerated_everywhere(start_mock: Start) -> None:
    ctx = context(
        started(start_mock, variants=["busy-service"]), ["exchange", "nft", "settlement", "concurrency"]
    )
    rids = (
        "EXC-05",
        "EXC-08",
        "EXC-09",
        "EXC-12",
        "NFT-01",
        "NFT-02",
        "SET-02",
        "SET-03",
        "CON-01",
        "CON-02",
        "CON-03",
    )
    assert statuses(ctx, *rids) == dict.fromkeys(rids, VERIFIED)


def test_exc09_success_without_a_membership_fails_a_warn_requirement(start_mock: Start) -> None:
    ctx = context(started(start_mock, faults=["exchange-miles-without-membership-settles"]), ["exchange"])
    result = outcome(ctx, "EXC-09")
    assert result.status == FAILED and result.failure is not None
    assert result.failure.level == Level.FAIL and "no account" in result.failure.message


@pytest.mark.parametrize(
    ("fault", "rid", "words"),
    [
        ("exchange-override-needs-saved-membership", "EXC-12", "no saved membership was refused"),
        ("exchange-reverse-of-inbound-allowed", "EXC-02", "from token 101 to token 808"),
        ("exchange-two-way", "EXC-02", "from token 303 to token 101"),
        ("settlement-refund-row-only", "SET-02", "not reversed"),
        ("race-merged-exchanges", "CON-03", "distinct transactions"),
    ],
)
def test_faults_fail_their_requirement(start_mock: Start, fault: str, rid: str, words: str) -> None:
    group = {"EXC": "exchange", "SET": "settlement", "CON": "concurrency"}[rid[:3]]
    result = outcome(context(started(start_mock, faults=[fault]), [group]), rid)
    assert result.status == FAILED and result.failure is not None, result
    assert result.failure.level == Level.FAIL
    assert words in result.failure.message


def test_correct_mock_verifies_the_new_checks(mock_server: EmbeddedMock) -> None:
    ctx = context(mock_server, ["exchange", "settlement", "concurrency"])
    rids = ("EXC-02", "EXC-09", "EXC-11", "EXC-12", "SET-02", "CON-03")
    assert statuses(ctx, *rids) == dict.fromkeys(rids, VERIFIED)


@pytest.mark.parametrize(("chosen", "wanted"), [(False, ADVISORY), (True, FAILED)])
def test_unsettled_past_the_deadline(start_mock: Start, chosen: bool, wanted: str) -> None:
    """The documents give no settlement time: past the default deadline an advisory (D78), past
    one the user set a failure (D79); the rules that need settlement are untestable, not failed."""
    mock = started(start_mock, faults=["settlement-stuck"])
    ctx = context(mock, ["settlement"], settle_timeout=1.0, settle_deadline_chosen=chosen)
    result = outcome(ctx, "SET-01")
    assert result.status == wanted
    if not chosen:
        assert [f.decision for f in result.advisories] == ["D78"]
    assert statuses(ctx, "SET-02", "SET-03") == {"SET-02": UNTESTABLE, "SET-03": UNTESTABLE}


def test_refund_row_fault_shows_a_reversal_row(start_mock: Start) -> None:
    """The fault shows the reversal as a row of its own: only the balance gives it away."""
    mock = started(start_mock, faults=["settlement-refund-row-only"])
    ctx = context(mock, ["settlement"])
    assert outcome(ctx, "SET-02").status == FAILED
    failing = next(r for r in exchange_run(ctx).active() if r.pair.to_token.id == 707)
    credits = [r for r in failing.rows if r["loyalty_event_type"] == "credit_points"]
    assert len(credits) == 1 + len(failing.accepted)  # the funding, and a refund per failed exchange

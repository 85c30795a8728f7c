"""What a load run needs to know before its first request, prepared once.

The parent process (``qiibee-conformance load``) discovers the tokens, creates
and funds the shared users and samples the history, then hands the result to
every Locust process as a JSON file, so all workers hit the *same* balances
(that is where concurrency bugs live). A plain ``locust -f load/locustfile.py``
run builds its own plan the same way in each process.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from qiibee_conformance.client import ApiClient, Response
from qiibee_conformance.discovery import Catalogue, Pair, create_user, credit, discover, parse_rate
from qiibee_conformance.errors import RunError
from qiibee_conformance.loadtest.ledger import ACCEPT, LedgerWriter
from qiibee_conformance.money import exchange_rate
from qiibee_conformance.polling import poll
from qiibee_conformance.reconcile import (
    fetch_balance,
    read_user_history,
    row_id,
    row_token_id,
    row_type,
    row_user_auth_id,
)
from qiibee_conformance.settings import Settings
from qiibee_conformance.times import format_second, parse_time

# Exchanges to these token types need nothing the suite cannot provide (no
# membership number, no market rate): the load scenarios use only them.
LOAD_TOKEN_TYPES = frozenset({"erc20", "external", "fiat", "donation"})
RICH_FUNDING = 10_000_000
MAX_EXCHANGE_AMOUNT = 50
ZERO_DRAIN_WAIT_S = 10.0  # how long a drained "zero" user's balance may take to read 0


@dataclass(frozen=True)
class PairPlan:
    from_token: int
    to_token: int
    to_type: str
    min_amount: int
    max_amount: int


@dataclass
class LoadPlan:
    base_url: str
    run_id: str
    brand_token_id: int
    pairs: list[PairPlan] = field(default_factory=list)
    # (from, to) of the reverse of one-way pairs: such an exchange must be refused (EXC-02)
    reverse_pairs: list[tuple[int, int]] = field(default_factory=list)
    rich_users: list[str] = field(default_factory=list)
    zero_users: list[str] = field(default_factory=list)
    email_domain: str = "example.com"
    membership_numbers: dict[str, list[str]] = field(default_factory=dict)
    history_users: list[str] = field(default_factory=list)
    history_tokens: list[int] = field(default_factory=list)
    history_oldest: str | None = None
    # No row can still appear at or before this instant: walks ending here are stable.
    history_frozen_to: str | None = None
    # The query key for the `types` list: the notes tolerate `types[]=a` and `types=a`;
    # sample_history finds the one the target visibly applies, or sets "" (NO_TYPES_FILTER)
    # when it cannot tell: the history walks then do not filter by type.
    types_key: str = "types[]"
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (what a Locust message carries to the workers)."""
        return dict(json.loads(self.to_json()))

    @classmethod
    def from_json(cls, text: str) -> LoadPlan:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadPlan:
        raw = dict(data)
        raw["pairs"] = [PairPlan(**p) for p in raw.get("pairs", [])]
        raw["reverse_pairs"] = [(int(a), int(b)) for a, b in raw.get("reverse_pairs", [])]
        return cls(**raw)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LoadPlan:
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise RunError(f"cannot read the load plan {path}: {err}") from None


def amounts_well_inside_limits(pair: Pair) -> tuple[int, int]:
    """Amounts well inside the pair's USD limits (when the target publishes them), each
    receiving at least one unit; ``low > high`` when there is none.

    Targets may or may not enforce the limits (D100); staying well inside them (twice the
    minimum, half the maximum) keeps a valid exchange valid either way. An amount whose
    result floors to 0 may be refused with a 400 (D65): none is sent where a 202 is expected.
    Unlike the checks' amounts (strictly inside the limits, any of them), these are a
    comfortable range to draw from at random, bounded for the run's shared balances.
    """
    low, high = 1, MAX_EXCHANGE_AMOUNT
    offramp, onramp = pair.from_token.offramp, pair.to_token.onramp
    if offramp is not None and onramp:
        if offramp <= 0:
            return 1, 0
        low = math.ceil(1 / exchange_rate(offramp, onramp))
        high = max(high, low)
    if offramp:
        min_usd = parse_rate(pair.raw.get("min_usd_exchange_limit"))
        max_usd = parse_rate(pair.raw.get("max_usd_exchange_limit"))
        if min_usd is not None:
            low = max(low, math.ceil(2 * min_usd / offramp))
        if max_usd is not None:
            high = min(high, math.floor(max_usd / (2 * offramp)))
    return low, high


def load_pairs(catalogue: Catalogue) -> list[PairPlan]:
    plans: list[PairPlan] = []
    for pair in catalogue.brand_pairs():
        if pair.to_token.type not in LOAD_TOKEN_TYPES:
            continue
        low, high = amounts_well_inside_limits(pair)
        if low <= high:
            plans.append(PairPlan(pair.from_token.id, pair.to_token.id, pair.to_token.type, low, high))
    return plans


def new_email(run_id: str, domain: str, tag: str) -> str:
    return f"qc-{run_id}-{tag}-{uuid.uuid4().hex[:10]}@{domain}"


def move_recorded(
    client: ApiClient, ledger: LedgerWriter | None, kind: str, auth_id: str, token_id: int, amount: int
) -> int:
    """A credit_points or debit_points, written to the ledger like any move of the run."""
    attempt = ledger.attempt(kind, auth_id, token_id, amount, expect=ACCEPT) if ledger else None
    response: Response = (
        credit(client, auth_id, token_id, amount)
        if kind == "credit_points"
        else client.post(
            "/transactions",
            {"transaction": {"type": kind, "user_auth_id": auth_id, "token_id": token_id, "amount": amount}},
        )
    )
    if ledger is not None and attempt is not None:
        data = response.data()
        tx = data.get("id") if isinstance(data, dict) else None
        ledger.result(attempt, response.status, None if tx is None else str(tx))
    return response.status


def credit_recorded(
    client: ApiClient, ledger: LedgerWriter | None, auth_id: str, token_id: int, amount: int
) -> int:
    """credit_points, written to the ledger like any credit of the run."""
    return move_recorded(client, ledger, "credit_points", auth_id, token_id, amount)


def record_baseline(client: ApiClient, ledger: LedgerWriter | None, auth_id: str, token_id: int) -> Fraction:
    """The new user's balance, ledgered with its history's row ids before the run moves any of
    its points: it may start with points and rows of its own (a sign-up bonus, D27)."""
    balance, exchange = fetch_balance(client, auth_id, token_id)
    history = read_user_history(client, auth_id)
    if balance is None or not history.complete:
        status = exchange.status if balance is None else history.failed_status
        raise RunError(f"cannot read the balance and history of a new load-test user (HTTP {status})")
    if ledger is not None:
        ids = [i for i in (row_id(r) for r in history.rows) if i is not None]
        ledger.baseline(auth_id, token_id, balance, ids)
    return balance


def drain_to_zero(
    client: ApiClient, ledger: LedgerWriter | None, auth_id: str, token_id: int, balance: Fraction
) -> bool:
    """Debit a new user's starting points so that it really has none; whether it reads 0."""
    if balance == 0:
        return True
    if balance.denominator != 1 or balance < 0:
        return False
    if move_recorded(client, ledger, "debit_points", auth_id, token_id, int(balance)) != 202:
        return False
    return poll(lambda: fetch_balance(client, auth_id, token_id)[0] == 0, ZERO_DRAIN_WAIT_S)


def sample_history(client: ApiClient, plan: LoadPlan) -> None:
    """Users, tokens and times the history scenario can filter on, from two pages."""
    first = client.get("/transactions", params={"limit": 100, "offset": 0})
    data = first.data()
    if first.status != 200 or not isinstance(data, dict):
        raise RunError(f"cannot read the transaction history (GET /transactions gave HTTP {first.status})")
    rows = [r for r in data.get("transactions") or [] if isinstance(r, dict)]
    newest = list(rows)
    total = data.get("total_tx_count")
    if isinstance(total, int) and total > 200:
        deep = client.get("/transactions", params={"limit": 100, "offset": max(0, total - 100)})
        deep_data = deep.data()
        if deep.status == 200 and isinstance(deep_data, dict):
            rows += [r for r in deep_data.get("transactions") or [] if isinstance(r, dict)]
    users: dict[str, None] = {}
    tokens: dict[int, None] = {}
    times: list[datetime] = []
    for row in rows:
        auth_id = row_user_auth_id(row)
        if auth_id:
            users.setdefault(auth_id)
        token = row_token_id(row, "token")
        if token is not None:
            tokens.setdefault(token)
        moment = parse_time(row.get("inserted_at"))
        if moment is not None:
            times.append(moment)
    plan.types_key = _types_key(client, newest, plan.rich_users)
    plan.history_users = list(users)[:50]
    plan.history_tokens = list(tokens)[:20]
    if times:
        plan.history_oldest = format_second(min(times))
        # Well before the newest row: whole-second stamps, commits in flight, and a queue
        # between a 202 and the row's listing cannot put a new row in there any more.
        plan.history_frozen_to = format_second(max(times) - FROZEN_MARGIN)


# Loyalty event types the load walks filter on (users.HISTORY_TYPES): probing with one of
# them keeps the probe's value a known type, which a correct target answers with a 200.
PROBE_TYPES: tuple[str, ...] = ("credit_points", "debit_points", "exchange")
TYPES_KEYS: tuple[str, ...] = ("types[]", "types")
FROZEN_MARGIN = timedelta(seconds=30)  # how far before the newest row a window counts as closed
NO_TYPES_FILTER = ""  # types_key when no encoding was proven: the walks do not filter by type
USER_ROWS_WAIT_S = 7.5  # how long to wait for a plan user's own rows to be listed


def _page_rows(client: ApiClient, params: list[tuple[str, str]]) -> list[dict[str, Any]] | None:
    """The rows of one history page (limit 100), or None unless it is a 200 with a list."""
    response = client.get("/transactions", params=[*params, ("limit", "100")])
    data = response.data()
    found = data.get("transactions") if isinstance(data, dict) else None
    if response.status != 200 or not isinstance(found, list):
        return None
    return [r for r in found if isinstance(r, dict)]


def probe_kind(rows: list[dict[str, Any]]) -> str | None:
    """A type whose filter visibly changes this page: the probe type fewest rows have,
    provided some row has another type (so an ignored parameter shows)."""
    counts = {kind: sum(1 for r in rows if row_type(r) == kind) for kind in PROBE_TYPES}
    kind = min(PROBE_TYPES, key=lambda k: counts[k])
    return kind if counts[kind] < len(rows) else None


def key_applied(
    client: ApiClient, base: list[tuple[str, str]], unfiltered: list[dict[str, Any]]
) -> str | None:
    """The ``types`` key the target visibly applies on the page ``base`` selects, or None.

    A key is trusted only when the unfiltered page has rows of other types and the
    filtered one has none: an ignored parameter (or one rejected with a 4xx) never passes."""
    kind = probe_kind(unfiltered)
    if kind is None:
        return None
    for key in TYPES_KEYS:
        rows = _page_rows(client, [*base, (key, kind)])
        if rows is not None and all(row_type(r) == kind for r in rows):
            return key
    return None


def _user_rows(client: ApiClient, user: str) -> list[dict[str, Any]]:
    """A plan user's own rows (its funding credit), waiting briefly for them to be listed."""
    found: list[dict[str, Any]] = []

    def listed() -> bool:
        found[:] = _page_rows(client, [("user_auth_id", user)]) or []
        return bool(found)

    poll(listed, USER_ROWS_WAIT_S)
    return found


def _types_key(client: ApiClient, rows: list[dict[str, Any]], users: list[str] | None = None) -> str:
    """The tolerated list encoding of ``types`` that the target visibly applies.

    First on the newest page (``rows``), then on the history of one of the plan's own
    funded users; if neither shows it, NO_TYPES_FILTER: a walk filtered in an encoding the
    target may ignore, or reject with 400, would report a correct target."""
    found = key_applied(client, [], rows)
    for user in (users or [])[:2]:
        if found is not None:
            break
        found = key_applied(client, [("user_auth_id", user)], _user_rows(client, user))
    return NO_TYPES_FILTER if found is None else found


def build_plan(
    client: ApiClient,
    settings: Settings,
    *,
    rich_users: int = 4,
    zero_users: int = 2,
    ledger: LedgerWriter | None = None,
    catalogue: Catalogue | None = None,
) -> LoadPlan:
    """Discover, create and fund; RunError when the target cannot support the run."""
    catalogue = catalogue or discover(client, settings)
    brand = catalogue.brand_token.id
    plan = LoadPlan(
        base_url=settings.base,
        run_id=settings.run_id,
        brand_token_id=brand,
        pairs=load_pairs(catalogue),
        reverse_pairs=[(p.to_token.id, p.from_token.id) for p in catalogue.one_way_pairs()],
        email_domain=settings.email_domain,
        membership_numbers={k: list(v) for k, v in settings.membership_numbers.items()},
    )
    for _ in range(rich_users):
        auth_id = create_user(client, new_email(settings.run_id, settings.email_domain, "rich"))
        record_baseline(client, ledger, auth_id, brand)
        status = credit_recorded(client, ledger, auth_id, brand, RICH_FUNDING)
        if status != 202:
            raise RunError(f"cannot fund a load-test user: credit_points gave HTTP {status}")
        plan.rich_users.append(auth_id)
    for _ in range(zero_users):
        auth_id = create_user(client, new_email(settings.run_id, settings.email_domain, "zero"))
        if drain_to_zero(client, ledger, auth_id, brand, record_baseline(client, ledger, auth_id, brand)):
            plan.zero_users.append(auth_id)
    if not plan.zero_users and zero_users:
        plan.notes.append(
            "new users start with points the run could not debit to 0: no exchange beyond the balance "
            "(EXC-05) is sent"
        )
    sample_history(client, plan)
    return plan

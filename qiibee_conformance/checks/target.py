"""The target as the checks use it: users, funding, exchanges, history, list filters.

Creating users, funding them and waiting for settlement are what every check does; doing
them one way, here, keeps the checks short and keeps the tolerated variants (the user under
"data", "user" or bare; balances judged by change; slow settlement; any list encoding)
handled once. What a run remembers (the catalogue, the users made, the encodings proven,
the prerequisites) lives in the run's :class:`~qiibee_conformance.checks.context.CheckContext`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from qiibee_conformance import reconcile
from qiibee_conformance.checks import prerequisites
from qiibee_conformance.checks.base import describe
from qiibee_conformance.checks.list_filters import (
    LIST_ENCODINGS,
    encodings_for,
    filter_visible,
    list_param,
    pick_answer,
)
from qiibee_conformance.checks.outcome import map_in_threads
from qiibee_conformance.client import Response
from qiibee_conformance.discovery import Pair
from qiibee_conformance.envelopes import created_auth_id
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.findings import Untestable
from qiibee_conformance.money import to_decimal

if TYPE_CHECKING:
    from qiibee_conformance.checks.context import CheckContext


@dataclass(frozen=True)
class CreatedUser:
    auth_id: str
    email: str
    started: float  # monotonic time the create request was sent
    finished: float  # ... and its response arrived


@dataclass
class Settled:
    """The histories of some users after waiting for their transactions to settle."""

    rows: dict[str, list[dict[str, Any]]]
    settled: bool
    evidence: list[Exchange] = field(default_factory=list)

    def pending(self) -> list[str]:
        every = [r for rows in self.rows.values() for r in rows]
        return [str(reconcile.row_id(r)) for r in every if reconcile.is_pending(r)]


class Target:
    """Requests a check makes, each one way, over the run's client."""

    def __init__(self, state: CheckContext) -> None:
        self.state = state
        self.client = state.client
        self.settings = state.settings

    def list_filter(
        self,
        send: Callable[[list[tuple[str, str]]], Response],
        name: str,
        values: list[str],
        applied: Callable[[Response], bool],
        *,
        exact: Callable[[Response], bool] | None = None,
    ) -> Response:
        """Send a list filter in an encoding the target applies (see LIST_ENCODINGS).

        ``applied(response)`` says whether an answer lets nothing through that does not match;
        ``exact(response)``, when the caller can tell, whether it is the whole filtered answer
        (a target reading only ``a,b`` may take one of ``a`` and ``b`` when they are repeated).
        An encoding is kept for the run only when the unfiltered answer (``send([])``) visibly
        breaks the filter and the filtered one does not: when every item already matches, an
        ignored parameter looks applied, and caching it would send later probes in an encoding
        the target may not read. Undecided, the first answer that honours the filter (else the
        first 200, else the first answer) is returned for the check.
        """

        def honours(response: Response) -> bool:
            return response.status == 200 and applied(response) and (exact is None or exact(response))

        known = self.state.list_encodings.get(name)
        answers: list[Response] = []
        visible: bool | None = None
        for encoding in encodings_for(values, known):
            response = send(list_param(name, values, encoding))
            answers.append(response)
            if not honours(response):
                continue
            if known is None:  # a new encoding is kept only when its effect can be seen
                if visible is None:
                    visible = filter_visible(send([]), applied)
                if not visible:
                    continue
            self.state.list_encodings[name] = encoding
            return response
        return pick_answer(answers, honours)

    def list_encoding(self, name: str) -> str:
        """The encoding found to work for ``name`` (brackets until one is found)."""
        return self.state.list_encodings.get(name, LIST_ENCODINGS[0])

    def list_encoding_known(self, name: str) -> str | None:
        """The encoding ``list_filter`` has proven the target applies, or None (undecided)."""
        return self.state.list_encodings.get(name)

    def list_unknown_value(
        self, send: Callable[[list[tuple[str, str]]], Response], name: str, value: str
    ) -> list[tuple[str, Response]]:
        """``value`` (an unknown filter value) sent in the proven encoding, else in every one.

        Undecided, a correct target answers a 4xx or an empty list in the encoding it reads,
        and ignores (200, everything) or refuses (4xx) the others: ``unknown_value_verdict``
        reads the answers together.
        """
        known = self.state.list_encodings.get(name)
        return [(e, send(list_param(name, [value], e))) for e in encodings_for([value], known)]

    def create_user(self, email: str | None = None, **fields: Any) -> tuple[Response, CreatedUser | None]:
        """POST /users; returns the response and, on a 2xx showing the user (under "data", under
        "user" or bare), the created user. Whether the status is the documented 201 is USR-01's."""
        email = email or self.state.email()
        started = time.monotonic()
        response = self.client.post("/users", {"user": {"email": email, **fields}})
        finished = time.monotonic()
        auth_id = created_auth_id(response.json())
        if not 200 <= response.status < 300 or auth_id is None:
            return response, None
        user = CreatedUser(auth_id, email, started, finished)
        with self.state.lock:
            self.state.users.append(user)
        return response, user

    def new_user(self, tag: str = "", **fields: Any) -> str:
        """A fresh user of the run's own; its auth_id."""
        return self.new_user_full(tag, **fields).auth_id

    def new_user_full(self, tag: str = "", **fields: Any) -> CreatedUser:
        self.state.require(prerequisites.USER)
        response, user = self.create_user(self.state.email(tag), **fields)
        if user is None:
            raise Untestable(f"cannot create a test user (POST /users gave {describe(response)}); see USR-01")
        return user

    def new_users(self, count: int, tag: str = "", *, parallel: int = 8) -> list[CreatedUser]:
        return map_in_threads(lambda _: self.new_user_full(tag), range(count), workers=parallel)

    def points(self, kind: str, user: str, amount: object, token_id: int | None = None) -> Response:
        """POST a credit_points/debit_points transaction."""
        token = self.state.brand_token_id if token_id is None else token_id
        body = {"transaction": {"type": kind, "user_auth_id": user, "token_id": token, "amount": amount}}
        return self.client.post("/transactions", body)

    def trailer(self, user: str) -> int:
        """Credit 1 point after the transactions under test, so none of them is the newest row of the
        user's history (a history that mishandles its first row is HIS-04's finding, not theirs)."""
        response = self.points("credit_points", user, 1)
        if response.status != 202:
            raise Untestable(
                f"cannot credit a test user: credit_points gave {describe(response)}; see BAL-02"
            )
        return 1

    def read_balance(self, user: str, token_id: int | None = None) -> Decimal | Response:
        """The user's balance of a token (0 when not listed), or the answer that did not show it."""
        token = self.state.brand_token_id if token_id is None else token_id
        response = self.client.get(f"/users/{user}/balances")
        value = reconcile.balance_in(response, token)
        return response if value is None else to_decimal(value)

    def balance(self, user: str, token_id: int | None = None) -> Decimal:
        """The user's balance of a token (0 when not listed)."""
        value = self.read_balance(user, token_id)
        if isinstance(value, Response):
            raise Untestable(f"cannot read the balances of a test user ({describe(value)}); see BAL-01")
        return value

    def fund(self, user: str, amount: int, token_id: int | None = None) -> Response:
        """Credit ``amount`` and wait until the balance shows it (Untestable if it cannot be done).

        Judged by the change of the balance, never its absolute value: a new user may start
        with points (a sign-up bonus is tolerated)."""
        self.state.require(prerequisites.FUNDING)
        before = self.balance(user, token_id)
        response = self.points("credit_points", user, amount, token_id)
        if response.status != 202:
            raise Untestable(f"cannot fund a test user: credit_points gave {describe(response)}; see BAL-02")
        if not self.until_balance(user, before + amount, token_id):
            raise Untestable("a credit_points was not reflected in the balance in time; see BAL-02")
        return response

    def until_balance(self, user: str, expected: Decimal, token_id: int | None = None) -> bool:
        return self.state.poll(lambda: self.balance(user, token_id) == expected)

    def exchange(self, user: str, pair: Pair | tuple[int, int], amount: object, **extra: Any) -> Response:
        src, dst = (pair.from_token.id, pair.to_token.id) if isinstance(pair, Pair) else pair
        body = {
            "transaction": {
                "type": "exchange",
                "user_auth_id": user,
                "brandA_token_id": src,
                "brandB_token_id": dst,
                "amount": amount,
                **extra,
            }
        }
        return self.client.post("/transactions", body)

    def simple_pairs(self) -> list[Pair]:
        """Brand pairs that need no membership (erc20 first): where plain exchanges are made."""
        pairs = [p for p in self.state.catalogue.exchangeable_pairs() if p.to_token.type != "miles"]
        pairs.sort(key=lambda p: (p.to_token.type != "erc20", p.to_token.id))
        return pairs

    def simple_pair(self) -> Pair:
        self.state.require(prerequisites.PAIR)
        pairs = self.simple_pairs()
        if not pairs:
            raise Untestable(
                "the whitelist has no active pair from the brand token to a plain (non-miles, "
                "non-NFT, non-crypto) token"
            )
        return pairs[0]

    def save_memberships(self, user: str) -> dict[str, str]:
        """Save a membership for every provider a valid number is configured for."""
        saved: dict[str, str] = {}
        for provider, numbers in self.settings.membership_numbers.items():
            if not numbers:
                continue
            response = self.client.post(
                f"/users/{user}/memberships",
                {"membership": {"brand_id": provider, "membership_number": numbers[0]}},
            )
            if response.status in (200, 201):
                saved[provider] = numbers[0]
        return saved

    def history(self, params: dict[str, Any] | Sequence[tuple[str, Any]] | None = None) -> Response:
        return self.client.get("/transactions", params=params)

    def user_rows(self, user: str) -> tuple[list[dict[str, Any]], list[Exchange]]:
        return reconcile.fetch_user_history(self.client, user)

    def wait_settled(self, users: Iterable[str], *, min_moves: dict[str, int] | None = None) -> Settled:
        """Poll the users' histories until nothing is pending and each shows ``min_moves`` transactions
        other than credit/debit (the accepted exchanges); the deadline is settings.settle_timeout."""
        self.state.require(prerequisites.HISTORY)
        wanted = dict(min_moves or {})
        users = list(dict.fromkeys(users))
        rows: dict[str, list[dict[str, Any]]] = {}
        evidence: list[Exchange] = []
        open_users = set(users)

        def done() -> bool:
            polled = sorted(open_users)  # the histories are read side by side: the polls overlap
            read = map_in_threads(self.user_rows, polled, workers=8)
            for user, (found, exchanges) in zip(polled, read, strict=True):
                rows[user] = found
                evidence[:] = exchanges[-1:]
                moves = [r for r in found if reconcile.row_type(r) not in (reconcile.CREDIT, reconcile.DEBIT)]
                if not any(reconcile.is_pending(r) for r in found) and len(moves) >= wanted.get(user, 0):
                    open_users.discard(user)
            return not open_users

        # Once a wait has run out, settlement is broken (SET-01's finding): later waits are short,
        # since whatever needs them is untestable anyway.
        settled = self.state.poll(done, timeout=2.0 if self.state.settlement_broken else None)
        if not settled:
            self.state.settlement_broken = True
        return Settled(rows=rows, settled=settled, evidence=evidence)

    def ensure_user_total(self, minimum: int) -> int:
        """Make sure the target lists at least ``minimum`` users (for 'never more than 100')."""
        response = self.client.get("/users", params={"limit": 1})
        data = response.data()
        total = data.get("total_count") if isinstance(data, dict) else None
        if not isinstance(total, int):
            raise Untestable(f"GET /users gave no total_count ({describe(response)}); see USR-13")
        if total < minimum:
            self.new_users(minimum - total, "fill", parallel=16)
        return max(total, minimum)

    def ensure_history_total(self, minimum: int) -> int:
        """Make sure the history holds at least ``minimum`` transactions."""
        response = self.history({"limit": 1})
        data = response.data()
        total = data.get("total_tx_count") if isinstance(data, dict) else None
        if not isinstance(total, int):
            raise Untestable(f"GET /transactions gave no total_tx_count ({describe(response)}); see HIS-03")
        if total < minimum:
            user = self.new_user("fill")
            missing = minimum - total
            map_in_threads(lambda _: self.points("credit_points", user, 1), range(missing), workers=16)
        return max(total, minimum)

"""The state one certification run shares between its checks, and their helpers.

Creating users, funding them and waiting for settlement are what every check
does; doing them one way, here, keeps the checks short and keeps the tolerated
variants (slow settlement, debit at settlement, any error key) handled once.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from qiibee_conformance import polling, reconcile
from qiibee_conformance.checks import prerequisites
from qiibee_conformance.checks.base import describe
from qiibee_conformance.checks.outcome import map_in_threads
from qiibee_conformance.client import ApiClient, Response
from qiibee_conformance.discovery import Catalogue, Pair, discover
from qiibee_conformance.envelopes import created_auth_id
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.findings import Untestable
from qiibee_conformance.money import to_decimal
from qiibee_conformance.settings import Settings
from qiibee_conformance.times import format_time, parse_time

T = TypeVar("T")

__all__ = [
    "LIST_ENCODINGS",
    "CheckContext",
    "CreatedUser",
    "Settled",
    "encodings_for",
    "filter_visible",
    "format_time",
    "list_param",
    "parse_time",
    "pick_answer",
    "unknown_value_verdict",
]

# List query parameters (`types`, `token_to_types`): DECISIONS D85 tolerates
# `types[]=a&types[]=b` ("brackets"), `types=a&types=b` ("repeat") and `types=a,b`
# ("comma"), and a target may implement one alone. The suite sends brackets first and,
# when the filter is visibly not applied, tries the others; an encoding whose effect is
# visible (see list_filter) is kept for the run. One value is sent alike by "repeat" and
# "comma", so an encoding proven with one value may still be either of the two.
LIST_ENCODINGS = ("brackets", "repeat", "comma")


def list_param(name: str, values: Iterable[str], encoding: str = "brackets") -> list[tuple[str, str]]:
    values = list(values)
    if encoding == "comma":
        return [(name, ",".join(values))] if values else []
    key = name + "[]" if encoding == "brackets" else name
    return [(key, v) for v in values]


def encodings_for(values: Sequence[str], first: str | None = None) -> list[str]:
    """The encodings worth sending for ``values``: ``first`` (a proven one) alone, except that
    "repeat" proven with one value may be "comma" for several; every one when none is proven;
    never two that send the same parameters."""
    if first is not None:
        return [first, "comma"] if first == "repeat" and len(values) > 1 else [first]
    return [e for e in LIST_ENCODINGS if not (e == "comma" and len(values) < 2)]


def filter_visible(unfiltered: Response, applied: Callable[[Response], bool]) -> bool:
    """Whether a filter's effect can be seen: the unfiltered answer (a 200) breaks it.

    Only then does a filtered answer that honours the filter prove the parameter was
    read; otherwise an ignored parameter gives the same answer."""
    return unfiltered.status == 200 and not applied(unfiltered)


def unknown_value_verdict(
    answers: Sequence[tuple[str, Response]], lists_nothing: Callable[[Response], bool]
) -> str | None:
    """How the answers to an unknown filter value read (``list_unknown_value``), or None when
    they conform (D86: a 4xx, or 200 listing nothing); ``lists_nothing(response)`` says
    whether a 200 lists no item. A 5xx is a break (D16).

    One answer (the proven encoding) must conform. Several (none proven): the target reads
    one of them and may ignore or refuse the others, so one conforming answer suffices; when
    none conforms, an ignored parameter cannot be told from a matching value ("untestable")."""
    if any(r.status >= 500 for _, r in answers):
        return "nonconformity"
    if any(400 <= r.status < 500 or (r.status == 200 and lists_nothing(r)) for _, r in answers):
        return None
    return "nonconformity" if len(answers) == 1 else "untestable"


def pick_answer(answers: Sequence[Response], applied: Callable[[Response], bool]) -> Response:
    """The answer a check should judge when no encoding was proven: one that honours the
    filter, else a 200 (so an encoding rejected as unknown does not hide the other), else
    the first."""
    ok = [r for r in answers if r.status == 200]
    honoured = [r for r in ok if applied(r)]
    return (honoured or ok or list(answers))[0]


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


class CheckContext:
    """One run's settings, client, discovered catalogue and test users."""

    def __init__(self, settings: Settings, client: ApiClient) -> None:
        self.settings = settings
        self.client = client
        self._lock = threading.Lock()
        self._memo_locks: dict[str, threading.Lock] = {}
        self._counter = itertools.count(1)
        self._memo: dict[str, tuple[bool, Any]] = {}
        self.users: list[CreatedUser] = []
        self.settlement_broken = False
        self.list_encodings: dict[str, str] = {}
        self.prerequisites: dict[str, prerequisites.Prerequisite] = {}

    # Prerequisites ---------------------------------------------------------------------------
    def establish(self, groups: Iterable[str]) -> str | None:
        """Establish what the checks of ``groups`` stand on; the line of an INCOMPLETE run, if any."""
        self.prerequisites.update(prerequisites.establish(self, prerequisites.needed_by(groups)))
        return prerequisites.incomplete(self.prerequisites)

    def require(self, name: str) -> None:
        """Untestable (or, for the owner of the broken rule, its finding) if ``name`` was not met."""
        prerequisites.require(self.prerequisites, name)

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

        known = self.list_encodings.get(name)
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
            self.list_encodings[name] = encoding
            return response
        return pick_answer(answers, honours)

    def list_encoding(self, name: str) -> str:
        """The encoding found to work for ``name`` (brackets until one is found)."""
        return self.list_encodings.get(name, LIST_ENCODINGS[0])

    def list_encoding_known(self, name: str) -> str | None:
        """The encoding ``list_filter`` has proven the target applies, or None (undecided)."""
        return self.list_encodings.get(name)

    def list_unknown_value(
        self, send: Callable[[list[tuple[str, str]]], Response], name: str, value: str
    ) -> list[tuple[str, Response]]:
        """``value`` (an unknown filter value) sent in the proven encoding, else in every one.

        Undecided, a correct target answers a 4xx or an empty list in the encoding it reads,
        and ignores (200, everything) or refuses (4xx) the others: ``unknown_value_verdict``
        reads the answers together.
        """
        known = self.list_encodings.get(name)
        return [(e, send(list_param(name, [value], e))) for e in encodings_for([value], known)]

    # Lazily shared things ------------------------------------------------------------------
    def memo(self, key: str, factory: Callable[[], T]) -> T:
        """Compute ``factory()`` once per run; a raised exception is remembered and re-raised."""
        with self._lock:
            key_lock = self._memo_locks.setdefault(key, threading.Lock())
        with key_lock:  # not the shared lock: a factory may use threads that need it
            if key not in self._memo:
                try:
                    self._memo[key] = (True, factory())
                except Exception as err:  # remembered: every check that needs it sees the same outcome
                    self._memo[key] = (False, err)
            ok, value = self._memo[key]
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    @property
    def catalogue(self) -> Catalogue:
        return self.memo("catalogue", lambda: discover(self.client, self.settings))

    @property
    def brand_token_id(self) -> int:
        return self.catalogue.brand_token.id

    # Users ---------------------------------------------------------------------------------
    def email(self, tag: str = "") -> str:
        with self._lock:
            n = next(self._counter)
        return f"qc-{self.settings.run_id}-{tag}{n}@{self.settings.email_domain}"

    def create_user(self, email: str | None = None, **fields: Any) -> tuple[Response, CreatedUser | None]:
        """POST /users; returns the response and, on a 2xx showing the user (under "data", under
        "user" or bare), the created user. Whether the status is the documented 201 is USR-01's."""
        email = email or self.email()
        started = time.monotonic()
        response = self.client.post("/users", {"user": {"email": email, **fields}})
        finished = time.monotonic()
        auth_id = created_auth_id(response.json())
        if not 200 <= response.status < 300 or auth_id is None:
            return response, None
        user = CreatedUser(auth_id, email, started, finished)
        with self._lock:
            self.users.append(user)
        return response, user

    def new_user(self, tag: str = "", **fields: Any) -> str:
        """A fresh user of the run's own; its auth_id."""
        return self.new_user_full(tag, **fields).auth_id

    def new_user_full(self, tag: str = "", **fields: Any) -> CreatedUser:
        self.require(prerequisites.USER)
        response, user = self.create_user(self.email(tag), **fields)
        if user is None:
            raise Untestable(f"cannot create a test user (POST /users gave {describe(response)}); see USR-01")
        return user

    def new_users(self, count: int, tag: str = "", *, parallel: int = 8) -> list[CreatedUser]:
        return map_in_threads(lambda _: self.new_user_full(tag), range(count), workers=parallel)

    # Points ----------------------------------------------------------------------------------
    def points(self, kind: str, user: str, amount: object, token_id: int | None = None) -> Response:
        """POST a credit_points/debit_points transaction."""
        token = self.brand_token_id if token_id is None else token_id
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
        token = self.brand_token_id if token_id is None else token_id
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
        self.require(prerequisites.FUNDING)
        before = self.balance(user, token_id)
        response = self.points("credit_points", user, amount, token_id)
        if response.status != 202:
            raise Untestable(f"cannot fund a test user: credit_points gave {describe(response)}; see BAL-02")
        if not self.until_balance(user, before + amount, token_id):
            raise Untestable("a credit_points was not reflected in the balance in time; see BAL-02")
        return response

    def until_balance(self, user: str, expected: Decimal, token_id: int | None = None) -> bool:
        return self.poll(lambda: self.balance(user, token_id) == expected)

    def poll(self, done: Callable[[], bool], *, timeout: float | None = None) -> bool:
        """Call ``done`` with backoff until it is true or the settle deadline passes."""
        return polling.poll(done, self.settings.settle_timeout if timeout is None else timeout)

    # Exchanges ---------------------------------------------------------------------------------
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
        pairs = [p for p in self.catalogue.exchangeable_pairs() if p.to_token.type != "miles"]
        pairs.sort(key=lambda p: (p.to_token.type != "erc20", p.to_token.id))
        return pairs

    def simple_pair(self) -> Pair:
        self.require(prerequisites.PAIR)
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

    # History ----------------------------------------------------------------------------------
    def history(self, params: dict[str, Any] | Sequence[tuple[str, Any]] | None = None) -> Response:
        return self.client.get("/transactions", params=params)

    def user_rows(self, user: str) -> tuple[list[dict[str, Any]], list[Exchange]]:
        return reconcile.fetch_user_history(self.client, user)

    def wait_settled(self, users: Iterable[str], *, min_moves: dict[str, int] | None = None) -> Settled:
        """Poll the users' histories until nothing is pending and each shows ``min_moves`` transactions
        other than credit/debit (the accepted exchanges); the deadline is settings.settle_timeout."""
        self.require(prerequisites.HISTORY)
        wanted = dict(min_moves or {})
        users = list(dict.fromkeys(users))
        rows: dict[str, list[dict[str, Any]]] = {}
        evidence: list[Exchange] = []
        open_users = set(users)

        def done() -> bool:
            for user in list(open_users):
                found, exchanges = self.user_rows(user)
                rows[user] = found
                evidence[:] = exchanges[-1:]
                moves = [r for r in found if reconcile.row_type(r) not in (reconcile.CREDIT, reconcile.DEBIT)]
                if not any(reconcile.is_pending(r) for r in found) and len(moves) >= wanted.get(user, 0):
                    open_users.discard(user)
            return not open_users

        # Once a wait has run out, settlement is broken (SET-01's finding): later waits are short,
        # since whatever needs them is untestable anyway.
        settled = self.poll(done, timeout=2.0 if self.settlement_broken else None)
        if not settled:
            self.settlement_broken = True
        return Settled(rows=rows, settled=settled, evidence=evidence)

    # Fillers --------------------------------------------------------------------------------------
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

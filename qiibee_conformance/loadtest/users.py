"""Locust users of the three scenarios (imported only inside the Locust process).

Every request is named by its documented route, never by its URL, and judged
with ``catch_response``: a deliberately invalid exchange answered 400 is a
success, a valid one answered anything but 202 is a failure. Money moves go
to the ledger before they are sent and again when the answer arrives.

Rate limiting (a 429, or a 503 with Retry-After) is what capacity looks like
(DECISIONS D18): the request fails as ``rate limited (HTTP 429)``, counted
against the error budget and per route in the report, never a contract finding;
the move it carried is ledgered as rate limited (the target did nothing); and the
Locust user pauses as long as the answer asked before its next request.
"""

from __future__ import annotations

import gc
import logging
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from locust import FastHttpUser, task
from locust.env import Environment
from locust.exception import StopUser

from qiibee_conformance.envelopes import created_auth_id
from qiibee_conformance.errors import RunError
from qiibee_conformance.loadtest.common import (
    R_BALANCES,
    R_MEMBERSHIP,
    R_MEMBERSHIPS,
    R_TRANSACTIONS,
    R_USER,
    R_USERS,
    R_WHITELIST,
    rate_limit_pause,
    rate_limited_message,
)
from qiibee_conformance.loadtest.context import DRAIN_CHUNKS, DrainTarget, RunContext, get_context
from qiibee_conformance.loadtest.history_checks import Filters, Problem, Walk, check_page
from qiibee_conformance.loadtest.ledger import ACCEPT, EITHER, REJECT
from qiibee_conformance.loadtest.page_decoding import PageMemo, decode_json
from qiibee_conformance.loadtest.plan import PairPlan, new_email
from qiibee_conformance.reconcile import balance_from, row_id
from qiibee_conformance.times import format_second, parse_time

log = logging.getLogger("qiibee.load")

HISTORY_TYPES: tuple[str, ...] = ("credit_points", "debit_points", "exchange")
PAGE_LIMITS: tuple[int, ...] = (10, 25, 50, 100)
RECREATED: tuple[int, ...] = (200, 201)  # a membership created again for its provider, replaced
_EVIDENCE_BODY = 1500


def _check_page_body(
    walk: Walk, pages: PageMemo, url: str, status: int, content: bytes | None
) -> list[Problem]:
    """Decode and check one history page with the cyclic garbage collector paused.

    A decoded page is an acyclic tree of a hundred dicts or more (some three thousand
    when a page has to be decoded in full): left on, the collector would run every few
    pages, scanning the tree while it is built, for nothing (reference counting frees
    it, or the memo keeps it). Nothing in here can yield to another greenlet."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return check_page(walk, status, pages.decode(url, content, walk.filters.on_rows))
    finally:
        if enabled:
            gc.enable()


def _excerpt(content: bytes | None) -> str:
    return (content or b"")[:_EVIDENCE_BODY].decode("utf-8", errors="replace")


class QiibeeUser(FastHttpUser):
    """Shared plumbing: the run context, the key header, ledgered money moves."""

    abstract = True
    network_timeout = 30.0
    connection_timeout = 10.0
    receive_block_size = 64 * 1024
    """Bytes asked of the socket per read. geventhttpclient asks for 4 kB, so a 110 kB history
    page takes some 27 reads, each through gevent, the HTTP parser and a body callback: a
    third of a bare user's CPU per page. 64 kB takes two or three."""
    ctx: RunContext

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._resume_at = 0.0  # time.monotonic() before which a rate-limited user sends nothing
        # The session's pool makes its HTTP clients on first use, from these arguments.
        args = getattr(getattr(self.client.client, "clientpool", None), "client_args", None)
        if isinstance(args, dict):
            args.setdefault("block_size", self.receive_block_size)
        # Never follow a redirect: geventhttpclient would send the key header to wherever it
        # points. The 3xx itself is the answer, and an unexpected status is a failure.
        self.client.client.redirect_response_codes = frozenset()  # type: ignore[misc]

    def wait_time(self) -> float:
        think = random.uniform(0, self.ctx.think_time) if self.ctx.think_time > 0 else 0.0
        return max(think, self._resume_at - time.monotonic())

    def on_start(self) -> None:
        try:
            self.ctx = get_context(self.host or "", self.environment.parsed_options)
        except RunError as err:
            log.error("qiibee load: cannot start: %s", err)
            self.environment.process_exit_code = 2
            raise StopUser() from None

    # Helpers ----------------------------------------------------------------------------
    def _evidence(
        self, method: str, path: str, status: int, content: bytes | None, body: Any = None
    ) -> dict[str, Any]:
        return {
            "request": {"method": method, "path": self.ctx.redactor.text(path), "body": body},
            "response": {"status": status, "body": self.ctx.redactor.text(_excerpt(content))},
        }

    def _report(self, problems: list[Problem], route: str, evidence: dict[str, Any]) -> str:
        """Ledger the problems (advisories with their decision); the failure text of the
        fail-level ones ("" when every problem is an advisory: the request succeeded)."""
        for problem in problems:
            if problem.rule and self.ctx.ledger is not None:
                detailed = {**evidence, "detail": problem.detail} if problem.detail else evidence
                self.ctx.ledger.finding(
                    problem.rule, problem.message, route=route, evidence=detailed, decision=problem.decision
                )
        failing = [p for p in problems if not p.advisory]
        return "; ".join(f"{p.rule}: {p.message}" if p.rule else p.message for p in failing)

    def _rate_limited(self, resp: Any) -> bool:
        """A rate-limiting answer fails as such, and this user pauses as long as it asked."""
        status = resp.status_code or 0
        if status not in (429, 503):  # every answer passes here: the common case costs nothing
            return False
        headers = resp.headers
        pause = rate_limit_pause(status, headers.get("Retry-After") if headers is not None else None)
        if pause is None:
            return False
        resp.failure(rate_limited_message(status))
        self._resume_at = max(self._resume_at, time.monotonic() + pause)
        return True

    def expect(
        self, method: str, path: str, name: str, statuses: tuple[int, ...], body: Any = None
    ) -> tuple[bool, Any]:
        """Send one request; a status outside ``statuses`` is a failure. Returns (ok, JSON body)."""
        with self.client.request(
            method, path, name=name, json=body, headers=self.ctx.headers, catch_response=True
        ) as resp:
            if self._rate_limited(resp):
                return False, None
            ok = resp.status_code in statuses
            if ok:
                resp.success()
            else:
                resp.failure(f"expected HTTP {'/'.join(map(str, statuses))}, got {resp.status_code}")
            return ok, decode_json(resp.content) if ok else None

    def move(
        self,
        kind: str,
        user: str,
        token: int,
        amount: int,
        *,
        to_token: int | None = None,
        expect: str = ACCEPT,
        rule: str | None = None,
    ) -> int:
        """A credit, debit or exchange, ledgered and judged; returns the status (0: no answer)."""
        tx: dict[str, Any] = {"type": kind, "user_auth_id": user, "amount": amount}
        if kind == "exchange":
            tx.update(brandA_token_id=token, brandB_token_id=to_token)
        else:
            tx["token_id"] = token
        ledger = self.ctx.ledger
        attempt = (
            ledger.attempt(kind, user, token, amount, to_token=to_token, expect=expect, rule=rule)
            if ledger
            else None
        )
        body = {"transaction": tx}
        with self.client.post(
            "/transactions", name=R_TRANSACTIONS, json=body, headers=self.ctx.headers, catch_response=True
        ) as resp:
            status = resp.status_code or 0
            limited = self._rate_limited(resp)
            if ledger is not None and attempt is not None:
                data = decode_json(resp.content) if status == 202 else None
                inner = data.get("data") if isinstance(data, dict) else None
                tx_id = None if not isinstance(inner, dict) or inner.get("id") is None else str(inner["id"])
                ledger.result(attempt, status or None, tx_id, rate_limited=limited)
            if not limited:
                self._judge_move(resp, kind, expect, rule, body)
            return status

    def _judge_move(self, resp: Any, kind: str, expect: str, rule: str | None, body: Any) -> None:
        """Success or failure of a move's answer, by what the move expected."""
        status = resp.status_code or 0
        if expect == ACCEPT:
            if status == 202:
                resp.success()
            else:
                resp.failure(f"{kind} refused: expected HTTP 202, got {status}")
        elif expect == EITHER:
            if status in (202, 400):
                resp.success()
            else:
                resp.failure(f"{kind} on a contested balance: expected HTTP 202 or 400, got {status}")
        elif status == 400:
            resp.success()
        elif 200 <= status < 300:
            message = f"{kind} that the documents call invalid was accepted (HTTP {status})"
            problem = Problem(rule or "", message)
            evidence = self._evidence("POST", "/transactions", status, resp.content, body)
            resp.failure(self._report([problem], f"POST {R_TRANSACTIONS}", evidence) or problem.message)
        else:
            resp.failure(f"invalid {kind}: expected HTTP 400, got {status}")

    def pick_pair(self) -> PairPlan | None:
        return random.choice(self.ctx.plan.pairs) if self.ctx.plan.pairs else None

    def exchange_rich(self) -> None:
        pair = self.pick_pair()
        if pair is None or not self.ctx.plan.rich_users:
            return
        amount = random.randint(pair.min_amount, pair.max_amount)
        user = random.choice(self.ctx.plan.rich_users)
        self.move("exchange", user, pair.from_token, amount, to_token=pair.to_token)

    def credit_rich(self, low: int = 50, high: int = 500) -> None:
        if self.ctx.plan.rich_users:
            user = random.choice(self.ctx.plan.rich_users)
            self.move("credit_points", user, self.ctx.plan.brand_token_id, random.randint(low, high))

    # History walks ----------------------------------------------------------------------
    def random_filters(self) -> Filters:
        plan = self.ctx.plan
        if not self.ctx.history_filters:
            return Filters()
        user = None
        if random.random() < 0.3:
            candidates = plan.history_users + plan.rich_users
            user = random.choice(candidates) if candidates else None
        types: tuple[str, ...] = ()
        if plan.types_key and random.random() < 0.3:  # "": no encoding proven, so no type filter
            types = tuple(random.sample(HISTORY_TYPES, random.randint(1, 2)))
        token = None
        if random.random() < 0.25:
            tokens = plan.history_tokens or [plan.brand_token_id]
            token = random.choice(tokens)
        from_time = to_time = None
        frozen_to = parse_time(plan.history_frozen_to)
        oldest = parse_time(plan.history_oldest)
        if frozen_to is not None and random.random() < 0.5:
            to_time = plan.history_frozen_to
            if oldest is not None and oldest < frozen_to and random.random() < 0.5:
                span = (frozen_to - oldest).total_seconds()
                moment = datetime.fromtimestamp(oldest.timestamp() + random.uniform(0, span), UTC)
                from_time = format_second(moment)
        return Filters(
            user=user,
            types=types,
            token=token,
            from_time=from_time,
            to_time=to_time,
            types_key=plan.types_key,
        )

    def new_walk(self) -> Walk:
        filters = self.random_filters()
        frozen = filters.to_time is not None and filters.to_time == self.ctx.plan.history_frozen_to
        limit = random.choice(PAGE_LIMITS) if self.ctx.history_filters else 100
        return Walk(filters=filters, limit=limit, frozen=frozen)

    def walk_history(self, max_pages: int | None = None) -> None:
        """Walk ``GET /transactions`` page by page to the end (or ``max_pages``), checking each."""
        walk = self.new_walk()
        while not walk.done and (max_pages is None or walk.pages < max_pages):
            path = walk.path()
            with self.client.get(
                path, name=R_TRANSACTIONS, headers=self.ctx.headers, catch_response=True
            ) as resp:
                if self._rate_limited(resp):
                    return
                problems = _check_page_body(walk, self.ctx.pages, path, resp.status_code or 0, resp.content)
                failure = ""
                if problems:
                    evidence = self._evidence("GET", path, resp.status_code or 0, resp.content)
                    evidence["walk"] = {"filters": walk.filters.describe(), "frozen": walk.frozen}
                    failure = self._report(problems, f"GET {R_TRANSACTIONS}", evidence)
                if failure:
                    resp.failure(failure)
                else:
                    resp.success()


class HistoryUser(QiibeeUser):
    """Walks the transaction history to its end with random filters."""

    @task
    def walk(self) -> None:
        self.walk_history()


class ExchangeBurstUser(QiibeeUser):
    """Concurrent exchanges and credits on a few shared balances, some deliberately invalid."""

    @task(10)
    def exchange_shared(self) -> None:
        self.exchange_rich()

    @task(4)
    def credit_shared(self) -> None:
        self.credit_rich()

    @task(8)
    def exchange_contested(self) -> None:
        """Race for the last points of a small balance: 202 or 400, never an overdraw."""
        target = self._drain_target()
        pair = self.pick_pair()
        if target is None or pair is None:
            return
        with self.ctx.lock:
            target.asked += target.chunk
        self.move(
            "exchange", target.auth_id, pair.from_token, target.chunk, to_token=pair.to_token, expect=EITHER
        )

    @task(1)
    def exchange_reverse_one_way(self) -> None:
        plan = self.ctx.plan
        if not plan.reverse_pairs or not plan.rich_users:
            return
        src, dst = random.choice(plan.reverse_pairs)
        user = random.choice(plan.rich_users)
        self.move("exchange", user, src, 1, to_token=dst, expect=REJECT, rule="EXC-02")

    @task(1)
    def exchange_insufficient(self) -> None:
        plan = self.ctx.plan
        pair = self.pick_pair()
        if not plan.zero_users or pair is None:
            return
        user = random.choice(plan.zero_users)
        amount = random.randint(pair.min_amount, pair.max_amount)
        self.move(
            "exchange", user, pair.from_token, amount, to_token=pair.to_token, expect=REJECT, rule="EXC-05"
        )

    @task(2)
    def read_balance(self) -> None:
        if self.ctx.plan.rich_users:
            user = random.choice(self.ctx.plan.rich_users)
            self.expect("GET", f"/users/{user}/balances", R_BALANCES, (200,))

    def _drain_target(self) -> DrainTarget | None:
        """The current small balance to race for; this user funds a new one when it is used up."""
        ctx = self.ctx
        with ctx.lock:
            current = ctx.drain
            if current is not None and not current.exhausted:
                return current
            if ctx.drain_creating:
                return current
            ctx.drain_creating = True
        try:
            return self._new_drain_target()
        finally:
            with ctx.lock:
                ctx.drain_creating = False

    def _new_drain_target(self) -> DrainTarget | None:
        plan = self.ctx.plan
        pair = self.pick_pair()
        if pair is None:
            return None
        chunk = max(pair.min_amount, min(pair.max_amount, 10))
        email = new_email(plan.run_id, plan.email_domain, "drain")
        _, data = self.expect("POST", "/users", R_USERS, (201,), {"user": {"email": email}})
        auth_id = created_auth_id(data)  # the user under "data", "user" or bare (D8)
        if auth_id is None or not self._record_baseline(auth_id):
            return None
        funding = DRAIN_CHUNKS * chunk
        if self.move("credit_points", auth_id, plan.brand_token_id, funding) != 202:
            return None
        target = DrainTarget(auth_id=auth_id, funded=funding, chunk=chunk)
        with self.ctx.lock:
            self.ctx.drain = target
        return target

    def _record_baseline(self, auth_id: str) -> bool:
        """Ledger the new user's balance and history before its first move: it may start with
        points and rows of its own (D27). False when either could not be read (then the user
        is not used: the run cannot judge a balance it never saw)."""
        token = self.ctx.plan.brand_token_id
        _, balances = self.expect("GET", f"/users/{auth_id}/balances", R_BALANCES, (200,))
        balance = balance_from(balances.get("data") if isinstance(balances, dict) else None, token)
        path = "/transactions?" + urlencode({"user_auth_id": auth_id, "limit": 100, "offset": 0})
        _, history = self.expect("GET", path, R_TRANSACTIONS, (200,))
        data = history.get("data") if isinstance(history, dict) else None
        rows = data.get("transactions") if isinstance(data, dict) else None
        if balance is None or not isinstance(rows, list):
            return False
        ids = [i for i in (row_id(r) for r in rows if isinstance(r, dict)) if i is not None]
        if self.ctx.ledger is not None:
            self.ctx.ledger.baseline(auth_id, token, balance, ids)
        return True


class MixedUser(QiibeeUser):
    """A realistic blend: mostly reads, some user writes, memberships and money moves."""

    def on_start(self) -> None:
        super().on_start()
        self.own_users: list[str] = []
        self.memberships: dict[str, set[str]] = {}  # auth_id -> providers it has a membership of

    # Reads (60 %)
    @task(14)
    def history_pages(self) -> None:
        self.walk_history(max_pages=3)

    @task(8)
    def list_users(self) -> None:
        self.expect(
            "GET",
            f"/users?limit={random.choice(PAGE_LIMITS)}&offset={random.randint(0, 50)}",
            R_USERS,
            (200,),
        )

    @task(6)
    def get_user(self) -> None:
        user = self._some_user()
        if user is not None:
            self.expect("GET", f"/users/{user}", R_USER, (200,))

    @task(6)
    def balances(self) -> None:
        user = self._some_user()
        if user is not None:
            self.expect("GET", f"/users/{user}/balances", R_BALANCES, (200,))

    @task(4)
    def whitelist(self) -> None:
        self.expect("GET", "/token-exchange-whitelist", R_WHITELIST, (200,))

    # User writes (15 %)
    @task(6)
    def create_user(self) -> None:
        plan = self.ctx.plan
        auth_id = str(uuid.uuid4())
        body = {"user": {"email": new_email(plan.run_id, plan.email_domain, "mixed"), "auth_id": auth_id}}
        if self.expect("POST", "/users", R_USERS, (201,), body)[0]:
            self.own_users.append(auth_id)
            del self.own_users[:-20]

    @task(4)
    def update_user(self) -> None:
        if self.own_users:
            user = random.choice(self.own_users)
            body = {"user": {"first_name": random.choice(("Ada", "Grace", "Alan", "Edsger"))}}
            self.expect("PATCH", f"/users/{user}", R_USER, (200,), body)

    # Memberships (10 %)
    @task(4)
    def save_membership(self) -> None:
        numbers = {k: v for k, v in self.ctx.plan.membership_numbers.items() if v}
        if not self.own_users or not numbers:
            return
        user = random.choice(self.own_users)
        provider = random.choice(sorted(numbers))
        body = {"membership": {"brand_id": provider, "membership_number": random.choice(numbers[provider])}}
        held = self.memberships.setdefault(user, set())
        # Created: 201. Again for a provider the user has: replaced (201 or 200), or a 4xx
        # keeping the first (D52).
        statuses = (*RECREATED, *range(400, 500)) if provider in held else (201,)
        if self.expect("POST", f"/users/{user}/memberships", R_MEMBERSHIPS, statuses, body)[0]:
            held.add(provider)

    @task(2)
    def list_memberships(self) -> None:
        if self.own_users:
            self.expect("GET", f"/users/{random.choice(self.own_users)}/memberships", R_MEMBERSHIPS, (200,))

    @task(1)
    def delete_membership(self) -> None:
        held = [(user, provider) for user, providers in self.memberships.items() for provider in providers]
        if held:
            user, provider = random.choice(held)
            if self.expect("DELETE", f"/users/{user}/memberships/{provider}", R_MEMBERSHIP, (204,))[0]:
                self.memberships[user].discard(provider)

    # Money (15 %)
    @task(6)
    def exchange(self) -> None:
        self.exchange_rich()

    @task(3)
    def credit(self) -> None:
        self.credit_rich()

    @task(2)
    def debit(self) -> None:
        if self.ctx.plan.rich_users:
            user = random.choice(self.ctx.plan.rich_users)
            self.move("debit_points", user, self.ctx.plan.brand_token_id, random.randint(1, 20))

    def _some_user(self) -> str | None:
        pool = self.own_users + self.ctx.plan.rich_users + self.ctx.plan.history_users
        return random.choice(pool) if pool else None

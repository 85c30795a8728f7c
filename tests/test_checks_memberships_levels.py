"""MEM, WL and BAL checks at their levels: every tolerated reading passes with no finding, a
warn-level break is an advisory with its decision, a fail-level break fails.

Each test runs one check (as the runner does: ``run_check``) against the session's mock
behind a small rewriting proxy that plays a correct server reading the documents
differently, or a broken one. Standard library only; one proxy per test.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from qiibee_conformance.checks import all_checks
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.list_filters import unknown_value_verdict
from qiibee_conformance.checks.outcome import ADVISORY, FAILED, UNTESTABLE, VERIFIED, CheckOutcome, run_check
from qiibee_conformance.checks.whitelist import lists_no_pair
from qiibee_conformance.client import ApiClient, Response
from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.mock.catalogue import BRAND_TOKEN_ID
from qiibee_conformance.settings import Settings
from tests.hostile import serve

CHECKS = {c.id: c for c in all_checks()}
OTHER_ETIHAD = "100014486283"


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-able, or bytes as they are
    headers: dict[str, str] = field(default_factory=dict)

    def raw(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return b"" if self.body is None else json.dumps(self.body).encode()

    def json(self) -> Any:
        return json.loads(self.body) if isinstance(self.body, bytes) and self.body else self.body


@dataclass
class Call:
    method: str
    path: str
    query: list[tuple[str, str]]
    body: Any


class Upstream:
    """The real mock behind the proxy."""

    def __init__(self, base_url: str, key: str) -> None:
        self.url = urlsplit(base_url)
        self.key = key

    def send(
        self, method: str, path: str, body: Any = None, query: list[tuple[str, str]] | None = None
    ) -> Reply:
        conn = http.client.HTTPConnection(self.url.hostname or "127.0.0.1", self.url.port, timeout=10)
        try:
            target = path + ("?" + urlencode(query) if query else "")
            data = None if body is None else json.dumps(body).encode()
            headers = {"X-API-KEY": self.key, "Content-Type": "application/json"}
            conn.request(method, target, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            return Reply(resp.status, json.loads(raw) if raw else None)
        finally:
            conn.close()

    def forward(self, call: Call) -> Reply:
        return self.send(call.method, call.path, call.body, call.query)


Hook = Callable[[Call, Upstream], Reply | None]  # None: forward the call unchanged


def _handler(upstream: Upstream, hook: Hook) -> type[BaseHTTPRequestHandler]:
    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            call = Call(self.command, parts.path, parse_qsl(parts.query, keep_blank_values=True),
                        json.loads(raw) if raw else None)
            reply = hook(call, upstream) or upstream.forward(call)
            body = reply.raw()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            if reply.headers.get("Connection") == "close":
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any  # noqa: N815 - http.server's names

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Proxy


@contextmanager
def proxy(mock: EmbeddedMock, hook: Hook) -> Iterator[str]:
    with serve(_handler(Upstream(mock.base_url, mock.api_key), hook)) as url:
        yield url


def outcome(mock: EmbeddedMock, check_id: str, hook: Hook | None = None) -> CheckOutcome:
    """Run one check as the runner does, through a proxy playing ``hook``."""
    with proxy(mock, hook or (lambda call, up: None)) as url:
        settings = Settings(base_url=url, api_key=mock.api_key, brand_id=mock.brand_id, settle_timeout=5)
        ctx = CheckContext(settings, ApiClient(url, mock.api_key, limits=settings.limits))
        check = CHECKS[check_id]
        assert ctx.establish([check.requirement.group]) is None
        result = run_check(check, ctx)
    assert result.error is None, result.error
    return result


def status_of(result: CheckOutcome) -> str:
    detail = result.failure.message if result.failure else [a.message for a in result.advisories]
    return f"{result.status}: {detail or result.untestable}"


def _is_membership_post(call: Call) -> bool:
    return call.method == "POST" and call.path.startswith("/users/") and call.path.endswith("/memberships")


def _user_of(call: Call) -> str:
    return call.path.split("/")[2]


def _number_sent(call: Call) -> Any:
    return call.body["membership"]["membership_number"]


def _provider_sent(call: Call) -> Any:
    return call.body["membership"]["brand_id"]


def _existing(call: Call, up: Upstream) -> bool:
    return up.send("GET", f"/users/{_user_of(call)}/memberships/{_provider_sent(call)}").status == 200


# MEM-01: the create body -----------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["bare-user", "data-user", "bare-membership", "data-membership"])
def test_mem01_reads_every_tolerated_create_body(mock_server: EmbeddedMock, shape: str) -> None:
    def hook(call: Call, up: Upstream) -> Reply | None:
        if not _is_membership_post(call):
            return None
        created = up.forward(call)
        if created.status != 201:
            return created
        membership = created.json()["data"]
        user = up.send("GET", f"/users/{_user_of(call)}").json()["data"]
        bodies = {"bare-user": user, "data-user": {"data": user}, "bare-membership": membership,
                  "data-membership": {"data": membership}}
        return Reply(201, bodies[shape])

    result = outcome(mock_server, "MEM-01", hook)
    assert result.status == VERIFIED, status_of(result)


def test_mem01_fails_a_create_answer_showing_another_number(mock_server: EmbeddedMock) -> None:
    def hook(call: Call, up: Upstream) -> Reply | None:
        if not _is_membership_post(call):
            return None
        created = up.forward(call)
        body = created.json()
        body["data"]["membership_number"] = OTHER_ETIHAD
        return Reply(created.status, body)

    result = outcome(mock_server, "MEM-01", hook)
    assert result.status == FAILED, status_of(result)


# MEM-02: every operation of an unknown user is 404 ----------------------------------------------
@pytest.mark.parametrize(
    ("method", "suffix", "reply"),
    [
        ("GET", "/memberships", Reply(200, {"data": []})),
        ("GET", "/memberships/etihad", Reply(400, {"error": "no"})),
        ("DELETE", "/memberships/etihad", Reply(204)),
        ("POST", "/memberships", Reply(400, {"error": "no"})),
    ],
    ids=["list-200", "get-one-400", "delete-204", "create-400"],
)
def test_mem02_fails_each_operation_not_404(
    mock_server: EmbeddedMock, method: str, suffix: str, reply: Reply
) -> None:
    def hook(call: Call, up: Upstream) -> Reply | None:
        unknown = call.path.startswith("/users/qc-unknown-") and call.path.endswith(suffix)
        return reply if unknown and call.method == method else None

    result = outcome(mock_server, "MEM-02", hook)
    assert result.status == FAILED, status_of(result)


def test_mem02_list_of_unknown_user_fault(start_mock: Callable[..., EmbeddedMock]) -> None:
    result = outcome(start_mock(faults=["membership-list-unknown-user-200"]), "MEM-02")
    assert result.status == FAILED, status_of(result)
    assert "GET /users/<unknown>/memberships" in status_of(result)


# MEM-03 / MEM-05: creating again --------------------------------------------------------------
def refuse_re_create(call: Call, up: Upstream) -> Reply | None:
    """A correct reading: a membership the user has is not created again (409, the first kept)."""
    if _is_membership_post(call) and _existing(call, up):
        return Reply(409, {"error": "the user already has a membership with this provider"})
    return None


@pytest.mark.parametrize("check_id", ["MEM-03", "MEM-05"])
def test_re_create_refused_keeping_the_first_conforms(mock_server: EmbeddedMock, check_id: str) -> None:
    result = outcome(mock_server, check_id, refuse_re_create)
    assert result.status == VERIFIED, status_of(result)


@pytest.mark.parametrize("check_id", ["MEM-03", "MEM-05"])
def test_re_create_replaced_with_200_conforms(start_mock: Callable[..., EmbeddedMock], check_id: str) -> None:
    result = outcome(start_mock(variants=["literal-reading"]), check_id)
    assert result.status == VERIFIED, status_of(result)


def test_mem05_a_refusal_that_replaces_fails(mock_server: EmbeddedMock) -> None:
    def hook(call: Call, up: Upstream) -> Reply | None:
        if _is_membership_post(call) and _existing(call, up):
            up.forward(call)  # stored, yet refused
            return Reply(409, {"error": "exists"})
        return None

    result = outcome(mock_server, "MEM-05", hook)
    assert result.status == FAILED, status_of(result)


def test_mem05_a_2xx_keeping_the_old_number_fails(start_mock: Callable[..., EmbeddedMock]) -> None:
    result = outcome(start_mock(faults=["membership-keeps-first"]), "MEM-05")
    assert result.status == FAILED, status_of(result)


def test_mem03_malformed_update_accepted_where_re_create_is_refused_fails(mock_server: EmbeddedMock) -> None:
    def hook(call: Call, up: Upstream) -> Reply | None:
        if _is_membership_post(call) and _existing(call, up):
            if str(_number_sent(call)).isdigit():
                return Reply(409, {"error": "exists"})
            return Reply(201, {"data": {"membership_number": _number_sent(call)}})
        return None

    result = outcome(mock_server, "MEM-03", hook)
    assert result.status == FAILED, status_of(result)


# MEM-06: the own brand --------------------------------------------------------------------------
def test_mem06_auth_id_stored_whatever_was_sent_conforms(mock_server: EmbeddedMock) -> None:
    def hook(call: Call, up: Upstream) -> Reply | None:
        if _is_membership_post(call) and _provider_sent(call) == mock_server.brand_id:
            call.body["membership"]["membership_number"] = _user_of(call)
            return up.forward(call)
        return None

    result = outcome(mock_server, "MEM-06", hook)
    assert result.status == VERIFIED, status_of(result)


def test_mem06_another_number_stored_fails(mock_server: EmbeddedMock) -> None:
    stored: dict[str, str] = {}

    def hook(call: Call, up: Upstream) -> Reply | None:
        brand = mock_server.brand_id
        own = _is_membership_post(call) and _provider_sent(call) == brand
        if own and _number_sent(call) != _user_of(call):
            stored[_user_of(call)] = _number_sent(call)
            return Reply(201, {"data": {"membership_number": _number_sent(call)}})
        user = call.path.split("/")[2] if call.path.startswith("/users/") else ""
        if call.method == "GET" and call.path.endswith(f"/memberships/{brand}") and user in stored:
            return Reply(200, {"data": {"membership_number": stored[user], "brand": {"id": brand}}})
        return None

    result = outcome(mock_server, "MEM-06", hook)
    assert result.status == FAILED, status_of(result)


# MEM-09: a body on the 204 is an advisory -------------------------------------------------------
def test_mem09_body_on_204_is_an_advisory(mock_server: EmbeddedMock) -> None:
    def hook(call: Call, up: Upstream) -> Reply | None:
        if call.method != "DELETE":
            return None
        deleted = up.forward(call)
        if deleted.status != 204:
            return deleted
        body = {"data": {"membership_number": OTHER_ETIHAD, "brand": {"id": "etihad"}}}
        return Reply(204, body, {"Connection": "close"})

    result = outcome(mock_server, "MEM-09", hook)
    assert result.status == ADVISORY, status_of(result)
    assert [a.decision for a in result.advisories] == ["D12"]


# WL-01: active partnerships only --------------------------------------------------------------
@pytest.mark.parametrize(
    ("rewrite", "wanted"),
    [("paused", FAILED), ("no-status", VERIFIED), ("ACTIVE", VERIFIED), ("empty", UNTESTABLE)],
)
def test_wl01_statuses(mock_server: EmbeddedMock, rewrite: str, wanted: str) -> None:
    def hook(call: Call, up: Upstream) -> Reply | None:
        if call.path != "/token-exchange-whitelist":
            return None
        pairs = up.forward(call).json()["data"]
        if rewrite == "empty":
            pairs = []
        for pair in pairs[:1] if rewrite == "paused" else pairs:
            if rewrite == "no-status":
                pair.pop("status")
            else:
                pair["status"] = rewrite
        return Reply(200, {"data": pairs})

    result = outcome(mock_server, "WL-01", hook)
    assert result.status == wanted, status_of(result)


# WL-02 / WL-03: list encodings and unknown values ----------------------------------------------
def comma_only(call: Call, up: Upstream) -> Reply | None:
    """A target that reads token_to_types=a,b only: brackets ignored, of a repeated key the last."""
    if call.path != "/token-exchange-whitelist":
        return None
    values = [v for k, v in call.query if k == "token_to_types"]
    return up.send("GET", call.path, query=[("token_to_types", values[-1])] if values else None)


@pytest.mark.parametrize("check_id", ["WL-02", "WL-03"])
def test_comma_only_target_conforms(mock_server: EmbeddedMock, check_id: str) -> None:
    result = outcome(mock_server, check_id, comma_only)
    assert result.status == VERIFIED, status_of(result)


@pytest.mark.parametrize(
    ("statuses", "verdict"),
    [
        ([(422, None)], None),
        ([(404, None)], None),
        ([(200, [])], None),
        ([(200, [1])], "nonconformity"),
        ([(500, None)], "nonconformity"),
        ([(422, None), (400, None)], None),
        ([(422, None), (200, [1])], None),  # D86: any 4xx, as a 400
        ([(400, None), (200, [1])], None),
        ([(503, None), (422, None)], "nonconformity"),
    ],
)
def test_wl03_unknown_verdict(statuses: list[tuple[int, Any]], verdict: str | None) -> None:
    def response(status: int, data: Any) -> Response:
        text = json.dumps({"data": data} if data is not None else {"error": "unknown type"})
        exchange = Exchange("GET", "http://fake/", {}, None, status, {}, text, 1.0)
        return Response(status=status, headers={}, text=text, exchange=exchange)

    answers = [(f"e{i}", response(s, d)) for i, (s, d) in enumerate(statuses)]
    assert unknown_value_verdict(answers, lists_no_pair) == verdict


def test_wl03_any_4xx_for_an_unknown_value(mock_server: EmbeddedMock) -> None:
    documented = {"erc20", "erc721", "external", "fiat", "miles", "crypto", "donation"}

    def hook(call: Call, up: Upstream) -> Reply | None:
        values = [v for k, v in call.query if k.startswith("token_to_types")]
        if any(v not in documented for v in values):
            return Reply(422, {"error": "unknown token type"})
        return None

    result = outcome(mock_server, "WL-03", hook)
    assert result.status == VERIFIED, status_of(result)


# BAL-01: the balance is a number ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("written", "wanted"),
    [(str, ADVISORY), (lambda b: f"{b}.0", ADVISORY), (lambda b: None, FAILED), (lambda b: "lots", FAILED)],
    ids=["digit-string", "decimal-string", "null", "words"],
)
def test_bal01_balance_values(mock_server: EmbeddedMock, written: Callable[[Any], Any], wanted: str) -> None:
    def hook(call: Call, up: Upstream) -> Reply | None:
        if not (call.method == "GET" and call.path.endswith("/balances")):
            return None
        answer = up.forward(call)
        if answer.status == 200:
            for entry in answer.json()["data"]:
                entry["balance"] = written(entry["balance"])
        return answer

    result = outcome(mock_server, "BAL-01", hook)
    assert result.status == wanted, status_of(result)
    if wanted == ADVISORY:
        assert [a.decision for a in result.advisories] == ["D5"]


def test_bal01_digit_strings_fault_is_an_advisory(start_mock: Callable[..., EmbeddedMock]) -> None:
    result = outcome(start_mock(faults=["balances-digit-strings"]), "BAL-01")
    assert result.status == ADVISORY, status_of(result)


# BAL-02..04: judged by balance changes ------------------------------------------------------------
def sign_up_bonus(call: Call, up: Upstream) -> Reply | None:
    """A correct target crediting every new user 50 points (D27)."""
    if not (call.method == "POST" and call.path == "/users"):
        return None
    created = up.forward(call)
    if created.status == 201:
        bonus = {"type": "credit_points", "user_auth_id": created.json()["data"]["auth_id"],
                 "token_id": BRAND_TOKEN_ID, "amount": 50}
        assert up.send("POST", "/transactions", {"transaction": bonus}).status == 202
    return created


@pytest.mark.parametrize("check_id", ["BAL-02", "BAL-03", "BAL-04"])
def test_balance_checks_tolerate_a_sign_up_bonus(mock_server: EmbeddedMock, check_id: str) -> None:
    result = outcome(mock_server, check_id, sign_up_bonus)
    assert result.status == VERIFIED, status_of(result)


def test_bal04_a_refused_amount_that_moves_the_balance_fails(mock_server: EmbeddedMock) -> None:
    def hook(call: Call, up: Upstream) -> Reply | None:
        tx = (call.body or {}).get("transaction") if call.path == "/transactions" else None
        if isinstance(tx, dict) and tx.get("type") == "credit_points" and tx.get("amount") == "2.5":
            up.send("POST", "/transactions", {"transaction": {**tx, "amount": 2}})
            return Reply(400, {"error": "amount must be a whole number"})
        return None

    result = outcome(mock_server, "BAL-04", hook)
    assert result.status == FAILED, status_of(result)
    assert "changed the balance" in status_of(result)

"""The schemathesis contract tests pass correct servers and fail broken ones, as a user runs them.

Each test starts the reference mock and runs ``pytest contracts/test_schema.py
contracts/test_stateful.py --target URL --api-key K`` in a subprocess: the clean
mock and the mock with every tolerated alternative must pass (a false failure is
the worst bug), and faults that schemathesis itself can see must fail with its
explanation, a curl line, and never the API key. The fuzzing package's own logic
(what is never sent, redaction, runtime links) is tested directly first.
"""

from __future__ import annotations

import datetime
import inspect
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import urllib3
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.openapi.checks import AuthScenario, IgnoredAuth
from schemathesis.specs.openapi import checks as schemathesis_openapi_checks

from qiibee_conformance.discovery import Catalogue, Pair, Token
from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.fuzzing import auth_probe, cases, load_schema, negatable_operations, redact_failure
from qiibee_conformance.fuzzing.links import add_transaction_links
from qiibee_conformance.paths import contracts_dir
from qiibee_conformance.redact import REDACTED, Redactor
from qiibee_conformance.settings import Settings
from qiibee_conformance.spec import load_spec

# A key that would be easy to spot in any output that leaked it.
API_KEY = "qk-contract-test-3f9a1c7e5b2d"
TIMEOUT = 240
FILES = ("test_schema.py", "test_stateful.py")


def run_contracts(
    mock: EmbeddedMock, *, max_examples: int, select: str | None = None
) -> tuple[int, str, float]:
    """Run the contract files against ``mock``; returns exit code, all output, seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "QIIBEE_"))}
    command = [
        sys.executable, "-m", "pytest", *(str(contracts_dir() / f) for f in FILES),
        "--target", mock.base_url, "--api-key", mock.api_key, "--max-examples", str(max_examples),
        "-p", "no:cacheprovider", "-q", "-rfE",
    ]  # fmt: skip
    if select:
        command += ["-k", select]
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=contracts_dir().parent, env=env, capture_output=True, text=True,
        timeout=TIMEOUT, check=False,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


INTEGER_QUERY: dict[str, frozenset[str]] = cases.integer_query_parameters()


def _case(label: str, query: dict[str, Any] | None = None, body: Any = None) -> Any:
    return SimpleNamespace(operation=SimpleNamespace(label=label), query=query, body=body)


@pytest.mark.parametrize(
    ("query", "ambiguous"),
    [
        ({"limit": 0}, False),  # valid input: 200 with an empty page, or a 4xx
        ({"offset": -1}, False),  # bad data: a 4xx (404 documented)
        ({"limit": -3}, False),
        ({"limit": "abc"}, False),  # non-integer: a 4xx
        ({"limit": True}, False),
        ({"limit": 1.5}, False),
        ({"limit": [-1]}, False),  # one value on the wire, still invalid
        ({"limit": [0]}, True),  # one valid value on the wire: no invalid input
        ({"limit": [7]}, True),
        ({"offset": ""}, True),  # may be read as "not sent"
        ({"limit": "+5"}, True),
        ({"limit": " 7"}, True),
        ({"limit": "1_0"}, True),
        ({"limit": "\u0663"}, True),  # a non-ASCII digit, which int() reads
        ({"limit": "7.0"}, True),
        ({"limit": [1, 2]}, True),  # repeated parameter
        ({"limit": {"a": 1}}, True),  # serialises as another parameter
        ({"offset": 2**40}, False),  # huge values are sent: 200 or a 4xx, never a 5xx
        ({"limit": -(2**70)}, False),
        ({"limit": 10, "email_like": ""}, False),  # strings are never integers here
    ],
)
def test_ambiguous_integer_query_values_are_never_sent(query: dict[str, Any], ambiguous: bool) -> None:
    assert cases.is_ambiguous_case(_case("GET /users", query), INTEGER_QUERY) is ambiguous


@pytest.mark.parametrize(
    ("email", "ambiguous"),
    [
        ("useratexample.com", False),  # clearly invalid: no "@"
        ("", False),
        ("john_doe@email.com", False),
        ("a..b@x.io", True),  # RFC and a simple regex disagree
        ("(x)@y.zz", True),
        ("a@-x.io", True),
        ("a.@x.io", True),
        ("a@x.0", True),
        ("x" * 65 + "@x.io", True),  # over RFC 5321's local-part limit
    ],
)
def test_only_plainly_judged_emails_are_sent(email: str, ambiguous: bool) -> None:
    case = _case("POST /users", body={"user": {"email": email}})
    assert cases.is_ambiguous_case(case, INTEGER_QUERY) is ambiguous


def _user(case: Any) -> dict[str, Any]:
    body: dict[str, Any] = case.body
    user: dict[str, Any] = body["user"]
    return user


def test_generated_auth_ids_become_routable_and_types_stay() -> None:
    rewritten = cases.url_safe_auth_ids(_case("POST /users", body={"user": {"auth_id": "a/b?c"}}))
    again = cases.url_safe_auth_ids(_case("POST /users", body={"user": {"auth_id": "a/b?c"}}))
    assert _user(rewritten)["auth_id"].startswith("gen-")
    assert _user(rewritten)["auth_id"] == _user(again)["auth_id"]
    for kept in ("e24c962d-c81c-4a01-b0cd-57dd233553f1", "", None, 12, ["x"]):
        case = cases.url_safe_auth_ids(_case("POST /users", body={"user": {"auth_id": kept}}))
        assert _user(case)["auth_id"] == kept


def test_failure_messages_lose_the_key() -> None:
    redactor = Redactor([API_KEY])
    found = Failure(operation="GET /users", message="x")
    failure = FailureGroup([found], f"body echoed {API_KEY}\ncurl -H 'X-API-KEY: other-secret-value' http://x")
    redacted = redact_failure(failure, redactor)
    assert API_KEY not in redacted.message and "other-secret-value" not in redacted.message
    assert REDACTED in redacted.message


def test_negative_runs_only_where_the_documents_name_invalid_input() -> None:
    assert set(negatable_operations()) == {
        "POST /users", "GET /users", "PUT /users/{auth_id}", "PATCH /users/{auth_id}",
        "POST /users/{auth_id}/memberships", "POST /transactions", "GET /transactions",
    }  # fmt: skip


def _token(token_id: int, kind: str) -> Token:
    rate = Fraction(1)
    return Token(id=token_id, name="T", symbol="T", type=kind, onramp=rate, offramp=rate, raw={})


def test_funding_and_exchange_links_use_discovered_ids() -> None:
    brand, points, miles = _token(7, "erc20"), _token(8, "erc20"), _token(9, "miles")
    pairs = [Pair(id=1, from_token=brand, to_token=miles, status="active", raw={}),
             Pair(id=2, from_token=brand, to_token=points, status="active", raw={})]  # fmt: skip
    catalogue = Catalogue(tokens={7: brand, 8: points, 9: miles}, pairs=pairs, brand_token=brand)
    raw = load_spec()
    add_transaction_links(raw, catalogue)
    created = raw["paths"]["/users"]["post"]["responses"]["201"]["links"]
    credit = created["CreditPointsToUser"]["requestBody"]["transaction"]
    assert credit == {**credit, "type": "credit_points", "token_id": 7}
    # The user is named from the request: the created user may come back in any of three shapes.
    assert credit["user_auth_id"] == "$request.body#/user/auth_id"
    accepted = raw["paths"]["/transactions"]["post"]["responses"]["202"]["links"]
    exchange = accepted["ExchangeForTransactionUser"]["requestBody"]["transaction"]
    assert (exchange["brandA_token_id"], exchange["brandB_token_id"]) == (7, 8)  # no membership needed
    assert load_spec()["paths"]["/transactions"]["post"]["responses"]["202"].get("links") is None


def test_user_links_read_the_auth_id_from_the_request() -> None:
    links = load_spec()["paths"]["/users"]["post"]["responses"]["201"]["links"]
    expressions = {value for link in links.values() for value in link.get("parameters", {}).values()}
    assert expressions == {"$request.body#/user/auth_id"}


@pytest.mark.parametrize("sent", [None, "", "e24c962d-c81c-4a01-b0cd-57dd233553f1", 12])
def test_stateful_users_always_carry_a_fresh_auth_id(sent: Any) -> None:
    user: dict[str, Any] = {"email": "john_doe@email.com"}
    if sent is not None:
        user["auth_id"] = sent
    case = cases.fresh_identities(_case("POST /users", body={"user": user}))
    assert str(_user(case)["auth_id"]).startswith("st-")
    email = _user(case)["email"]
    assert email.startswith("st-") and email.endswith("@email.com")


# ------------------------------------------------------------------------------------------
# What the configured checks make of an answer, without a server: a recorded response is
# validated as schemathesis validates a real one (the enabled checks of the mode).

SETTINGS = Settings(base_url="http://127.0.0.1:9", api_key=API_KEY)


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    return {mode: load_schema(SETTINGS, mode) for mode in ("positive", "negative")}


def _answer(
    case: Any,
    status: int,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> requests.Response:
    """A recorded answer to ``case``: a JSON body (``body``) or raw bytes with the given headers."""
    headers = dict(headers or {})
    if raw is None and body is not None:
        raw = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    content = raw or b""
    url = "http://127.0.0.1:9" + case.formatted_path
    response = requests.Response()
    response.status_code = status
    response._content = content
    response.headers.update(headers)
    response.raw = urllib3.HTTPResponse(
        body=io.BytesIO(content), headers=headers, status=status, preload_content=False
    )
    response.url = url
    response.request = requests.Request(case.method, url, headers={"X-API-KEY": API_KEY}).prepare()
    response.elapsed = datetime.timedelta(milliseconds=3)
    response.reason = "recorded"
    return response


def _verdict(
    schema: Any, path: str, method: str, response_of: Callable[[Any], requests.Response], **parts: Any
) -> str:
    """"pass", or the titles of the failures; the auth probes (which need a server) are left out."""
    case = schema[path][method].Case(**parts)
    try:
        excluded = [auth_probe.ignored_auth_unless_rate_limited]
        case.validate_response(response_of(case), excluded_checks=excluded)
    except FailureGroup as failures:
        return "; ".join(sorted(f.title for f in failures.exceptions))
    return "pass"


USER = {"id": "3r2esf3423r", "email": "john_doe@email.com", "auth_id": "e24c962d-c81c-4a01-b0cd-57dd233553f1"}
AUTH_ID = {"auth_id": USER["auth_id"]}

# (status, JSON body, raw body, headers): error answers a correct server may give. The message
# is ERR-01's business; that it is a JSON object only a warn-level reading.
ERROR_ANSWERS = [
    (404, None, b"Not Found", {"Content-Type": "text/plain"}),
    (404, None, b"", {}),  # no message promised for some 404s; none at all is ERR-01's to judge
    (400, None, b"<html><body>bad email</body></html>", {"Content-Type": "text/html"}),
    (401, "Invalid API Key", None, {}),  # JSON, but not an object
    (422, {"detail": [{"msg": "value is not a valid email"}]}, None, {}),
    (404, {}, None, {}),  # "404 and empty object"
    (405, None, b"", {"Allow": "GET, POST"}),
    (429, None, b"slow down", {"Retry-After": "1"}),
    (429, None, b"", {}),
    (503, None, b"", {"Retry-After": "Wed, 21 Oct 2037 07:28:00 GMT"}),
]


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize(("status", "body", "raw", "headers"), ERROR_ANSWERS)
def test_error_answers_pass_with_any_body(
    schemas: dict[str, Any], mode: str, status: int, body: Any, raw: bytes | None, headers: dict[str, str]
) -> None:
    def answer(case: Any) -> requests.Response:
        return _answer(case, status, body, raw=raw, headers=headers)

    schema = schemas[mode]
    assert _verdict(schema, "/users/{auth_id}", "GET", answer, path_parameters=AUTH_ID) == "pass"
    assert _verdict(schema, "/users", "POST", answer, body={"user": {"email": "x"}}) == "pass"
    assert _verdict(schema, "/transactions", "GET", answer, query={"limit": -1}) == "pass"


@pytest.mark.parametrize(
    ("path", "method", "parts", "status", "body", "expected"),
    [
        # Server errors, undocumented successes and broken success bodies still fail.
        ("/users/{auth_id}", "GET", AUTH_ID, 500, {"error": "boom"}, "Server error"),
        ("/users/{auth_id}", "GET", AUTH_ID, 503, None, "Missing required response headers"),
        ("/users/{auth_id}/memberships/{implementation_name}", "DELETE",
         {**AUTH_ID, "implementation_name": "etihad"}, 200, {"data": {}}, "Undocumented status code"),
        ("/users/{auth_id}", "GET", AUTH_ID, 200, USER, "Response violates schema"),  # GET: under data
        ("/users", "GET", {"query": {"limit": 500}}, 200,
         {"data": {"users": [USER] * 101, "total_count": 101}}, "Response violates schema"),
        # Tolerated variants pass.
        ("/users", "GET", {"query": {"limit": 0}}, 200, {"data": {"users": [], "total_count": 4}}, "pass"),
        ("/users", "GET", {"query": {"limit": 0}}, 400, {"error": "limit must be at least 1"}, "pass"),
        ("/users", "GET", {"query": {"offset": -1}}, 404, {"error": "bad data"}, "pass"),
        ("/users", "POST", {"body": {"user": {"email": "a@b.co"}}}, 201, {"data": USER}, "pass"),
        ("/users", "POST", {"body": {"user": {"email": "a@b.co"}}}, 201, {"user": USER}, "pass"),
        ("/users", "POST", {"body": {"user": {"email": "a@b.co"}}}, 201, USER, "pass"),
        ("/users/{auth_id}", "PUT", AUTH_ID, 200, {"user": {**USER, "first_name": None}}, "pass"),
        ("/users/{auth_id}/memberships", "POST", AUTH_ID, 200,
         {"membership_number": "100014486294", "brand": {"id": "etihad"}}, "pass"),
        ("/users/{auth_id}/memberships", "POST", AUTH_ID, 201, {"data": USER}, "pass"),
        ("/users/{auth_id}/balances", "GET", AUTH_ID, 200,
         {"data": [{"balance": "12.50", "token": {"id": "7", "type": "erc20", "onramp": 0.5}}]}, "pass"),
        ("/token-exchange-whitelist", "GET", {}, 200,
         {"data": [{"id": 1, "from_token": {"id": 1, "type": "erc20", "onramp": 24.2, "offramp": "23.5"},
                    "to_token": {"id": "2", "type": "miles", "onramp": 1, "offramp": None},
                    "max_usd_exchange_limit": 100, "min_usd_exchange_limit": "1E-2"}]}, "pass"),
        ("/transactions", "GET", {}, 200,
         {"data": {"total_tx_count": 1, "transactions": [
             {"id": "tx-1", "loyalty_event_type": "exchange", "status": "processing",
              "inserted_at": "2021-09-27T14:31:10.123+02:00", "amount_received": 0, "points_burned": 10.0}]}},
         "pass"),
        ("/transactions", "POST", {}, 202, None, "pass"),
    ],
)  # fmt: skip
def test_positive_answers(
    schemas: dict[str, Any],
    path: str,
    method: str,
    parts: dict[str, Any],
    status: int,
    body: Any,
    expected: str,
) -> None:
    parts = dict(parts)
    call: dict[str, Any] = {key: parts.pop(key) for key in ("query", "body") if key in parts}
    if parts:
        call["path_parameters"] = parts

    def answer(case: Any) -> requests.Response:
        return _answer(case, status, body)

    verdict = _verdict(schemas["positive"], path, method, answer, **call)
    assert (verdict == "pass") if expected == "pass" else (expected in verdict), verdict


def test_the_auth_probe_status_is_where_the_wrapper_reads_it() -> None:
    """Guard: the wrapper reads the probe's status from schemathesis' own message; when an
    upgrade rewords it, this fails (and the wrapper fails like ignored_auth, never passes)."""
    source = inspect.getsource(schemathesis_openapi_checks)
    assert "got `{response.status_code}" in source, "schemathesis reworded ignored_auth: update auth_probe.py"


NO_CONTEXT: Any = None  # the stand-in ignored_auth never looks at them
NO_CASE: Any = None


def test_a_rate_limited_auth_probe_proves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def probe_answered(status: str) -> Callable[..., None]:
        def fake(*_: Any) -> None:
            raise IgnoredAuth(
                operation="GET /users", message=f"Expected 401 or 403, got `{status}` for `GET /users`",
                scenario=AuthScenario.NO_AUTH,
            )  # fmt: skip

        return fake

    for status in ("429 Too Many Requests", "503 Service Unavailable"):
        monkeypatch.setattr(auth_probe, "ignored_auth", probe_answered(status))
        assert auth_probe.ignored_auth_unless_rate_limited(NO_CONTEXT, None, NO_CASE) is None
    monkeypatch.setattr(auth_probe, "ignored_auth", probe_answered("200 OK"))
    with pytest.raises(IgnoredAuth):
        auth_probe.ignored_auth_unless_rate_limited(NO_CONTEXT, None, NO_CASE)


@pytest.mark.slow
def test_clean_mock_passes(start_mock: Callable[..., EmbeddedMock]) -> None:
    mock = start_mock(api_key=API_KEY)
    code, output, _ = run_contracts(mock, max_examples=15)
    assert code == 0, output[-6000:]
    assert "3 passed" in output, output[-3000:]
    assert API_KEY not in output


@pytest.mark.slow
def test_every_tolerated_alternative_passes(start_mock: Callable[..., EmbeddedMock]) -> None:
    mock = start_mock(api_key=API_KEY, variants=["all-alternatives"])
    code, output, _ = run_contracts(mock, max_examples=15)
    assert code == 0, output[-6000:]
    assert "3 passed" in output, output[-3000:]


# fault -> (the test that must fail, text of schemathesis' explanation). An error body without a
# message (error-empty-body) is ERR-01's finding, not schemathesis': error answers declare no body.
CAUGHT_FAULTS: dict[str, tuple[str, str]] = {
    "malformed-json-500": ("negative", "Server error"),
    "membership-delete-200": ("positive", "Undocumented status code"),
    "auth-missing-key-accepted": ("positive", "API accepts requests without authentication"),
    "user-email-unvalidated": ("negative", "Schema-violating request accepted"),
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(CAUGHT_FAULTS))
def test_schemathesis_catches_fault(start_mock: Callable[..., EmbeddedMock], fault: str) -> None:
    test_name, explanation = CAUGHT_FAULTS[fault]
    mock = start_mock(api_key=API_KEY, faults=[fault])
    code, output, _ = run_contracts(mock, max_examples=20, select=test_name)
    assert code == 1, output[-6000:]
    assert explanation in output, output[-6000:]
    assert "curl -X" in output, "the failure must carry a reproduction"
    assert API_KEY not in output, "the API key leaked into the failure output"

"""The schemathesis contract tests pass correct servers and fail broken ones, as a user runs them.

Each test starts the reference mock and runs ``pytest contracts/test_schema.py
contracts/test_stateful.py --target URL --api-key K`` in a subprocess: the clean
mock and the mock with every tolerated alternative must pass (a false failure is
the worst bug), and faults that schemathesis itself can see must fail with its
explanation, a curl line, and never the API key. The helper module's own logic
(what is never sent, redaction, runtime links) is tested directly first.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from schemathesis.core.failures import Failure, FailureGroup

from qiibee_conformance.discovery import Catalogue, Pair, Token
from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.paths import contracts_dir
from qiibee_conformance.redact import REDACTED
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


def _setup_module() -> ModuleType:
    """contracts/_schemathesis_setup.py, loaded the way pytest's rootdir import sees it."""
    path = contracts_dir() / "_schemathesis_setup.py"
    spec = importlib.util.spec_from_file_location("_schemathesis_setup", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_schemathesis_setup", module)
    spec.loader.exec_module(module)
    return module


SETUP = _setup_module()
INTEGER_QUERY: dict[str, frozenset[str]] = SETUP._integer_query_parameters()


def _case(label: str, query: dict[str, Any] | None = None, body: Any = None) -> Any:
    return SimpleNamespace(operation=SimpleNamespace(label=label), query=query, body=body)


@pytest.mark.parametrize(
    ("query", "ambiguous"),
    [
        ({"limit": 0}, False),  # limit < 1: documented 400
        ({"offset": -1}, False),
        ({"limit": "abc"}, False),  # non-integer: documented 400
        ({"limit": True}, False),
        ({"limit": 1.5}, False),
        ({"limit": [0]}, False),  # one value on the wire
        ({"offset": ""}, True),  # may be read as "not sent"
        ({"limit": "+5"}, True),
        ({"limit": " 7"}, True),
        ({"limit": "1_0"}, True),
        ({"limit": "\u0663"}, True),  # a non-ASCII digit, which int() reads
        ({"limit": "7.0"}, True),
        ({"limit": [1, 2]}, True),  # repeated parameter
        ({"limit": {"a": 1}}, True),  # serialises as another parameter
        ({"offset": 2**40}, True),  # beyond any documented domain
        ({"limit": 10, "email_like": ""}, False),  # strings are never integers here
    ],
)
def test_ambiguous_integer_query_values_are_never_sent(query: dict[str, Any], ambiguous: bool) -> None:
    assert SETUP.is_ambiguous_case(_case("GET /users", query), INTEGER_QUERY) is ambiguous


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
    assert SETUP.is_ambiguous_case(case, INTEGER_QUERY) is ambiguous


def test_generated_auth_ids_become_routable_and_types_stay() -> None:
    rewritten = SETUP.url_safe_auth_ids(_case("POST /users", body={"user": {"auth_id": "a/b?c"}}))
    again = SETUP.url_safe_auth_ids(_case("POST /users", body={"user": {"auth_id": "a/b?c"}}))
    assert rewritten.body["user"]["auth_id"].startswith("gen-")
    assert rewritten.body["user"]["auth_id"] == again.body["user"]["auth_id"]
    for kept in ("e24c962d-c81c-4a01-b0cd-57dd233553f1", "", None, 12, ["x"]):
        case = SETUP.url_safe_auth_ids(_case("POST /users", body={"user": {"auth_id": kept}}))
        assert case.body["user"]["auth_id"] == kept


def test_failure_messages_lose_the_key() -> None:
    redactor = SETUP.redactor_for(Settings(base_url="http://127.0.0.1:1", api_key=API_KEY))
    found = Failure(operation="GET /users", message="x")
    failure = FailureGroup([found], f"body echoed {API_KEY}\ncurl -H 'X-API-KEY: other-secret-value' http://x")
    redacted = SETUP.redact_failure(failure, redactor)
    assert API_KEY not in redacted.message and "other-secret-value" not in redacted.message
    assert REDACTED in redacted.message


def test_negative_runs_only_where_the_documents_name_invalid_input() -> None:
    assert set(SETUP.negatable_operation_ids()) == {
        "createUser", "listUsers", "updateUser", "patchUser", "createMembership",
        "createTransaction", "listTransactions",
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
    SETUP.add_transaction_links(raw, catalogue)
    created = raw["paths"]["/users"]["post"]["responses"]["201"]["links"]
    credit = created["CreditPointsToUser"]["requestBody"]["transaction"]
    assert credit == {**credit, "type": "credit_points", "token_id": 7}
    accepted = raw["paths"]["/transactions"]["post"]["responses"]["202"]["links"]
    exchange = accepted["ExchangeForTransactionUser"]["requestBody"]["transaction"]
    assert (exchange["brandA_token_id"], exchange["brandB_token_id"]) == (7, 8)  # no membership needed
    assert load_spec()["paths"]["/transactions"]["post"]["responses"]["202"].get("links") is None


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


# fault -> (the test that must fail, text of schemathesis' explanation)
CAUGHT_FAULTS: dict[str, tuple[str, str]] = {
    "malformed-json-500": ("negative", "Server error"),
    "error-empty-body": ("positive", "Missing Content-Type header"),
    "membership-delete-200": ("positive", "Undocumented status code"),
    "auth-missing-key-accepted": ("positive", "API accepts requests without authentication"),
    "user-email-unvalidated": ("negative", "Schema-violating request accepted"),
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(CAUGHT_FAULTS))
def test_schemathesis_catches_fault(start_mock: Callable[..., EmbeddedMock], fault: str) -> None:
    test_name, explanation = CAUGHT_FAULTS[fault]
    mock = start_mock(api_key=API_KEY, faults=[fault])
    code, output, _ = run_contracts(mock, max_examples=10, select=test_name)
    assert code == 1, output[-6000:]
    assert explanation in output, output[-6000:]
    assert "curl -X" in output, "the failure must carry a reproduction"
    assert API_KEY not in output, "the API key leaked into the failure output"

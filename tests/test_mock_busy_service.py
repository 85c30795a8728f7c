"""The busy-service variant: rate limiting, an occasional 503, a sign-up bonus, zero-yield 400."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.mock.busy import BusyGate
from tests.conftest import FAST_SETTLE, MockApi


@pytest.fixture(scope="module")
def busy() -> Iterator[MockApi]:
    """A busy-service mock for the tests that stay far below the bucket (a few requests each)."""
    with EmbeddedMock(variants=["busy-service"], settle_delay=FAST_SETTLE) as mock:
        yield MockApi(mock)


def test_gate_refills_and_503s_every_nth() -> None:
    now = [0.0]
    gate = BusyGate(capacity=3, refill=2.0, unavailable_every=5, clock=lambda: now[0])
    assert [gate.check(b"k") for _ in range(4)] == [None, None, None, 429]
    assert gate.check(b"other") is None  # one bucket per API key
    now[0] = 0.5  # one token back
    assert gate.check(b"k") == 503  # the 5th admitted request
    assert gate.check(b"k") == 429
    now[0] = 10.0  # refills to capacity, never beyond
    assert [gate.check(b"k") for _ in range(4)] == [None, None, None, 429]


def test_rate_limited_requests_have_no_effect_and_retry_after_works(
    start_mock: Callable[..., EmbeddedMock],
) -> None:
    mock = start_mock(variants=["busy-service"])
    api = MockApi(mock)
    auth_id = api.new_user()["auth_id"]
    body = {"transaction": {"type": "credit_points", "user_auth_id": auth_id, "token_id": 101, "amount": 1}}

    def credit(_: int) -> requests.Response:
        return requests.post(mock.base_url + "/transactions", json=body, timeout=10,
                             headers={"X-API-KEY": mock.api_key})

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(credit, range(200)))
    statuses = Counter(r.status_code for r in answers)
    assert set(statuses) <= {202, 429, 503} and statuses[429] > 0, statuses
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.headers["Retry-After"] == "1" and refused.json()["error"]
    time.sleep(float(refused.headers["Retry-After"]))
    assert api.balance(auth_id) == 50 + statuses[202]  # bonus + only the admitted credits
    credits = api.history(user_auth_id=auth_id, types="credit_points", limit=100)
    total = api.get("/transactions", params={"user_auth_id": auth_id}).json()["data"]["total_tx_count"]
    assert total == 1 + statuses[202] and len(credits) == min(total, 100)


def test_every_200th_request_is_503_with_retry_after(start_mock: Callable[..., EmbeddedMock]) -> None:
    mock = start_mock(variants=["busy-service"])
    session = requests.Session()
    session.headers["X-API-KEY"] = mock.api_key
    seen: Counter[int] = Counter()
    unavailable: requests.Response | None = None
    end = time.monotonic() + 6  # 200 admitted requests need ~1.5 s of refill after the first 50
    while unavailable is None and time.monotonic() < end:
        resp = session.get(mock.base_url + "/token-exchange-whitelist", timeout=10)
        seen[resp.status_code] += 1
        if resp.status_code == 503:
            unavailable = resp
        elif resp.status_code == 429:
            time.sleep(0.05)
    assert unavailable is not None and seen[503] == 1, seen
    assert seen[200] < 200  # the readiness probe's requests were admitted too
    assert unavailable.headers["Retry-After"] == "1" and unavailable.json()["error"]


def test_new_user_starts_with_a_bonus_row(busy: MockApi) -> None:
    auth_id = busy.new_user()["auth_id"]
    assert busy.balance(auth_id) == 50
    rows = busy.history(user_auth_id=auth_id)
    assert len(rows) == 1
    row = rows[0]
    shown = (row["loyalty_event_type"], row["status"], row["amount_received"])
    assert shown == ("credit_points", "success", "50")
    assert int(row["token"]["id"]) == 101 and row["user"]["auth_id"] == auth_id


def test_zero_yield_exchange_is_400(busy: MockApi) -> None:
    auth_id = busy.new_user()["auth_id"]
    zero: dict[str, Any] = {"type": "exchange", "user_auth_id": auth_id, "brandA_token_id": 101,
                            "brandB_token_id": 202, "amount": 1, "exchange_rate_override": "0.2"}
    resp = busy.tx(**zero)
    assert resp.status_code == 400 and resp.json()["error"]
    assert busy.balance(auth_id) == 50
    assert busy.tx(**{**zero, "amount": 5}).status_code == 202  # floor(5 x 0.2) = 1


def test_zero_yield_exchange_is_accepted_by_default(mock_api: MockApi) -> None:
    auth_id = mock_api.funded_user(10)
    resp = mock_api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=202,
                       amount=1, exchange_rate_override="0.2")
    assert resp.status_code == 202 and resp.json()["data"]["amount_received"] == "0"


def test_default_mock_gives_no_bonus(mock_api: MockApi) -> None:
    auth_id = mock_api.new_user(email=f"b-{uuid.uuid4().hex[:8]}@example.com")["auth_id"]
    assert mock_api.balance(auth_id) == 0 and mock_api.history(user_auth_id=auth_id) == []

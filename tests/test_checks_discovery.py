"""Discovery and reconciliation against the live reference mock."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.client import ApiClient
from qiibee_conformance.discovery import discover
from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.errors import RunError
from qiibee_conformance.loadtest.reconciliation import reconcile_users
from qiibee_conformance.mock.catalogue import BRAND_TOKEN_ID, PAIRS, one_way_pair_ids
from qiibee_conformance.settings import Settings


def settings_for(mock: EmbeddedMock, **overrides: object) -> Settings:
    return Settings(base_url=mock.base_url, api_key=mock.api_key, settle_timeout=5.0, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def client(mock_server: EmbeddedMock) -> Iterator[ApiClient]:
    api = ApiClient(mock_server.base_url, mock_server.api_key)
    yield api
    api.close()


def test_discovers_pairs_and_probes_brand_token(mock_server: EmbeddedMock, client: ApiClient) -> None:
    catalogue = discover(client, settings_for(mock_server))
    assert catalogue.brand_token.id == BRAND_TOKEN_ID
    assert {(p.from_token.id, p.to_token.id) for p in catalogue.pairs} == {
        (p.from_id, p.to_id) for p in PAIRS
    }
    assert {p.id for p in catalogue.one_way_pairs()} == one_way_pair_ids()
    assert catalogue.pair(BRAND_TOKEN_ID, 202) is not None
    assert all(p.to_token.type not in ("erc721", "crypto") for p in catalogue.exchangeable_pairs())
    assert catalogue.unused_token_id() not in catalogue.tokens


def test_configured_brand_token_is_used(mock_server: EmbeddedMock, client: ApiClient) -> None:
    catalogue = discover(client, settings_for(mock_server, brand_token_id=BRAND_TOKEN_ID))
    assert catalogue.brand_token.id == BRAND_TOKEN_ID
    with pytest.raises(RunError, match="brand_token_id"):
        discover(client, settings_for(mock_server, brand_token_id=987654))


def test_string_token_ids(start_mock: Callable[..., EmbeddedMock]) -> None:
    mock = start_mock(variants=["string-token-ids"])
    catalogue = discover(ApiClient(mock.base_url, mock.api_key), settings_for(mock))
    assert catalogue.brand_token.id == BRAND_TOKEN_ID
    assert all(isinstance(t, int) for t in catalogue.tokens)


def test_wrong_key_is_a_run_error(mock_server: EmbeddedMock) -> None:
    client = ApiClient(mock_server.base_url, "qc-wrong-key-1234567890")
    with pytest.raises(RunError) as err:
        discover(client, settings_for(mock_server))
    assert "qc-wrong-key-1234567890" not in str(err.value)


def _exercise(ctx: CheckContext) -> str:
    user = ctx.api.new_user("rec")
    ctx.api.fund(user, 100)
    for pair in ctx.catalogue.exchangeable_pairs():
        if pair.to_token.type != "miles":
            assert ctx.api.exchange(user, pair, 3).status == 202
    assert ctx.api.points("debit_points", user, 7).status == 202
    return user


def test_reconcile_agrees_on_a_correct_target(mock_server: EmbeddedMock, client: ApiClient) -> None:
    settings = settings_for(mock_server)
    ctx = CheckContext(settings, client)
    user = _exercise(ctx)
    report = reconcile_users(client, [user], ctx.brand_token_id, settle_timeout=5.0)
    assert report.ok, report.to_dict()
    assert report.users == 1 and report.rows >= 5


def test_reconcile_finds_a_missing_reversal(start_mock: Callable[..., EmbeddedMock]) -> None:
    mock = start_mock(faults=["settlement-no-reversal"])
    client = ApiClient(mock.base_url, mock.api_key)
    ctx = CheckContext(settings_for(mock), client)
    user = _exercise(ctx)
    report = reconcile_users(client, [user], ctx.brand_token_id, settle_timeout=5.0)
    assert not report.ok
    assert "balance" in report.discrepancies[0].message
    assert report.discrepancies[0].evidence

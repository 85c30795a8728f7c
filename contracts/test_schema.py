"""SCH-01 / SCH-02: schemathesis over every operation of openapi/qiibee.yaml.

Positive data must get declared statuses, content types and bodies; negative data
(only what every reading of the documents calls invalid, see DECISIONS.md) must get
a 4xx and never a 5xx. Only fail-level rules are judged here: error bodies, for one,
are ERR-01's (a JSON object is a warn-level reading), so the spec declares none. The
target and key come from the plugin's ``qiibee_settings``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis

from qiibee_conformance.fuzzing import (
    AnyCase,
    call_and_validate,
    http_session,
    load_schema,
    negatable_operation_ids,
)
from qiibee_conformance.fuzzing.pytest_compat import nodeid_shim
from qiibee_conformance.redact import Redactor
from qiibee_conformance.settings import Settings


@pytest.fixture(scope="session")
def qiibee_positive_schema(qiibee_settings: Settings) -> Any:
    return load_schema(qiibee_settings, "positive")


@pytest.fixture(scope="session")
def qiibee_negative_schema(qiibee_settings: Settings) -> Any:
    return load_schema(qiibee_settings, "negative")


@pytest.fixture(scope="session")
def qiibee_redactor(qiibee_settings: Settings) -> Redactor:
    return Redactor([qiibee_settings.api_key])


@pytest.fixture(scope="session")
def qiibee_http_session(qiibee_settings: Settings) -> Iterator[requests.Session]:
    session = http_session(qiibee_settings.limits)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(autouse=True)
def _schemathesis_nodeid_compat(request: pytest.FixtureRequest) -> None:
    nodeid_shim(request.node)


positive = schemathesis.pytest.from_fixture("qiibee_positive_schema")
negative = schemathesis.pytest.from_fixture("qiibee_negative_schema").include(
    operation_id=negatable_operation_ids()
)


@pytest.mark.requirement("SCH-01")
@positive.parametrize()
def test_positive_data_conforms(
    case: AnyCase, qiibee_redactor: Redactor, qiibee_http_session: requests.Session
) -> None:
    call_and_validate(case, qiibee_redactor, qiibee_http_session)


@pytest.mark.requirement("SCH-02")
@negative.parametrize()
def test_negative_data_rejected(
    case: AnyCase, qiibee_redactor: Redactor, qiibee_http_session: requests.Session
) -> None:
    call_and_validate(case, qiibee_redactor, qiibee_http_session)

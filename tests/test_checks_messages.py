"""Finding the message of an error body, whatever key a correct target chose."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qiibee_conformance.checks.list_filters import list_param
from qiibee_conformance.checks.messages import find_message
from qiibee_conformance.times import format_time, parse_time


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": "user not found"}, "user not found"),
        ({"message": "Invalid API Key"}, "Invalid API Key"),
        ({"errors": {"detail": "Not Found"}}, "Not Found"),
        ({"errors": [{"field": "email", "msg": "is invalid"}]}, "email"),
        ({"code": 404, "data": None, "info": {"text": "no such user"}}, "no such user"),
        ({"error": "", "message": "fallback"}, "fallback"),
    ],
)
def test_message_found_anywhere(body: object, expected: str) -> None:
    assert find_message(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"error": ""},
        {"error": None},
        {"errors": {}},
        {"code": 404},
        {"e": "  "},
        {"error": "404"},
        None,
        [],
    ],
)
def test_no_message(body: object) -> None:
    assert find_message(body) is None


def test_message_keys_preferred_over_other_strings() -> None:
    assert find_message({"status": "failed", "error": "insufficient balance"}) == "insufficient balance"


@pytest.mark.parametrize(
    "text",
    [
        "2021-09-27T14:31:10",
        "2021-09-27T14:31:10Z",
        "2021-09-27T14:31:10.123456Z",
        "2021-09-27T16:31:10+02:00",
    ],
)
def test_times_with_and_without_zone(text: str) -> None:
    parsed = parse_time(text)
    assert parsed is not None
    assert parsed.replace(microsecond=0) == datetime(2021, 9, 27, 14, 31, 10, tzinfo=UTC)


def test_unparseable_times() -> None:
    assert parse_time("yesterday") is None
    assert parse_time(None) is None
    assert parse_time(12) is None


def test_format_time_round_trips() -> None:
    for text in ("2021-09-27T14:31:10", "2021-09-27T14:31:10.123456Z"):
        parsed = parse_time(text)
        assert parsed is not None
        assert parse_time(format_time(parsed)) == parsed
    assert format_time(datetime(2021, 9, 27, 14, 31, 10, tzinfo=UTC)) == "2021-09-27T14:31:10Z"


def test_list_param_encoding() -> None:
    assert list_param("types", ["a", "b"]) == [("types[]", "a"), ("types[]", "b")]

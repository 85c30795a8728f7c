"""Parsing and validation of request input: every bad input becomes a ``ApiError``.

Handlers turn ``ApiError`` into a 4xx JSON error; nothing in here may raise
anything else for client-controlled data.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.datastructures import QueryParams

MAX_BODY_BYTES = 1_000_000
MAX_AMOUNT = 10**15  # keeps every balance far inside SQLite's signed 64-bit integers
MAX_OFFSET = 2**62
MAX_STRING = 1000

EMAIL_RE = re.compile(r"^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$")
AUTH_ID_RE = re.compile(r"^[^\s/?#%\\\x00-\x1f\x7f]{1,128}$")
DIGITS_RE = re.compile(r"^[0-9]+$")
INT_RE = re.compile(r"^[+-]?[0-9]+$")
DECIMAL_RE = re.compile(r"^[0-9]+(\.[0-9]+)?$")


class ApiError(Exception):
    """Client input the contract calls invalid; ``status`` is the 4xx to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _reject_constant(name: str) -> Any:
    raise ApiError(f"invalid JSON number {name}")


def parse_json_body(raw: bytes) -> Any:
    """Decode a request body exactly: floats become Decimal so no money passes through float."""
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError("request body too large", 413)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError("request body is not valid UTF-8") from None
    if not text.strip():
        raise ApiError("request body is empty; a JSON object is required")
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except ApiError:
        raise
    except (ValueError, RecursionError):
        raise ApiError("request body is not valid JSON") from None


def wrapper(body: Any, key: str) -> dict[str, Any]:
    """The documented ``{"<key>": {...}}`` wrapper object, or ApiError."""
    if not isinstance(body, dict):
        raise ApiError("request body must be a JSON object")
    inner = body.get(key)
    if not isinstance(inner, dict):
        raise ApiError(f"request body must contain a {key!r} object")
    return inner


def optional_string(obj: dict[str, Any], key: str) -> str | None:
    """A string-or-null field; absent is None too."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(f"{key} must be a string")
    if len(value) > MAX_STRING:
        raise ApiError(f"{key} is too long")
    return value


def required_string(obj: dict[str, Any], key: str) -> str:
    """A mandatory non-empty string field."""
    value = optional_string(obj, key)
    if value is None or value == "":
        raise ApiError(f"{key} is required")
    return value


def is_valid_email(value: str) -> bool:
    """Reasonable email check: no whitespace, exactly one @, a dot in the domain."""
    return len(value) <= 254 and EMAIL_RE.match(value) is not None


def valid_auth_id(value: Any) -> str:
    """An auth_id a client can put in a URL path."""
    if not isinstance(value, str) or not AUTH_ID_RE.match(value):
        raise ApiError("auth_id must be a non-empty string of at most 128 URL-safe characters")
    return value


def _plain_numbers(value: Any) -> Any:
    """Metadata is not money: give its Decimals back as JSON numbers (finite floats)."""
    if isinstance(value, Decimal):
        number = float(value)
        if not math.isfinite(number):
            raise ApiError("metadata numbers must be finite")
        return number
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    return value


def metadata_json(obj: dict[str, Any]) -> str | None:
    """``metadata`` as stored JSON text: null or an object."""
    value = obj.get("metadata")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError("metadata must be an object or null")
    try:
        text = json.dumps(_plain_numbers(value), separators=(",", ":"), ensure_ascii=False)
    except (ValueError, RecursionError):
        raise ApiError("metadata cannot be stored") from None
    if len(text) > MAX_BODY_BYTES // 10:
        raise ApiError("metadata is too large")
    return text


def token_id(obj: dict[str, Any], key: str) -> int:
    """A token id: an integer (or a string of digits, as responses may show them)."""
    value = obj.get(key)
    if isinstance(value, bool) or value is None:
        raise ApiError(f"{key} is required and must be an integer")
    if isinstance(value, int) and 0 < value < MAX_OFFSET:
        return value
    if isinstance(value, str) and DIGITS_RE.match(value) and len(value) <= 18:
        return int(value)
    raise ApiError(f"{key} must be a positive integer")


def amount(obj: dict[str, Any], *, truncate_decimals: bool = False) -> int:
    """A points amount: a positive integer or a string of digits; never a decimal.

    ``truncate_decimals`` is the ``exchange-decimal-amount`` fault: 2.5 becomes 2.
    """
    value = obj.get("amount")
    result: int | None = None
    if isinstance(value, bool) or value is None:
        raise ApiError("amount is required and must be a positive integer")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str) and DIGITS_RE.match(value) and len(value) <= 30:
        result = int(value)
    elif truncate_decimals:
        try:
            dec = Decimal(value) if isinstance(value, Decimal | str) else None
        except InvalidOperation:
            dec = None
        if dec is not None and dec.is_finite() and abs(dec) < MAX_AMOUNT:
            result = int(dec)
    if result is None:
        raise ApiError("amount must be a positive integer or a string of digits, not a decimal")
    if result <= 0:
        raise ApiError("amount must be greater than 0")
    if result > MAX_AMOUNT:
        raise ApiError(f"amount must be at most {MAX_AMOUNT}")
    return result


def rate_override(obj: dict[str, Any]) -> Decimal | None:
    """``exchange_rate_override``: a positive number (JSON number or decimal string) or absent."""
    value = obj.get("exchange_rate_override")
    if value is None:
        return None
    if isinstance(value, bool):
        raise ApiError("exchange_rate_override must be a positive number")
    dec: Decimal | None = None
    textual = isinstance(value, str) and DECIMAL_RE.match(value) is not None and len(value) <= 40
    if isinstance(value, int | Decimal) or textual:
        dec = Decimal(value)
    if dec is None or not dec.is_finite() or dec <= 0 or dec > MAX_AMOUNT:
        raise ApiError("exchange_rate_override must be a positive number")
    return dec


def _query_int(raw: str | None, name: str, default: int, bad_status: int = 400) -> int:
    if raw is None or raw == "":
        return default
    if not INT_RE.match(raw.strip()) or len(raw) > 30:
        raise ApiError(f"{name} must be an integer", bad_status)
    return int(raw)


def page(
    limit_raw: str | None,
    offset_raw: str | None,
    *,
    reject_over_max: bool,
    unbounded: bool,
    literal: bool = False,
) -> tuple[int, int]:
    """``limit``/``offset`` as in SQL: limit 1..100 (clamped, or 400), offset >= 0.

    ``literal`` is the literal-reading variant: bad values are the documents'
    "Bad data: HTTP 404 with error message", and ``limit=0`` is SQL's empty page.
    A limit over 100 is not bad data there: clamped, or 400 under limit-400.
    """
    bad = 404 if literal else 400
    limit = _query_int(limit_raw, "limit", 100, bad)
    offset = _query_int(offset_raw, "offset", 0, bad)
    if limit < (0 if literal else 1):
        raise ApiError("limit must not be negative" if literal else "limit must be at least 1", bad)
    if offset < 0:
        raise ApiError("offset must not be negative", bad)
    if limit > 100 and not unbounded:
        if reject_over_max:
            raise ApiError("limit must be at most 100")
        limit = 100
    return min(limit, 100_000), min(offset, MAX_OFFSET)


def time_us(raw: str | None, name: str, bad_status: int = 400) -> int | None:
    """An ISO 8601 query time as UTC microseconds; naive means UTC; unparseable is 400
    (``bad_status``: 404 under literal-reading)."""
    if raw is None or raw == "":
        return None
    text = raw.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(f"{name} must be an ISO 8601 datetime", bad_status) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    except OverflowError:
        raise ApiError(f"{name} is out of range", bad_status) from None
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def list_param(query: QueryParams, name: str, *, brackets: bool = True) -> list[str]:
    """A list query parameter: repeated (``name=a&name=b``), comma separated, and
    unless ``brackets`` is off (variant lists-repeat-only) also ``name[]=a&name[]=b``."""
    values = query.getlist(name) + (query.getlist(name + "[]") if brackets else [])
    out: list[str] = []
    for value in values:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out

"""Times as the documents allow them in responses, read and written one way for the whole suite.

ISO 8601 (DECISIONS D24), with or without a zone (zone-less means UTC), with or without
fractions, to the second or finer (D25): "2021-09-27T14:31:10", "…10.123456789Z",
"…10+02:00". Queries are sent in the documented form, with ``Z`` (D155).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

MICRO_DIGITS = 6
_FRACTION = re.compile(r"T\d\d:\d\d:\d\d[.,](\d+)")
_EPOCH = datetime(1970, 1, 1)
_SECONDS_MAX = 50_000
_SECONDS: dict[str, float | None] = {}


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    text = text.strip()
    if text and text[-1] in "zZ":  # fromisoformat reads "Z" but not "z" after fractions
        try:
            return datetime.fromisoformat(text[:-1] + "+00:00")
        except ValueError:
            return None
    return None


def parse_time(value: object) -> datetime | None:
    """An aware UTC datetime for a time a response shows; None when it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    parsed = _parse(value)
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def seconds(value: object) -> float | None:
    """``parse_time(value)`` as POSIX seconds, remembered per text.

    For the load test's per-row checks: floats compare in nanoseconds where aware datetimes
    ask both sides for their offset, and walks read the same rows again and again (a pure
    function of the text; the table is emptied when it reaches its size)."""
    if not isinstance(value, str):
        return None
    try:
        return _SECONDS[value]
    except KeyError:
        pass
    parsed = _parse(value) if value.strip() else None
    if parsed is None:
        result = None
    elif parsed.tzinfo is None:
        result = (parsed - _EPOCH).total_seconds()
    else:
        result = parsed.timestamp()
    if len(_SECONDS) >= _SECONDS_MAX:
        _SECONDS.clear()
    _SECONDS[value] = result
    return result


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, with fractions only when there are any."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def format_second(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, to the second: the form the documents' example shows."""
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def fraction_digits(value: object) -> int:
    """How many fractional-second digits a shown time has (0 for none or for no time)."""
    found = _FRACTION.search(str(value))
    return len(found.group(1)) if found else 0

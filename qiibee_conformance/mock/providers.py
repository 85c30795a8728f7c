"""Membership providers and their number formats (the vendor does not publish its own).

Formats chosen for the mock, announced in the start banner:

* ``etihad``: 12 digits starting ``1000``; the last digit is the other 11 digits
  taken as a number, modulo 7 (the classic airline mod-7 check). Both documented
  sandbox numbers ``100014486294`` and ``100014486283`` pass.
* ``miles_and_more``: 15 digits starting ``992``, Luhn-valid (e.g. ``992123456789015``).
* ``alaska``: 8 to 10 digits, not all zeros (e.g. ``12345678``).
* the brand's own id: the number must equal the user's ``auth_id``.

Anything empty, with letters (for airlines) or longer than 64 characters is invalid.
"""

from __future__ import annotations

import re

MAX_NUMBER_LENGTH = 64

AIRLINES: dict[str, str] = {
    "etihad": "Etihad",
    "miles_and_more": "Miles and More",
    "alaska": "Alaska Airlines",
}

EXAMPLE_NUMBERS: dict[str, str] = {
    "etihad": "100014486294",
    "miles_and_more": "992123456789015",
    "alaska": "12345678",
}

FORMAT_SUMMARY: dict[str, str] = {
    "etihad": "12 digits, starts 1000, last digit = first 11 digits mod 7",
    "miles_and_more": "15 digits, starts 992, Luhn check digit",
    "alaska": "8-10 digits, not all zeros",
}

_ETIHAD = re.compile(r"^1000[0-9]{8}$")
_MILES_AND_MORE = re.compile(r"^992[0-9]{12}$")
_ALASKA = re.compile(r"^[0-9]{8,10}$")


def luhn_ok(digits: str) -> bool:
    """Standard Luhn checksum over a string of digits."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def valid_number(provider: str, number: str, *, brand_id: str, auth_id: str) -> bool:
    """Whether ``number`` is a well-formed membership number for ``provider``."""
    if not number or len(number) > MAX_NUMBER_LENGTH:
        return False
    if provider == brand_id:
        return number == auth_id
    if provider == "etihad":
        return bool(_ETIHAD.match(number)) and int(number[:11]) % 7 == int(number[11])
    if provider == "miles_and_more":
        return bool(_MILES_AND_MORE.match(number)) and luhn_ok(number)
    if provider == "alaska":
        return bool(_ALASKA.match(number)) and int(number) != 0
    return False

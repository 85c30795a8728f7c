"""The certify config file: what a run needs to know that it cannot discover.

A flat TOML document (see ``contracts/qiibee.example.toml``). Every key is
optional; the command line wins over the file, the file over the defaults of
:class:`~qiibee_conformance.settings.Settings`. A typo must not silently fall
back to a default, so unknown keys and wrong types are a :class:`RunError` that
names the file and the key.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from qiibee_conformance.errors import RunError
from qiibee_conformance.paths import read_user_file
from qiibee_conformance.settings import DOCUMENTED_ETIHAD_NUMBERS, Settings

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_PROVIDER_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class _InvalidValueError(ValueError):
    """A value of the right key but the wrong shape; the caller adds file and key."""


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _InvalidValueError(f"must be an integer, got {type(value).__name__}")
    if value < 1:
        raise _InvalidValueError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _InvalidValueError(f"must be an integer, got {type(value).__name__}")
    if value < 0:
        raise _InvalidValueError(f"must not be negative, got {value}")
    return value


def _seconds(value: Any) -> float:
    # A duration, not money: float is the right type here.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _InvalidValueError(f"must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise _InvalidValueError(f"must be a positive number of seconds, got {value}")
    return float(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _InvalidValueError(f"must be true or false, got {type(value).__name__}")
    return value


def _non_empty_str(value: Any) -> str:
    if not isinstance(value, str):
        raise _InvalidValueError(f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise _InvalidValueError("must not be empty")
    return value.strip()


def _email_domain(value: Any) -> str:
    text = _non_empty_str(value)
    if not _DOMAIN_RE.match(text):
        raise _InvalidValueError(f"must be a domain name such as example.com, got {text!r}")
    return text.lower()


def _membership_numbers(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise _InvalidValueError('must be a table of provider = ["number", ...]')
    result: dict[str, tuple[str, ...]] = {}
    for provider, given in value.items():
        if not _PROVIDER_RE.match(provider):
            raise _InvalidValueError(f"provider name {provider!r} is not a plain identifier")
        numbers = [given] if isinstance(given, str) else given
        if not isinstance(numbers, list):
            raise _InvalidValueError(f"{provider}: must be a list of strings")
        cleaned: list[str] = []
        for number in numbers:
            if not isinstance(number, str):
                raise _InvalidValueError(
                    f"{provider}: membership numbers must be strings (quote them, leading zeros matter), "
                    f"got {type(number).__name__}"
                )
            if not number.strip():
                raise _InvalidValueError(f"{provider}: empty membership number")
            cleaned.append(number.strip())
        result[provider] = tuple(cleaned)
    return result


_KEYS: dict[str, Callable[[Any], Any]] = {
    "brand_id": _non_empty_str,
    "brand_token_id": _non_negative_int,
    "settle_timeout": _seconds,
    "request_timeout": _seconds,
    "max_examples": _positive_int,
    "burst_size": _positive_int,
    "email_domain": _email_domain,
    "membership_numbers": _membership_numbers,
    "strict": _boolean,
}

CONFIG_KEYS: tuple[str, ...] = tuple(_KEYS)


def load_config(path: str | Path | None) -> dict[str, Any]:
    """Read and validate a config file; return Settings keyword arguments (``{}`` for no file)."""
    if path is None:
        return {}
    file = Path(path)
    text = read_user_file(file, "config file")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise RunError(f"config file {file} is not valid TOML: {err}") from None
    return validate_values(document, source=str(file))


def validate_values(document: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    """Check every key of ``document``; ``source`` names where it came from in errors."""
    values: dict[str, Any] = {}
    for key, value in document.items():
        check = _KEYS.get(key)
        if check is None:
            hint = ""
            if "key" in key.lower() and "api" in key.lower():
                hint = " (pass the API key with --api-key or QIIBEE_API_KEY, never in a file)"
            raise RunError(
                f"{source}: unknown key {key!r}{hint}; valid keys: {', '.join(CONFIG_KEYS)}"
            )
        try:
            values[key] = check(value)
        except _InvalidValueError as err:
            raise RunError(f"{source}: key {key!r} {err}") from None
    if "membership_numbers" in values:
        # Providers the file does not mention keep the documented sandbox numbers.
        merged: dict[str, tuple[str, ...]] = {"etihad": DOCUMENTED_ETIHAD_NUMBERS}
        merged.update(values["membership_numbers"])
        values["membership_numbers"] = {k: v for k, v in merged.items() if v}
    return values


def make_settings(
    base_url: str,
    api_key: str,
    *,
    file_values: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> Settings:
    """Combine file values and command-line overrides (``None`` = not given) into Settings."""
    kwargs: dict[str, Any] = dict(file_values or {})
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        check = _KEYS.get(key)
        if check is None:
            raise RunError(f"unknown setting {key!r}")
        try:
            kwargs[key] = check(value)
        except _InvalidValueError as err:
            raise RunError(f"--{key.replace('_', '-')} {err}") from None
    kwargs["settle_deadline_chosen"] = "settle_timeout" in kwargs
    if run_id is not None:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", run_id):
            raise RunError("--run-id must be 1-40 letters, digits, '-' or '_'")
        kwargs["run_id"] = run_id
    return Settings(base_url=base_url, api_key=api_key, **kwargs)


def settings_summary(settings: Settings) -> dict[str, Any]:
    """Settings for reports: everything except the key."""
    return {
        "base_url": settings.base,
        "run_id": settings.run_id,
        "max_examples": settings.max_examples,
        "settle_timeout": settings.settle_timeout,
        "request_timeout": settings.request_timeout,
        "burst_size": settings.burst_size,
        "brand_id": settings.brand_id,
        "brand_token_id": settings.brand_token_id,
        "email_domain": settings.email_domain,
        "membership_providers": sorted(settings.membership_numbers),
        "strict": settings.strict,
    }

"""Names shared by the CLI (parent process) and the Locust process.

Kept free of Locust imports so that the parent can use them without gevent.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from qiibee_conformance.settings import API_KEY_ENV
from qiibee_conformance.transport import is_rate_limited, retry_after_seconds

SCENARIOS: tuple[str, ...] = ("history", "exchange-burst", "mixed")
DEFAULT_SCENARIO = "mixed"

# Environment variables the parent sets for the Locust subprocess (also usable by hand).
ENV_API_KEY = API_KEY_ENV
ENV_SCENARIO = "QIIBEE_SCENARIO"
ENV_PLAN = "QIIBEE_LOAD_PLAN"
ENV_LEDGER_DIR = "QIIBEE_LEDGER_DIR"
ENV_CAPACITY = "QIIBEE_CAPACITY"  # the capacity search's settings (JSON): the master runs its shape

# Route names used in Locust's statistics: documented templates, never concrete URLs.
R_USERS = "/users"
R_USER = "/users/:auth_id"
R_BALANCES = "/users/:auth_id/balances"
R_MEMBERSHIPS = "/users/:auth_id/memberships"
R_MEMBERSHIP = "/users/:auth_id/memberships/:implementation_name"
R_TRANSACTIONS = "/transactions"
R_WHITELIST = "/token-exchange-whitelist"

MONEY_KINDS: tuple[str, ...] = ("credit_points", "debit_points", "exchange")

# Rate limiting under load (DECISIONS D18): a 429, or a 503 with Retry-After, is what capacity
# looks like. The request is a Locust failure named RATE_LIMITED (so it counts against the error
# budget and the report can count it per route), never a contract finding, and the move it
# carried is not accepted: the target did nothing. The Locust user then pauses as asked.
RATE_LIMITED = "rate limited"
DEFAULT_PAUSE_S = 1.0  # a 429 without Retry-After
MAX_PAUSE_S = 10.0  # a longer Retry-After is waited as this: the run's time is bounded


def rate_limited_message(status: int) -> str:
    """The Locust failure of a rate-limited request: ``rate limited (HTTP 429)``."""
    return f"{RATE_LIMITED} (HTTP {status})"


RATE_LIMITED_FILE = "rate-limited.json"  # in the ledger directory: counts per route, written at the end


def count_rate_limited(errors: Iterable[tuple[str, str, str, int]]) -> Counter[str]:
    """Rate-limited failures per route key (``METHOD /route``) from Locust's failure entries
    (method, name, error text, occurrences)."""
    counts: Counter[str] = Counter()
    for method, name, error, occurrences in errors:
        if f"{RATE_LIMITED} (HTTP " in error:
            counts[f"{method} {name}"] += occurrences
    return counts


def write_rate_limited(directory: Path, counts: Mapping[str, int]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / RATE_LIMITED_FILE).write_text(json.dumps(dict(counts), sort_keys=True), encoding="utf-8")


def read_rate_limited_file(directory: Path) -> Counter[str] | None:
    """The counts the Locust process wrote at its end; None when it wrote none."""
    try:
        raw = json.loads((directory / RATE_LIMITED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    return Counter({str(k): v for k, v in raw.items() if isinstance(v, int) and not isinstance(v, bool)})


def rate_limit_pause(status: int, retry_after: str | None) -> float | None:
    """Seconds to pause after an answer that is rate limiting; None for any other answer."""
    headers = {"Retry-After": retry_after or ""}
    if not is_rate_limited(status, headers):
        return None
    asked = retry_after_seconds(headers)
    return min(MAX_PAUSE_S, DEFAULT_PAUSE_S if asked is None else asked)


_TIMESPAN = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


def parse_timespan(text: str) -> int:
    """Seconds in a Locust time span (``90``, ``20s``, ``1m``, ``1h30m``); ValueError otherwise."""
    value = text.strip().lower()
    if value.isdigit():
        return int(value)
    match = _TIMESPAN.match(value)
    if not value or match is None:
        raise ValueError(f"invalid time span {text!r} (examples: 30s, 1m, 1h30m)")
    return int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + int(match["s"] or 0)


def selected_scenario(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """The scenario named by ``--scenario`` on the command line, else by the environment.

    The locustfile needs it at import time, before Locust parses custom
    arguments, because the scenario decides which User classes exist.
    """
    env = os.environ if env is None else env
    chosen: str | None = None
    for index, arg in enumerate(argv):
        if arg == "--scenario" and index + 1 < len(argv):
            chosen = argv[index + 1]
        elif arg.startswith("--scenario="):
            chosen = arg.split("=", 1)[1]
    chosen = chosen or env.get(ENV_SCENARIO) or DEFAULT_SCENARIO
    if chosen not in SCENARIOS:
        raise ValueError(f"unknown scenario {chosen!r}; choose one of {', '.join(SCENARIOS)}")
    return chosen

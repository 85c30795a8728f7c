"""Names shared by the CLI (parent process) and the Locust process.

Kept free of Locust imports so that the parent can use them without gevent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from qiibee_conformance.settings import API_KEY_ENV

SCENARIOS: tuple[str, ...] = ("history", "exchange-burst", "mixed")
DEFAULT_SCENARIO = "mixed"

# Environment variables the parent sets for the Locust subprocess (also usable by hand).
ENV_API_KEY = API_KEY_ENV
ENV_SCENARIO = "QIIBEE_SCENARIO"
ENV_PLAN = "QIIBEE_LOAD_PLAN"
ENV_LEDGER_DIR = "QIIBEE_LEDGER_DIR"

# Route names used in Locust's statistics: documented templates, never concrete URLs.
R_USERS = "/users"
R_USER = "/users/:auth_id"
R_BALANCES = "/users/:auth_id/balances"
R_MEMBERSHIPS = "/users/:auth_id/memberships"
R_MEMBERSHIP = "/users/:auth_id/memberships/:implementation_name"
R_TRANSACTIONS = "/transactions"
R_WHITELIST = "/token-exchange-whitelist"

MONEY_KINDS: tuple[str, ...] = ("credit_points", "debit_points", "exchange")

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

"""Service-level budgets (TOML) and their verdicts from Locust's statistics.

A budget file has ``[defaults]`` (every route), ``[aggregate]`` (all requests
together) and ``[routes."METHOD /route"]`` or ``[routes."/route"]`` tables with
any of ``p50_ms``, ``p95_ms``, ``p99_ms`` and ``error_rate`` (failures ÷
requests, 0–1). Percentiles are computed here, nearest-rank, from Locust's
per-route response-time histogram; rates are exact fractions, never floats.

Rate-limited requests (429, or 503 with Retry-After) are failures like any other
for ``error_rate``: under load that is what capacity looks like (DECISIONS D18).
Each route also reports how many of its failures they were (from Locust's
failures CSV), so a capacity tester sees how much of the budget they took.
"""

from __future__ import annotations

import csv
import json
import math
import tomllib
from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from qiibee_conformance.errors import RunError
from qiibee_conformance.loadtest.common import count_rate_limited, read_rate_limited_file

PERCENTILES: dict[str, Fraction] = {
    "p50_ms": Fraction(50, 100),
    "p95_ms": Fraction(95, 100),
    "p99_ms": Fraction(99, 100),
}
ERROR_RATE = "error_rate"
BUDGET_KEYS: tuple[str, ...] = (*PERCENTILES, ERROR_RATE)
AGGREGATE = "Aggregated"


@dataclass(frozen=True)
class Budget:
    limits: dict[str, Decimal] = field(default_factory=dict)

    def over(self, base: Budget) -> Budget:
        """The limits of this budget, falling back to ``base`` for the others."""
        return Budget({**base.limits, **self.limits})


@dataclass(frozen=True)
class SloSpec:
    defaults: Budget
    aggregate: Budget
    routes: dict[str, Budget]
    source: str

    def budget_for(self, method: str, name: str) -> Budget:
        specific = self.routes.get(f"{method} {name}") or self.routes.get(name) or Budget()
        return specific.over(self.defaults)


def _limit(where: str, key: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise RunError(f"SLO file: {where}.{key} must be a number, not {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise RunError(f"SLO file: {where}.{key} must be a number, not {value!r}") from None
    if not number.is_finite() or number < 0:
        raise RunError(f"SLO file: {where}.{key} must be a finite number >= 0")
    if key == ERROR_RATE and number > 1:
        raise RunError(f"SLO file: {where}.{key} is a fraction of requests (0 to 1), not {number}")
    return number


def _budget(where: str, table: object) -> Budget:
    if not isinstance(table, dict):
        raise RunError(f"SLO file: [{where}] must be a table")
    unknown = sorted(set(table) - set(BUDGET_KEYS))
    if unknown:
        raise RunError(
            f"SLO file: unknown budget {unknown[0]!r} in [{where}] (known: {', '.join(BUDGET_KEYS)})"
        )
    return Budget({key: _limit(where, key, value) for key, value in table.items()})


def parse_slo(text: str, source: str = "<string>") -> SloSpec:
    try:
        # Floats parsed as Decimal: "0.01" must mean exactly one in a hundred.
        raw = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as err:
        raise RunError(f"SLO file {source} is not valid TOML: {err}") from None
    unknown = sorted(set(raw) - {"defaults", "aggregate", "routes"})
    if unknown:
        raise RunError(
            f"SLO file {source}: unknown table [{unknown[0]}] (known: defaults, aggregate, routes)"
        )
    routes_raw = raw.get("routes", {})
    if not isinstance(routes_raw, dict):
        raise RunError(f"SLO file {source}: [routes] must be a table of route tables")
    routes = {str(name): _budget(f'routes."{name}"', table) for name, table in routes_raw.items()}
    return SloSpec(
        defaults=_budget("defaults", raw.get("defaults", {})),
        aggregate=_budget("aggregate", raw.get("aggregate", {})),
        routes=routes,
        source=source,
    )


def load_slo(path: Path) -> SloSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RunError(f"cannot read the SLO file {path}: {err.strerror or err}") from None
    return parse_slo(text, str(path))


@dataclass(frozen=True)
class RouteStats:
    method: str
    name: str
    requests: int
    failures: int
    response_times: dict[int, int]
    rate_limited: int = 0  # failures that were rate limiting (429, or 503 with Retry-After)

    @property
    def key(self) -> str:
        return self.name if self.name == AGGREGATE else f"{self.method} {self.name}"

    def percentile(self, fraction: Fraction) -> int | None:
        """Nearest-rank percentile over the histogram; None without timed requests."""
        timed = sum(self.response_times.values())
        if timed == 0:
            return None
        rank = max(1, math.ceil(fraction * timed))
        seen = 0
        for value in sorted(self.response_times):
            seen += self.response_times[value]
            if seen >= rank:
                return value
        return max(self.response_times)

    @property
    def error_rate(self) -> Fraction | None:
        return Fraction(self.failures, self.requests) if self.requests else None


def parse_locust_stats(entries: object) -> list[RouteStats]:
    """Routes from Locust's ``--json-file`` output (a list of serialized stats entries)."""
    if not isinstance(entries, list):
        raise RunError("Locust's statistics file is not a list of entries")
    routes: list[RouteStats] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        times: Counter[int] = Counter()
        for key, count in (entry.get("response_times") or {}).items():
            times[int(float(key))] += int(count)
        routes.append(
            RouteStats(
                method=str(entry.get("method") or ""),
                name=str(entry.get("name") or ""),
                requests=int(entry.get("num_requests") or 0),
                failures=int(entry.get("num_failures") or 0),
                response_times=dict(times),
            )
        )
    return routes


def read_locust_stats(path: Path) -> list[RouteStats]:
    try:
        return parse_locust_stats(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as err:
        raise RunError(f"cannot read Locust's statistics {path}: {err}") from None


def read_rate_limited(ledger_dir: Path, failures_csv: Path) -> Counter[str]:
    """Rate-limited failures per route key (``METHOD /route``): as the Locust process counted
    them at its end, else from Locust's failures CSV (a snapshot up to a second old: Locust
    rewrites it every second and not at the end); empty when there is neither."""
    counts = read_rate_limited_file(ledger_dir)
    if counts is not None:
        return counts
    try:
        with failures_csv.open(encoding="utf-8", newline="") as handle:
            return count_rate_limited(
                (row.get("Method") or "", row.get("Name") or "", row.get("Error") or "",
                 int(row.get("Occurrences") or 0))
                for row in csv.DictReader(handle)
            )  # fmt: skip
    except (OSError, ValueError):
        return Counter()


def with_rate_limited(routes: list[RouteStats], counts: Counter[str]) -> list[RouteStats]:
    """The routes with their rate-limited failures filled in (the aggregate: their sum)."""
    total = sum(counts.values())
    return [replace(r, rate_limited=total if r.name == AGGREGATE else counts[r.key]) for r in routes]


def aggregate(routes: list[RouteStats]) -> RouteStats:
    times: Counter[int] = Counter()
    for route in routes:
        times.update(route.response_times)
    return RouteStats(
        method="",
        name=AGGREGATE,
        requests=sum(r.requests for r in routes),
        failures=sum(r.failures for r in routes),
        response_times=dict(times),
        rate_limited=sum(r.rate_limited for r in routes),
    )


@dataclass(frozen=True)
class Verdict:
    route: str
    budget: str
    limit: Decimal
    observed: Decimal | None
    requests: int
    exceeded: bool = False  # decided exactly; ``observed`` is for display
    rate_limited: int = 0  # of the route's failures (shown with error_rate)

    @property
    def ok(self) -> bool:
        return not self.exceeded

    def describe(self) -> str:
        if self.observed is None:
            return f"{self.route} {self.budget}: no requests"
        unit = "" if self.budget == ERROR_RATE else " ms"
        relation = "<=" if self.ok else ">"
        limited = (
            f" ({self.rate_limited} of {self.requests} requests rate limited)"
            if self.budget == ERROR_RATE and self.rate_limited
            else ""
        )
        return f"{self.route} {self.budget} {self.observed}{unit} {relation} {self.limit}{unit}{limited}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "budget": self.budget,
            "limit": str(self.limit),
            "observed": None if self.observed is None else str(self.observed),
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "ok": self.ok,
        }


@dataclass
class SloResult:
    verdicts: list[Verdict]
    notes: list[str]

    @property
    def breaches(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.ok]

    @property
    def ok(self) -> bool:
        return not self.breaches

    def to_dict(self, source: str) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "file": source,
            "breaches": [v.describe() for v in self.breaches],
            "verdicts": [v.to_dict() for v in self.verdicts],
            "notes": self.notes,
        }


def _rate_decimal(rate: Fraction) -> Decimal:
    """A fraction as a decimal for display, rounded only in the 12th place."""
    return (Decimal(rate.numerator) / Decimal(rate.denominator)).quantize(Decimal("1e-12")).normalize()


def _judge(route: RouteStats, budget: Budget) -> list[Verdict]:
    verdicts: list[Verdict] = []
    for key, limit in budget.limits.items():
        exact: Fraction | None
        if key == ERROR_RATE:
            exact = route.error_rate
            observed = None if exact is None else _rate_decimal(exact)
        else:
            value = route.percentile(PERCENTILES[key])
            exact = None if value is None else Fraction(value)
            observed = None if value is None else Decimal(value)
        exceeded = exact is not None and exact > Fraction(limit)
        verdicts.append(
            Verdict(route.key, key, limit, observed, route.requests, exceeded, route.rate_limited)
        )
    return verdicts


def evaluate(spec: SloSpec, routes: list[RouteStats]) -> SloResult:
    verdicts: list[Verdict] = []
    notes: list[str] = []
    seen: set[str] = set()
    for route in sorted(routes, key=lambda r: r.key):
        if route.name == AGGREGATE:
            continue
        seen.update({route.key, route.name})
        verdicts.extend(_judge(route, spec.budget_for(route.method, route.name)))
    verdicts.extend(_judge(aggregate([r for r in routes if r.name != AGGREGATE]), spec.aggregate))
    for name in sorted(set(spec.routes) - seen):
        notes.append(f"the SLO file budgets {name!r} but the run made no such request")
    return SloResult(verdicts, notes)

"""The capacity search: how many users the target takes before an SLO breaks.

Pure logic, no Locust: the shape (``capacity_shape.py``) runs it inside the Locust master,
the parent reads its steps back and reports them (``capacity_report.py``).

**Search.** Step the user count up by ``step_users`` (``step_users``, ``2 × step_users``, ...
up to ``max_users``) while every SLO holds. At the first step that breaks one, bisect
between the last step that held and that one until they are ``resolution`` users apart
(a quarter of a step; down to one user when no step held). The capacity is the highest
user count that held below the lowest one that broke, and the highest request rate
measured within the SLOs.

**A step** holds its user count for ``step_time_s``; its first ``settle_s`` (the ramp, and
the workers' report interval on a master) are not measured. Its figures are the difference
of Locust's statistics between the two ends of the window, judged by the SLO file.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from qiibee_conformance.loadtest.slo import PERCENTILES, RouteStats, SloSpec, Verdict, aggregate, evaluate

MIN_WINDOW_S = 2.0  # a step measures at least this long


@dataclass(frozen=True)
class CapacityConfig:
    """What the parent tells the Locust master (as JSON in ``$QIIBEE_CAPACITY``)."""

    step_users: int
    max_users: int
    step_time_s: float
    spawn_rate: float
    settle_s: float  # the ramp, and on a master the workers' report interval: not measured
    slo_path: str
    steps_file: str

    @property
    def resolution(self) -> int:
        return max(1, self.step_users // 4)

    @property
    def window_s(self) -> float:
        return max(MIN_WINDOW_S, self.step_time_s - self.settle_s)

    def max_steps(self) -> int:
        """Ramp steps plus bisection steps: the search never takes more."""
        ramp = math.ceil(self.max_users / self.step_users)
        return ramp + math.ceil(math.log2(max(2, self.step_users))) + 1

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CapacityConfig:
        return cls(**json.loads(text))


class Search:
    """Up by steps while the SLOs hold, then bisect between the last good and the first bad."""

    def __init__(self, step_users: int, max_users: int, resolution: int) -> None:
        self.step = step_users
        self.maximum = max_users
        self.resolution = resolution
        self.good = 0  # the highest user count that held (below ``bad``)
        self.bad: int | None = None  # the lowest user count that broke an SLO

    def next_users(self) -> int | None:
        """The next step's user count; None when the search is over."""
        if self.bad is None:
            return None if self.good >= self.maximum else min(self.maximum, self.good + self.step)
        middle = (self.good + self.bad) // 2
        # Close enough; but a capacity of none is only said once a single user broke an SLO.
        close = self.bad - self.good <= self.resolution and not (self.good == 0 and self.bad > 1)
        return None if close or middle <= self.good else middle

    def record(self, users: int, ok: bool) -> None:
        if not ok:
            self.bad = users if self.bad is None else min(self.bad, users)
            self.good = min(self.good, users - 1)
        elif self.bad is None or users < self.bad:
            self.good = max(self.good, users)


@dataclass
class StepResult:
    """One step as measured: its window's requests, latency, errors, and the SLO verdict."""

    users: int
    seconds: float
    requests: int
    failures: int
    rate_limited: int
    p50_ms: int | None
    p95_ms: int | None
    p99_ms: int | None
    ok: bool
    breaches: list[dict[str, Any]] = field(default_factory=list)
    breach_text: list[str] = field(default_factory=list)

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_rate(self) -> Fraction:
        return Fraction(self.failures, self.requests) if self.requests else Fraction(0)

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["requests_per_s"] = round(self.requests_per_s, 2)
        raw["error_rate"] = str(round(float(self.error_rate), 6))
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> StepResult:
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)


def diff_routes(before: dict[str, RouteStats], after: dict[str, RouteStats]) -> list[RouteStats]:
    """Each route's requests, failures and response times between two cumulative snapshots."""
    routes: list[RouteStats] = []
    for key, now in after.items():
        then = before.get(key)
        if then is None:
            routes.append(now)
            continue
        times = Counter(now.response_times)
        times.subtract(then.response_times)
        routes.append(
            RouteStats(
                method=now.method,
                name=now.name,
                requests=now.requests - then.requests,
                failures=now.failures - then.failures,
                response_times={k: v for k, v in times.items() if v > 0},
                rate_limited=now.rate_limited - then.rate_limited,
            )
        )
    return routes


def _overshoot(verdict: Verdict) -> Fraction:
    """How far past its limit a breach went (observed ÷ limit; a zero limit counts as far)."""
    if verdict.observed is None:
        return Fraction(0)
    if verdict.limit == 0:
        return Fraction(10**9)
    return Fraction(verdict.observed) / Fraction(verdict.limit)


def briefly(texts: list[str], keep: int = 2) -> str:
    """The first breaches, and how many more."""
    more = f" (and {len(texts) - keep} more)" if len(texts) > keep else ""
    return "; ".join(texts[:keep]) + more


def judge_step(users: int, seconds: float, routes: list[RouteStats], spec: SloSpec) -> StepResult:
    """One step's figures (all routes together) and its SLO verdict (every budget of the file)."""
    total = aggregate(routes)
    slo = evaluate(spec, routes)
    breaches = sorted(slo.breaches, key=_overshoot, reverse=True)  # the worst first
    p50, p95, p99 = (total.percentile(PERCENTILES[k]) for k in ("p50_ms", "p95_ms", "p99_ms"))
    return StepResult(
        users=users,
        seconds=round(seconds, 3),
        requests=total.requests,
        failures=total.failures,
        rate_limited=total.rate_limited,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        ok=slo.ok,
        breaches=[v.to_dict() for v in breaches],
        breach_text=[v.describe() for v in breaches],
    )


@dataclass
class CapacityResult:
    """What the search found, from its steps."""

    steps: list[StepResult]
    config: CapacityConfig

    @property
    def first_bad(self) -> StepResult | None:
        bad = [s for s in self.steps if not s.ok]
        return min(bad, key=lambda s: s.users) if bad else None

    @property
    def good_steps(self) -> list[StepResult]:
        """The steps that held the SLOs below the lowest one that broke them."""
        bad = self.first_bad
        return [s for s in self.steps if s.ok and (bad is None or s.users < bad.users)]

    @property
    def capacity_users(self) -> int:
        return max((s.users for s in self.good_steps), default=0)

    @property
    def capacity_rps(self) -> float:
        return max((s.requests_per_s for s in self.good_steps), default=0.0)

    @property
    def knee_found(self) -> bool:
        return self.first_bad is not None

    def headline(self) -> str:
        if not self.steps:
            return "capacity: no step was measured"
        bad = self.first_bad
        held = f"{self.capacity_users} users, {self.capacity_rps:.1f} requests/s within the SLOs"
        if bad is None:
            return f"capacity: no SLO broke up to {max(s.users for s in self.steps)} users ({held})"
        return f"capacity: {held}; at {bad.users} users {briefly(bad.breach_text)}"

    def to_dict(self) -> dict[str, Any]:
        bad = self.first_bad
        return {
            "knee_found": self.knee_found,
            "capacity": {"users": self.capacity_users, "requests_per_s": round(self.capacity_rps, 2)},
            "knee": {"last_good_users": self.capacity_users, "first_bad_users": bad.users if bad else None},
            "broke_first": bad.breaches if bad else [],
            "broke_first_text": bad.breach_text if bad else [],
            "search": {
                "step_users": self.config.step_users,
                "max_users": self.config.max_users,
                "step_time_s": self.config.step_time_s,
                "measured_s": self.config.window_s,
                "resolution_users": self.config.resolution,
                "slo": self.config.slo_path,
            },
            "steps": [s.to_dict() for s in self.steps],
        }


def read_steps(text: str) -> list[StepResult]:
    """The steps file the shape appends to, one JSON object a line (a torn last line skipped)."""
    steps: list[StepResult] = []
    for line in text.splitlines():
        try:
            raw = json.loads(line)
        except ValueError:
            continue
        if isinstance(raw, dict):
            steps.append(StepResult.from_dict(raw))
    return steps

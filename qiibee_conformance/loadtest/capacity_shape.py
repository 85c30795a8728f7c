"""The capacity search as a Locust load shape (imported only inside the Locust master).

Locust asks the shape every second how many users to run. This one runs the search of
``capacity.py``: each step holds its user count for the step time, is measured from two
snapshots of Locust's statistics (all the workers' together, on a master), judged against
the SLO file, appended to the steps file (so that Ctrl-C keeps the steps so far), and the
search picks the next step. When the search is over the shape ends the run.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

from locust import LoadTestShape
from locust.runners import Runner

from qiibee_conformance.loadtest.capacity import CapacityConfig, Search, StepResult, diff_routes, judge_step
from qiibee_conformance.loadtest.common import ENV_CAPACITY, count_rate_limited
from qiibee_conformance.loadtest.slo import AGGREGATE, RouteStats, SloSpec, load_slo

Snapshot = dict[str, RouteStats]


def snapshot(runner: Runner) -> Snapshot:
    """Every route's cumulative statistics now (copies: Locust keeps adding to its own)."""
    stats = runner.stats
    limited = count_rate_limited(
        (e.method, e.name, e.parse_error(e.error), e.occurrences) for e in stats.errors.values()
    )
    routes: Snapshot = {}
    for entry in stats.entries.values():
        route = RouteStats(
            method=str(entry.method or ""),
            name=str(entry.name),
            requests=entry.num_requests,
            failures=entry.num_failures,
            response_times=dict(entry.response_times),
        )
        if route.name != AGGREGATE:
            routes[route.key] = replace(route, rate_limited=limited[route.key])
    return routes


class _Step:
    """The step under way: its user count, when it began, and its window's first snapshot."""

    def __init__(self, users: int, now: float) -> None:
        self.users = users
        self.began = now
        self.measured_from: float | None = None
        self.before: Snapshot = {}


class CapacityShape(LoadTestShape):
    """Steps the users up while the SLOs hold, then narrows down on the knee."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.config = CapacityConfig.from_json(os.environ[ENV_CAPACITY])
        self.spec: SloSpec = load_slo(Path(self.config.slo_path))
        self.search = Search(self.config.step_users, self.config.max_users, self.config.resolution)
        self.step: _Step | None = None

    def _runner(self) -> Runner:
        assert self.runner is not None
        return self.runner

    def tick(self) -> tuple[int, float] | None:
        now = time.monotonic()
        step = self.step
        if step is None:
            return self._begin(now)
        if step.measured_from is None and now - step.began >= self.config.settle_s:
            step.measured_from, step.before = now, snapshot(self._runner())
        elif step.measured_from is not None and now - step.measured_from >= self.config.window_s:
            self._finish(step, now)
            return self._begin(now)
        return step.users, self.config.spawn_rate

    def _begin(self, now: float) -> tuple[int, float] | None:
        users = self.search.next_users()
        if users is None:
            self.step = None
            return None
        self.step = _Step(users, now)
        return users, self.config.spawn_rate

    def _finish(self, step: _Step, now: float) -> None:
        assert step.measured_from is not None
        routes = diff_routes(step.before, snapshot(self._runner()))
        result: StepResult = judge_step(step.users, now - step.measured_from, routes, self.spec)
        self.search.record(step.users, result.ok)
        path = Path(self.config.steps_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(result.to_dict()) + "\n")

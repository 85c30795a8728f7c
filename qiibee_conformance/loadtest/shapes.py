"""Locust load shapes (imported only inside the Locust process)."""

from __future__ import annotations

from locust import LoadTestShape

from qiibee_conformance.loadtest.profile import spike_stage

DEFAULT_USERS = 10
DEFAULT_RUN_TIME = 60


class SpikeShape(LoadTestShape):
    """Ramp, spike, cool-down, scaled to ``--users``, ``--spawn-rate`` and ``--run-time``."""

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options if self.runner is not None else None
        users = int(getattr(options, "num_users", None) or DEFAULT_USERS)
        rate = float(getattr(options, "spawn_rate", None) or max(1, users // 5))
        total = float(getattr(options, "run_time", None) or DEFAULT_RUN_TIME)
        elapsed: float = self.get_run_time()  # type: ignore[no-untyped-call]
        return spike_stage(elapsed, total, users, rate)

"""The exchange-burst load profile as a pure function of time (tested without Locust)."""

from __future__ import annotations

RAMP_END = 0.3
SPIKE_END = 0.65


def base_users(users: int) -> int:
    return max(1, users // 5)


def spike_stage(elapsed: float, total: float, users: int, spawn_rate: float) -> tuple[int, float] | None:
    """(user count, spawn rate) at ``elapsed`` seconds, or None when the run is over.

    Ramp: a fifth of the users at the configured spawn rate. Spike: every user
    at once, so that requests on shared balances really overlap. Cool-down:
    back to a fifth, which lets pending exchanges settle under light load.
    """
    if elapsed >= total:
        return None
    if elapsed < RAMP_END * total:
        return base_users(users), spawn_rate
    sharp = max(spawn_rate, float(users))
    if elapsed < SPIKE_END * total:
        return users, sharp
    return base_users(users), sharp

"""Runtime configuration of the mock, built once from the command line."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_API_KEY = "sandbox-demo-key"
DEFAULT_SETTLE_DELAY = 0.2


@dataclass(frozen=True)
class MockConfig:
    """Everything the app factory needs; frozen so handlers cannot drift from it."""

    api_key: str = DEFAULT_API_KEY
    db_path: str | None = None
    seed_users: int = 0
    settle_delay: float = DEFAULT_SETTLE_DELAY
    faults: frozenset[str] = field(default_factory=frozenset)
    variants: frozenset[str] = field(default_factory=frozenset)
    seed_history: int = 0

    def fault(self, name: str) -> bool:
        """Whether the named fault is active (names are checked at start)."""
        return name in self.faults

    def variant(self, name: str) -> bool:
        """Whether the named variant is active."""
        return name in self.variants

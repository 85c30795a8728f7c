"""What a run needs to know about its target that cannot be discovered.

Built by the certify config loader (TOML + command line) and by the pytest
plugin; read by the checks and the load scenarios.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from qiibee_conformance.transport import Limits

DEFAULT_SETTLE_TIMEOUT = 30.0
# Where every command and the pytest plugin look for the key when none is given: the
# environment keeps it out of argv, which other users of the machine can read.
API_KEY_ENV = "QIIBEE_API_KEY"
NO_API_KEY = f"no API key: pass --api-key or set {API_KEY_ENV}"


def api_key_from(given: str | None) -> str | None:
    """The key given on the command line, else the one in ``$QIIBEE_API_KEY``; None if neither."""
    return given or os.environ.get(API_KEY_ENV) or None

# The documented sandbox FFP numbers (points-exchange-api.txt, "Exchange").
DOCUMENTED_ETIHAD_NUMBERS: tuple[str, ...] = ("100014486294", "100014486283")


def new_run_id() -> str:
    """A short, sortable, unique tag for everything one run creates."""
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(3)


@dataclass(frozen=True)
class Settings:
    base_url: str
    api_key: str = field(repr=False)
    run_id: str = field(default_factory=new_run_id)
    # schemathesis examples per operation
    max_examples: int = 50
    # how long an accepted exchange may stay in flight
    settle_timeout: float = DEFAULT_SETTLE_TIMEOUT
    request_timeout: float = 15.0
    # parallel exchanges in the concurrency burst
    burst_size: int = 24
    # valid membership numbers per provider (for miles exchanges and membership checks)
    membership_numbers: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {"etihad": DOCUMENTED_ETIHAD_NUMBERS}
    )
    # the brand's own id (memberships: number must be the auth_id); unknown → those checks skip
    brand_id: str | None = None
    # the brand's own points token; None → discovered by probing credit_points
    brand_token_id: int | None = None
    # email domain for users the run creates; the run id goes in the local part
    email_domain: str = "example.com"
    # advisories (warn-level findings) count as failures: a vendor's own pre-release gate
    strict: bool = False
    # whether the user set settle_timeout: missing a deadline the user chose is a failure,
    # missing the default one only an advisory (the documents give no settlement time)
    settle_deadline_chosen: bool = False

    @property
    def limits(self) -> Limits:
        """The bounds every request of the run keeps to."""
        return Limits(read_timeout=self.request_timeout)

    @property
    def base(self) -> str:
        return self.base_url.rstrip("/")

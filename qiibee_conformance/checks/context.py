"""What one certification run shares between its checks: a thin run state.

The checks ask the target through ``ctx.api`` (:mod:`qiibee_conformance.checks.target`);
what the run learns and makes on the way (the catalogue, the encodings a target reads,
the prerequisites, the users) is kept here, once for all checks, safe across threads.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from qiibee_conformance import polling
from qiibee_conformance.checks import prerequisites
from qiibee_conformance.checks.target import CreatedUser, Target
from qiibee_conformance.client import ApiClient
from qiibee_conformance.discovery import Catalogue, discover
from qiibee_conformance.settings import Settings

T = TypeVar("T")


class CheckContext:
    """What one run shares between its checks: settings, client, what it learnt of the target
    (catalogue, list encodings, prerequisites, whether settlement works), what it made (users),
    and ``api``: the target as the checks use it (:class:`~qiibee_conformance.checks.target.Target`).
    """

    def __init__(self, settings: Settings, client: ApiClient) -> None:
        self.settings = settings
        self.client = client
        self.lock = threading.Lock()
        self._memo_locks: dict[str, threading.Lock] = {}
        self._counter = itertools.count(1)
        self._memo: dict[str, tuple[bool, Any]] = {}
        self.users: list[CreatedUser] = []
        self.settlement_broken = False
        self.list_encodings: dict[str, str] = {}
        self.prerequisites: dict[str, prerequisites.Prerequisite] = {}
        self.api = Target(self)

    def establish(self, groups: Iterable[str]) -> str | None:
        """Establish what the checks of ``groups`` stand on; the line of an INCOMPLETE run, if any."""
        self.prerequisites.update(prerequisites.establish(self, prerequisites.needed_by(groups)))
        return prerequisites.incomplete(self.prerequisites)

    def require(self, name: str) -> None:
        """Untestable (or, for the owner of the broken rule, its finding) if ``name`` was not met."""
        prerequisites.require(self.prerequisites, name)

    def memo(self, key: str, factory: Callable[[], T]) -> T:
        """Compute ``factory()`` once per run; a raised exception is remembered and re-raised."""
        with self.lock:
            key_lock = self._memo_locks.setdefault(key, threading.Lock())
        with key_lock:  # not the shared lock: a factory may use threads that need it
            if key not in self._memo:
                try:
                    self._memo[key] = (True, factory())
                except Exception as err:  # remembered: every check that needs it sees the same outcome
                    self._memo[key] = (False, err)
            ok, value = self._memo[key]
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    @property
    def catalogue(self) -> Catalogue:
        return self.memo("catalogue", lambda: discover(self.client, self.settings))

    @property
    def brand_token_id(self) -> int:
        return self.catalogue.brand_token.id

    def email(self, tag: str = "") -> str:
        with self.lock:
            n = next(self._counter)
        return f"qc-{self.settings.run_id}-{tag}{n}@{self.settings.email_domain}"

    def poll(self, done: Callable[[], bool], *, timeout: float | None = None) -> bool:
        """Call ``done`` with backoff until it is true or the settle deadline passes."""
        return polling.poll(done, self.settings.settle_timeout if timeout is None else timeout)

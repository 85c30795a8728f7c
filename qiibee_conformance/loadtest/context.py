"""Per-process state shared by the Locust users of one load run.

Built once per process (and again after ``--processes`` forks): the plan, the
ledger writer, and the pool of users the exchange burst drains. A Locust worker
gets its plan from its master and sends its ledger there (a *master link*, set by
``cluster.py`` when the worker starts); a single process reads the parent's plan
file and writes its ledger file; run on its own, Locust discovers and funds here.
Runs inside the Locust process only.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from qiibee_conformance.client import ApiClient
from qiibee_conformance.errors import RunError
from qiibee_conformance.findings import Nonconformity
from qiibee_conformance.loadtest.common import ENV_LEDGER_DIR, ENV_PLAN
from qiibee_conformance.loadtest.ledger import LedgerWriter, Sink
from qiibee_conformance.loadtest.page_decoding import DEFAULT_MEMO_PAGES, PageMemo
from qiibee_conformance.loadtest.plan import LoadPlan, build_plan
from qiibee_conformance.preflight import preflight
from qiibee_conformance.redact import Redactor
from qiibee_conformance.settings import NO_API_KEY, Settings, api_key_from

DRAIN_CHUNKS = 5  # a drained user is funded with this many exchange amounts
DRAIN_OVERSUBSCRIPTION = 3  # ... and then asked for this many times its funding


@dataclass
class DrainTarget:
    auth_id: str
    funded: int
    chunk: int
    asked: int = 0

    @property
    def exhausted(self) -> bool:
        return self.asked >= DRAIN_OVERSUBSCRIPTION * self.funded


@dataclass
class RunContext:
    plan: LoadPlan
    api_key: str
    ledger: LedgerWriter | None
    think_time: float
    history_filters: bool
    redactor: Redactor
    pages: PageMemo = field(default_factory=PageMemo)
    drain: DrainTarget | None = None
    drain_creating: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-KEY": self.api_key, "Accept": "application/json"}


class MasterLink(Protocol):
    """A worker's link to its master: where its ledger goes, and the plan the master made."""

    @property
    def sink(self) -> Sink: ...

    def wait_plan(self) -> dict[str, Any] | None:
        """The master's plan (None: the master has none, build one here); RunError if none came."""
        ...


class _ProcessState:
    """The one context of this process; rebuilt in a forked child."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.context: RunContext | None = None
        self.pid = -1
        self.failure: RunError | None = None
        self.links: dict[int, MasterLink] = {}  # by pid: a fork is not its parent's worker


_STATE = _ProcessState()


def attach_master(link: MasterLink) -> None:
    """Make this process a worker of ``link``'s master (``cluster.py``, at Locust's init)."""
    with _STATE.lock:
        _STATE.links[os.getpid()] = link


def _option(options: Any, name: str, default: Any) -> Any:
    value = getattr(options, name, None) if options is not None else None
    return default if value is None else value


def _own_plan(host: str, api_key: str, redactor: Redactor, ledger: LedgerWriter | None) -> LoadPlan:
    """Discover, create and fund here: Locust run on its own, without a plan from anyone."""
    if not host:
        raise RunError("no target: pass --host")
    client = ApiClient(host, api_key, redactor=redactor)
    try:
        preflight(client)
        return build_plan(client, Settings(base_url=host, api_key=api_key), ledger=ledger)
    except Nonconformity as err:  # e.g. a redirect met while preparing
        raise RunError(f"cannot prepare the load run: {err.message}") from None
    finally:
        client.close()


def _plan_and_ledger(options: Any) -> tuple[LoadPlan | None, LedgerWriter | None]:
    """The plan (None: make one) and the ledger: from the master, else from the parent's files."""
    link = _STATE.links.get(os.getpid())
    if link is not None:
        raw = link.wait_plan()
        try:
            plan = None if raw is None else LoadPlan.from_dict(raw)
        except (TypeError, ValueError, KeyError) as err:
            raise RunError(f"the Locust master sent a plan this worker cannot read: {err}") from None
        return plan, LedgerWriter(sink=link.sink)
    plan_path = os.environ.get(ENV_PLAN)
    ledger_dir = _option(options, "ledger_dir", "") or os.environ.get(ENV_LEDGER_DIR, "")
    ledger = LedgerWriter(Path(ledger_dir)) if ledger_dir else None
    return (LoadPlan.load(Path(plan_path)) if plan_path else None), ledger


def build_context(host: str, options: Any) -> RunContext:
    # The key is never pushed from the master: each process reads its own environment.
    api_key = api_key_from(_option(options, "api_key", ""))
    if not api_key:
        raise RunError(NO_API_KEY)
    redactor = Redactor([api_key])
    plan, ledger = _plan_and_ledger(options)
    if plan is None:
        plan = _own_plan(host, api_key, redactor, ledger)
    return RunContext(
        plan=plan,
        api_key=api_key,
        ledger=ledger,
        think_time=float(_option(options, "think_time", 0.1)),
        history_filters=_option(options, "history_filters", "random") != "none",
        redactor=redactor,
        pages=PageMemo(int(_option(options, "page_memo", DEFAULT_MEMO_PAGES))),
    )


def get_context(host: str, options: Any) -> RunContext:
    """The process's context, built by the first user that asks (others wait)."""
    state = _STATE
    with state.lock:
        if state.pid != os.getpid():
            state.context, state.failure, state.pid = None, None, os.getpid()
        if state.failure is not None:
            raise state.failure
        if state.context is None:
            try:
                state.context = build_context(host, options)
            except RunError as err:
                state.failure = err
                raise
        return state.context


def close_context() -> None:
    """Close this process's ledger file (Locust's ``quitting`` event)."""
    state = _STATE
    with state.lock:
        if state.context is not None and state.pid == os.getpid() and state.context.ledger is not None:
            state.context.ledger.close()

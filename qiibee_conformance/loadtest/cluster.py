"""Locust's master and workers as one load run: the plan out, the ledger back, a clean end.

**Master.** When a worker asks (``MSG_PLAN_REQUEST``, once its own handlers are in place:
a worker connects before its locustfile's init runs), the master sends it the run's plan
(``MSG_PLAN``: made once by ``qiibee-conformance load``, so that every worker races on the
same balances).
It receives every worker's ledger (``ledger_link``). When the test stops (run time over,
shape finished, Ctrl-C, the web UI's stop), and before Locust tells the workers to quit,
it *drains*: asks each worker to stop its users and hand over the rest of its ledger
(``MSG_STOP``), and waits until each has (``MSG_DONE``) or is gone. Locust alone would
quit its workers and itself half a second later, losing what they still had to say.
When it quits it writes its account of the workers (``workers.json``): a worker that died
mid-run is *lost*, and the run degraded.

**Worker.** It waits for the plan before its first user starts, sends its ledger, and on
``MSG_STOP``, or when it quits (Ctrl-C), stops its users and then sends what is left, its
last statistics and its totals. Runs inside Locust processes only.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import gevent
import greenlet
from gevent.event import Event
from locust.env import Environment
from locust.runners import STATE_INIT, STATE_MISSING, STATE_STOPPED, MasterRunner, WorkerRunner

from qiibee_conformance.errors import RunError
from qiibee_conformance.loadtest.cluster_status import (
    DONE,
    INCOMPLETE,
    MSG_DONE,
    MSG_LEDGER,
    MSG_PLAN,
    MSG_PLAN_REQUEST,
    MSG_STOP,
    ClusterStatus,
    write_status,
)
from qiibee_conformance.loadtest.common import ENV_PLAN
from qiibee_conformance.loadtest.context import attach_master
from qiibee_conformance.loadtest.ledger_link import LedgerReceiver, MessageSink
from qiibee_conformance.loadtest.plan import LoadPlan

log = logging.getLogger("qiibee.load")

PLAN_WAIT_S = 60.0  # how long a worker's first user waits for the master's plan
DRAIN_GRACE_S = 10.0  # on top of Locust's stop timeout, for the last batches to arrive
POLL_S = 0.1


def _plan_from_parent() -> dict[str, Any] | None:
    """The plan file ``qiibee-conformance load`` wrote; None when Locust runs on its own."""
    path = os.environ.get(ENV_PLAN)
    return LoadPlan.load(Path(path)).to_dict() if path else None


class ClusterMaster:
    """The master's side: plan out, ledgers in, drain at the end, the workers' account."""

    def __init__(self, environment: Environment, runner: MasterRunner, ledger_dir: Path | None) -> None:
        self.environment = environment
        self.runner = runner
        self.ledger_dir = ledger_dir
        self.plan = _plan_from_parent()
        self.receiver = LedgerReceiver(ledger_dir, runner.get_worker_index)
        self._drained = Event()
        self._draining = False
        runner.register_message(MSG_LEDGER, self.receiver.on_batch)
        runner.register_message(MSG_DONE, self.receiver.on_done)
        runner.register_message(MSG_PLAN_REQUEST, self.on_plan_request)
        events = environment.events
        events.worker_connect.add_listener(self.on_connect)  # type: ignore[no-untyped-call]
        events.test_stopping.add_listener(lambda **_: self.drain())  # type: ignore[no-untyped-call]
        events.quitting.add_listener(lambda **_: self.finish())  # type: ignore[no-untyped-call]

    def on_connect(self, client_id: str, **_kwargs: Any) -> None:
        self.receiver.worker(client_id)  # known from now on: lost if it vanishes

    def on_plan_request(self, msg: Any, **_kwargs: Any) -> None:
        self.receiver.worker(msg.node_id)
        self.runner.send_message(MSG_PLAN, {"plan": self.plan}, client_id=msg.node_id)

    def _settled(self, client_id: str) -> bool:
        """Said it handed over its ledger, or gone (quit or missing) without saying so."""
        if self.receiver.worker(client_id).state in (DONE, INCOMPLETE):
            return True
        node = self.runner.clients.get(client_id)
        return node is None or node.state == STATE_MISSING

    def drain(self) -> None:
        """Ask every worker to stop and hand over its ledger; wait (bounded) until each did or is gone."""
        if self._draining:
            self._drained.wait(self.environment.stop_timeout + DRAIN_GRACE_S)
            return
        self._draining = True
        try:
            for node in list(self.runner.clients.all):
                if node.state != STATE_MISSING:
                    self.runner.send_message(MSG_STOP, {}, client_id=node.id)
            deadline = time.monotonic() + (self.environment.stop_timeout or 0) + DRAIN_GRACE_S
            while time.monotonic() < deadline and not all(map(self._settled, list(self.receiver.workers))):
                gevent.sleep(POLL_S)
        finally:
            self._drained.set()

    def status(self) -> ClusterStatus:
        expected = getattr(self.environment.parsed_options, "expect_workers", 0) or 0
        return ClusterStatus(int(expected), list(self.receiver.workers.values()))

    def finish(self) -> None:
        """At quitting: drain if nothing did yet, then the account and the files."""
        self.drain()
        self.receiver.close()
        if self.ledger_dir is not None:
            write_status(self.ledger_dir, self.status())
        for worker in self.status().lost:
            log.warning("qiibee load: %s", worker.describe())


class ClusterWorker:
    """The worker's side: the master's plan, the ledger to the master, a clean hand-over."""

    def __init__(self, environment: Environment, runner: WorkerRunner) -> None:
        self.environment = environment
        self.runner = runner
        self._sink = MessageSink(runner.send_message)
        self._plan: dict[str, Any] | None = None
        self._planned = Event()
        runner.register_message(MSG_PLAN, self.on_plan)
        runner.register_message(MSG_STOP, self.on_stop, concurrent=True)
        environment.events.test_stop.add_listener(lambda **_: self.hand_over())  # type: ignore[no-untyped-call]
        environment.events.quitting.add_listener(lambda **_: self.on_quitting())  # type: ignore[no-untyped-call]
        attach_master(self)
        runner.send_message(MSG_PLAN_REQUEST, {})

    @property
    def sink(self) -> MessageSink:
        return self._sink

    def on_plan(self, msg: Any, **_kwargs: Any) -> None:
        data = msg.data if isinstance(msg.data, dict) else {}
        plan = data.get("plan")
        self._plan = plan if isinstance(plan, dict) else None
        self._planned.set()

    def wait_plan(self) -> dict[str, Any] | None:
        if not self._planned.wait(PLAN_WAIT_S):
            raise RunError(f"no plan from the Locust master within {PLAN_WAIT_S:g} s")
        return self._plan

    def on_stop(self, **_kwargs: Any) -> None:
        """``MSG_STOP``: stop the users (Locust's stop timeout); ``test_stop`` then hands over."""
        self.runner.stop()

    def hand_over(self) -> None:
        """The rest of the ledger, the last statistics, then the totals: in this order."""
        self._sink.flush()
        data: dict[str, Any] = {}
        self.environment.events.report_to_master.fire(  # type: ignore[no-untyped-call]
            client_id=self.runner.client_id, data=data
        )
        self.runner.send_message("stats", data)
        self._sink.finish()

    def on_quitting(self) -> None:
        """Quitting (Ctrl-C, or the master's quit): stop the users first, so that they hand over."""
        if self.runner.state in (STATE_STOPPED, STATE_INIT):
            self.hand_over()
        else:
            self.runner.stop()


def interrupt_main_on_sigint() -> None:
    """Deliver Ctrl-C to Locust's main greenlet, whichever greenlet runs when it comes.

    Python raises KeyboardInterrupt in the code running at the time; a master's busiest
    greenlet is the one receiving its workers' messages, and Locust's loop there swallows a
    KeyboardInterrupt (it goes on listening), so the run would go on until SIGTERM. Called
    at Locust's init, from its main greenlet: the interrupt then takes Locust's own path
    (stop, HTML report, quitting: the drain and the hand-over)."""
    main = greenlet.getcurrent()

    def interrupt() -> None:
        main.throw(KeyboardInterrupt)

    gevent.signal_handler(signal.SIGINT, interrupt)


def attach(environment: Environment) -> None:
    """Wire this Locust process into the cluster by its runner (nothing for a single process)."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        directory = getattr(environment.parsed_options, "ledger_dir", "") or ""
        ClusterMaster(environment, runner, Path(directory) if directory else None)
        interrupt_main_on_sigint()
    elif isinstance(runner, WorkerRunner):
        ClusterWorker(environment, runner)
        interrupt_main_on_sigint()

"""Run the contract suite in-process and collect what it found.

The runner only runs: the checks live in ``contracts/`` and
``qiibee_conformance.checks``. It makes sure the run *can* be made (preflight),
hands the ready-made Settings to the pytest plugin through the config stash (the
API key never enters pytest's argv), keeps pytest's own output in a log file,
and prints its own progress per requirement group.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pytest

from qiibee_conformance import run_control
from qiibee_conformance.certify.outcomes import (
    ADVISORIES,
    CHECK_SECONDS,
    EVIDENCE,
    FINDING,
    NOTES,
    PREREQUISITE,
)
from qiibee_conformance.certify.plugin import RUN_ERROR_KEY, SETTINGS_KEY
from qiibee_conformance.certify.results import FAIL, PASS, SKIPPED, UNMARKED_GROUP, ItemRecord
from qiibee_conformance.certify.selection import group_of, requirement_ids
from qiibee_conformance.certify.stats import STATS
from qiibee_conformance.client import ApiClient
from qiibee_conformance.paths import contracts_dir
from qiibee_conformance.preflight import preflight as first_request
from qiibee_conformance.redact import Redactor
from qiibee_conformance.settings import Settings

PYTEST_LOG = "pytest.log"
INTERRUPTED = "interrupted (Ctrl-C): the reports hold what was found until then"
_MESSAGE_LIMIT = 2000
_DETAILS_LIMIT = 12000


def preflight(settings: Settings) -> int:
    """Fail fast, with one line, when the target is unreachable, redirects or refuses the key.

    Returns the number of requests made.
    """
    client = ApiClient(settings.base, settings.api_key, limits=settings.limits)
    try:
        first_request(client)
    finally:
        client.close()
    return client.request_count


@dataclass
class PytestOutcome:
    records: list[ItemRecord]
    exit_code: int
    run_error: str | None
    collection_errors: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False


class _Progress:
    """Live progress per requirement group: a line per finished group, failures at once."""

    def __init__(self, out: TextIO, redactor: Redactor) -> None:
        self.out = out
        self.redactor = redactor
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.totals: dict[str, int] = {}
        self.done: dict[str, list[ItemRecord]] = defaultdict(list)
        self.finished = 0
        self.total = 0
        self.started = time.perf_counter()
        self._status_shown = False

    def _write(self, line: str) -> None:
        self._clear_status()
        self.out.write(self.redactor.text(line) + "\n")
        self.out.flush()

    def _clear_status(self) -> None:
        if self._status_shown:
            self.out.write("\r\033[K")
            self._status_shown = False

    def collected(self, groups: list[str]) -> None:
        for group in groups:
            self.totals[group] = self.totals.get(group, 0) + 1
        self.total = len(groups)
        names = ", ".join(f"{g} ({n})" for g, n in self.totals.items())
        self._write(f"collected {self.total} contract tests: {names}" if self.total else "no contract tests")

    def record(self, record: ItemRecord, title: str) -> None:
        self.finished += 1
        done = self.done[record.group]
        done.append(record)
        label = ",".join(record.requirement_ids) or record.nodeid
        if record.outcome == FAIL and not record.run_error:
            first = record.message.strip().splitlines()[0] if record.message.strip() else ""
            self._write(f"  FAIL {label} {title}: {first[:200]}")
        elif record.advisories:
            first = str(record.advisories[0].get("message", ""))
            self._write(f"  ADVISORY {label} {title}: {first[:200]}")
        if len(done) == self.totals.get(record.group, -1):
            passed = sum(1 for r in done if r.outcome == PASS and not r.advisories)
            advised = sum(1 for r in done if r.outcome == PASS and r.advisories)
            failed = sum(1 for r in done if r.outcome == FAIL)
            skipped = sum(1 for r in done if r.outcome == SKIPPED)
            seconds = sum(r.duration for r in done)
            mark = "FAIL" if failed else "warn" if advised else "ok  "
            parts = [f"{passed} verified"]
            if advised:
                parts.append(f"{advised} advisory")
            if failed:
                parts.append(f"{failed} failed")
            if skipped:
                parts.append(f"{skipped} untestable")
            self._write(f"{mark} {record.group:<13} {', '.join(parts):<34} {seconds:6.1f}s")
        elif self.tty:
            self._clear_status()
            elapsed = time.perf_counter() - self.started
            self.out.write(f"  [{self.finished}/{self.total}] {record.group} ... {elapsed:.0f}s")
            self.out.flush()
            self._status_shown = True

    def close(self) -> None:
        self._clear_status()
        self.out.flush()


class Collector:
    """pytest plugin object: feeds the Settings in and records every test's outcome."""

    def __init__(self, settings: Settings, out: TextIO, redactor: Redactor) -> None:
        self.settings = settings
        self.redactor = redactor
        self.progress = _Progress(out, redactor)
        self.records: dict[str, ItemRecord] = {}
        self.order: list[str] = []
        self.collection_errors: list[str] = []
        self.run_error: str | None = None
        self.interrupted: str | None = None
        self._items: dict[str, tuple[list[str], str]] = {}
        self._titles: dict[str, str] = {}

    # pytest hooks ---------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[SETTINGS_KEY] = self.settings

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            text = self._clean(report.longreprtext).strip()
            last = text.splitlines()[-1] if text else "collection failed"
            self.collection_errors.append(f"{report.nodeid or '<root>'}: {last}")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from qiibee_conformance.requirements import REQUIREMENTS

        groups = []
        for item in session.items:
            ids = requirement_ids(item)
            group = (group_of(ids[0]) if ids else None) or UNMARKED_GROUP
            self._items[item.nodeid] = (ids, group)
            self._titles[item.nodeid] = REQUIREMENTS[ids[0]].title if ids and ids[0] in REQUIREMENTS else ""
            groups.append(group)
        self.progress.collected(groups)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = self._record_of(report.nodeid)
        subtest = getattr(report, "context", None) is not None
        if not subtest:  # a subtest's time is already part of its test's call phase
            record.duration += report.duration
        if report.when == "call" and not subtest:
            record.finished = True
        if report.failed and record.outcome != FAIL:
            self._fail(record, report, subtest=subtest)
        elif report.skipped and record.outcome == PASS:
            record.outcome = SKIPPED
            record.message = self._skip_reason(report)
        if report.when == "teardown" and not subtest:
            # Every phase's report repeats the item's properties; the teardown report has them all.
            self._take_properties(record, report.user_properties)
        if report.when == "teardown":
            self.progress.record(record, self._titles.get(report.nodeid, ""))

    def _record_of(self, nodeid: str) -> ItemRecord:
        record = self.records.get(nodeid)
        if record is None:
            ids, group = self._items.get(nodeid, ([], UNMARKED_GROUP))
            record = ItemRecord(nodeid=nodeid, requirement_ids=ids, group=group, finished=False)
            self.records[nodeid] = record
            self.order.append(nodeid)
        return record

    def _fail(self, record: ItemRecord, report: pytest.TestReport, *, subtest: bool) -> None:
        record.outcome = FAIL
        message, details = self._failure_text(report)
        if subtest:
            message = f"{getattr(report, 'head_line', '')}: {message}"
        elif report.when != "call":
            message = f"error in {report.when}: {message}"
        record.message, record.details = message, details
        record.run_error = isinstance(report.longrepr, str) and report.longrepr.startswith("RunError:")

    def _take_properties(self, record: ItemRecord, properties: list[tuple[str, object]]) -> None:
        for name, value in properties:
            if name == CHECK_SECONDS and isinstance(value, int | float):
                record.duration = float(value)  # a business check that ran ahead of its test
            elif name == PREREQUISITE:
                record.prerequisite = self._clean(str(value))
            elif name in (EVIDENCE, FINDING, ADVISORIES, NOTES):
                try:
                    self._take(record, name, value)
                except Exception as err:  # a malformed entry must not abort the whole run
                    record.evidence.append({"note": f"unreadable {name}: {type(err).__name__}"})

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        message = session.config.stash.get(RUN_ERROR_KEY, None)
        if message is not None:
            self.run_error = self.redactor.text(message)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.interrupted = self._clean(str(excinfo.value)) or type(excinfo.value).__name__
        if excinfo.errisinstance(KeyboardInterrupt):
            # The checks' thread stops at its next request or wait instead of running on.
            run_control.stop(INTERRUPTED)

    # helpers --------------------------------------------------------------------
    def _clean(self, text: str) -> str:
        return self.redactor.text(text)

    def _failure_text(self, report: pytest.TestReport) -> tuple[str, str]:
        details = self._clean(report.longreprtext)
        crash = getattr(report.longrepr, "reprcrash", None)
        message = self._clean(crash.message) if crash is not None else ""
        if not message:
            lines = [line for line in details.strip().splitlines() if line.strip()]
            message = lines[-1] if lines else "failed"
        return message[:_MESSAGE_LIMIT], details[-_DETAILS_LIMIT:]

    def _skip_reason(self, report: pytest.TestReport) -> str:
        longrepr = report.longrepr
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            reason = str(longrepr[2])
            return self._clean(reason.removeprefix("Skipped: "))
        return self._clean(str(longrepr or "skipped"))

    def _take(self, record: ItemRecord, name: str, value: object) -> None:
        """File one structured property (JSON, re-redacted) on the record."""
        if name == EVIDENCE:
            record.evidence.extend(self._evidence(value))
            return
        parsed = self._redact_value(json.loads(value) if isinstance(value, str) else value)
        if name == FINDING and isinstance(parsed, dict):
            record.finding = parsed
        elif name == ADVISORIES and isinstance(parsed, list):
            record.advisories.extend(a for a in parsed if isinstance(a, dict))
        elif name == NOTES and isinstance(parsed, list):
            record.notes.extend(str(n) for n in parsed)

    def _evidence(self, value: object) -> list[dict[str, Any]]:
        """Evidence entries are JSON lists of exchanges; re-redacted as a second line of defence."""
        try:
            parsed = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            return [{"note": self._clean(str(value))}]
        items = parsed if isinstance(parsed, list) else [parsed]
        cleaned = [self._redact_value(e) for e in items]
        return [e if isinstance(e, dict) else {"note": str(e)} for e in cleaned]

    def _redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._clean(value)
        if isinstance(value, dict):
            return {self._clean(str(k)): self._redact_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redact_value(v) for v in value]
        return value

    def outcome(self, exit_code: int) -> PytestOutcome:
        self.progress.close()
        return PytestOutcome(
            records=[self.records[n] for n in self.order],
            exit_code=exit_code,
            run_error=self.run_error,
            collection_errors=self.collection_errors,
        )


@contextlib.contextmanager
def _pytest_environment(log: TextIO) -> Iterator[None]:
    """Keep the user's PYTEST_ADDOPTS (e.g. ``-n 4``) and pytest's own output out of the run."""
    saved = os.environ.pop("PYTEST_ADDOPTS", None)
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            yield
    finally:
        if saved is not None:
            os.environ["PYTEST_ADDOPTS"] = saved


def pytest_args(settings: Settings, groups: Sequence[str], reports_dir: Path) -> list[str]:
    """Arguments for the in-process run; nothing secret goes here."""
    suite = contracts_dir()
    args = [
        str(suite),
        "--rootdir",
        str(suite),
        "-q",
        "--tb=short",
        "-p",
        "no:cacheprovider",
        # Only the plugins the suite needs. Autoloading every installed plugin also marks
        # whole packages (schemathesis, hypothesis, locust, ...) for assertion rewriting,
        # which costs seconds per run when bytecode is not cached.
        "--disable-plugin-autoload",
        "-p",
        "qiibee_conformance.certify.plugin",
        "-p",
        "schemathesis.pytest.plugin",
        "-p",
        "_hypothesis_pytestplugin",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",  # the plugin is imported by the runner first
        "-o",
        "addopts=",
        "--strict-markers",
        "--qiibee-run-id",
        settings.run_id,
    ]
    if groups:
        args += ["--qiibee-only", ",".join(sorted(groups))]
    return args


def run_contracts(
    settings: Settings,
    *,
    groups: Sequence[str],
    reports_dir: Path,
    out: TextIO,
    redactor: Redactor,
) -> PytestOutcome:
    """Run pytest over the contract suite and return what each test did."""
    STATS.reset()
    collector = Collector(settings, out, redactor)
    log_path = reports_dir / PYTEST_LOG
    with log_path.open("w", encoding="utf-8") as log, _pytest_environment(log):
        exit_code = int(pytest.main(pytest_args(settings, groups, reports_dir), plugins=[collector]))
    outcome = collector.outcome(exit_code)
    outcome.stats = STATS.as_dict()
    if collector.interrupted and "KeyboardInterrupt" in collector.interrupted:
        outcome.interrupted = True
        outcome.run_error = outcome.run_error or INTERRUPTED
    if outcome.run_error is None:
        outcome.run_error = _pytest_failure(exit_code, outcome, log_path)
    return outcome


def _pytest_failure(exit_code: int, outcome: PytestOutcome, log_path: Path) -> str | None:
    """A pytest exit code that means the suite itself could not run, as one line."""
    if exit_code in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return None
    if outcome.collection_errors:
        return f"the contract suite failed to load: {outcome.collection_errors[0]} (details in {log_path})"
    if exit_code == pytest.ExitCode.NO_TESTS_COLLECTED:
        return "no contract tests were selected"
    if exit_code == pytest.ExitCode.USAGE_ERROR:
        return f"the contract suite rejected its arguments (details in {log_path})"
    if exit_code == pytest.ExitCode.INTERRUPTED:
        return f"the contract run was interrupted (details in {log_path})"
    return f"the contract run ended with pytest exit code {exit_code} (details in {log_path})"


"""The load run's JSON summary and its few console lines.

Locust writes its own HTML report and CSV statistics; this adds what Locust
cannot know: the SLO verdicts (with the rate-limited requests per route), the
reconciliation, the contract findings (fail-level rules), the advisories
(warn-level readings: reported, failing the run only with ``--strict``), and one
verdict that names the gate that failed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qiibee_conformance import __version__
from qiibee_conformance.errors import EXIT_NONCONFORMING, EXIT_OK, EXIT_RUN_ERROR
from qiibee_conformance.loadtest.ledger import Finding
from qiibee_conformance.loadtest.reconciliation import ReconciliationResult
from qiibee_conformance.loadtest.slo import SloResult, SloSpec
from qiibee_conformance.redact import Redactor

EXIT_INTERRUPTED = 130
SUMMARY_NAME = "load-summary.json"


def group_findings(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """One entry per (rule, message) with its count and the first evidence (an advisory's
    entry also names its decision)."""
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for finding in findings:
        entry = grouped.setdefault(
            (finding.rule, finding.message),
            {
                "rule": finding.rule,
                "message": finding.message,
                "route": finding.route,
                "count": 0,
                "evidence": None,
            },
        )
        if finding.decision:
            entry["decision"] = finding.decision
        entry["count"] += 1
        if entry["evidence"] is None and finding.evidence is not None:
            entry["evidence"] = finding.evidence
    return sorted(grouped.values(), key=lambda e: (e["rule"], e["message"]))


def split_findings(findings: Iterable[Finding]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(contract findings, advisories), each grouped: fail-level rules, then warn-level readings."""
    every = list(findings)
    return (
        group_findings(f for f in every if not f.advisory),
        group_findings(f for f in every if f.advisory),
    )


@dataclass
class RunRecord:
    """Everything the summary reports, gathered by the runner."""

    target: str
    scenario: str
    users: int
    spawn_rate: float
    run_time_s: int
    processes: int | None
    started_at: datetime
    finished_at: datetime | None = None
    interrupted: bool = False
    locust_exit_code: int | None = None
    requests: int = 0
    failures: int = 0
    rate_limited: int = 0  # of the failures: 429, or 503 with Retry-After
    routes: list[dict[str, Any]] = field(default_factory=list)
    task_exceptions: int = 0
    slo: SloResult | None = None
    slo_spec: SloSpec | None = None
    reconciliation: ReconciliationResult | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    advisories: list[dict[str, Any]] = field(default_factory=list)  # Locust users' warn-level readings
    strict: bool = False  # advisories fail the run
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    role: str = "single"  # "single" (one machine, ``--processes`` included) or "master"
    cluster: dict[str, Any] | None = None  # the master's account of its workers (workers.json)
    degraded: bool = False  # a worker was lost, or lost ledger batches: judged on what arrived
    capacity: dict[str, Any] | None = None  # --find-capacity: what the search found
    capacity_headline: str = ""

    def all_advisories(self) -> list[dict[str, Any]]:
        """The Locust users' advisories and the reconciliation's."""
        found = list(self.advisories)
        if self.reconciliation is not None:
            found += [a.to_dict() for a in self.reconciliation.advisories]
        return found

    def failed_gates(self) -> list[str]:
        failed: list[str] = []
        if (self.slo is not None and not self.slo.ok) or self._no_capacity():
            failed.append("slo")
        if self.reconciliation is not None and self.reconciliation.discrepancies:
            failed.append("reconciliation")
        if self.findings:
            failed.append("contract")
        if self.strict and self.all_advisories():
            failed.append("advisories")
        return failed

    def _no_capacity(self) -> bool:
        """The capacity search measured steps and not one of them held the SLOs."""
        if self.capacity is None or not self.capacity.get("steps"):
            return False
        return int(self.capacity["capacity"]["users"]) == 0

    def exit_code(self) -> int:
        if self.failed_gates():
            return EXIT_NONCONFORMING
        if self.interrupted or (self.reconciliation is not None and self.reconciliation.interrupted):
            return EXIT_INTERRUPTED
        if self.task_exceptions or self.degraded:
            return EXIT_RUN_ERROR
        return EXIT_OK

    def verdict(self) -> str:
        code = self.exit_code()
        if code == EXIT_RUN_ERROR and self.degraded and not self.task_exceptions:
            return "degraded"
        return {EXIT_OK: "pass", EXIT_NONCONFORMING: "fail", EXIT_INTERRUPTED: "interrupted"}.get(
            code, "error"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": f"qiibee-conformance {__version__} load",
            "verdict": self.verdict(),
            "exit_code": self.exit_code(),
            "failed_gates": self.failed_gates(),
            "target": self.target,
            "scenario": self.scenario,
            "users": self.users,
            "spawn_rate": self.spawn_rate,
            "run_time_s": self.run_time_s,
            "processes": self.processes,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "finished_at": self.finished_at.isoformat(timespec="seconds") if self.finished_at else None,
            "interrupted": self.interrupted,
            "locust_exit_code": self.locust_exit_code,
            "requests": {
                "total": self.requests,
                "failures": self.failures,
                "rate_limited": self.rate_limited,
                "routes": self.routes,
            },
            "task_exceptions": self.task_exceptions,
            "gates": {
                "slo": self.slo.to_dict(self.slo_spec.source if self.slo_spec else "") if self.slo else None,
                "reconciliation": self.reconciliation.to_dict() if self.reconciliation else None,
                "contract": {"ok": not self.findings, "findings": self.findings},
            },
            "strict": self.strict,
            "role": self.role,
            "degraded": self.degraded,
            "cluster": self.cluster,
            "capacity": self.capacity,
            "advisories": self.all_advisories(),
            "reports": self.files,
            "notes": self.notes,
        }


def write_summary(record: RunRecord, path: Path, redactor: Redactor) -> None:
    if record.finished_at is None:
        record.finished_at = datetime.now(UTC)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redactor.text(json.dumps(record.to_dict(), indent=2)) + "\n", encoding="utf-8")


def render(record: RunRecord) -> list[str]:
    """The console lines: what ran, each gate's verdict, where the reports are."""
    stopped = " (interrupted)" if record.interrupted else ""
    shape = (
        f"capacity search up to {record.users} users"
        if record.capacity is not None
        else f"{record.users} users, {record.run_time_s} s"
    )
    lines = [
        f"load: scenario {record.scenario}, {shape}{stopped}: "
        f"{record.requests} requests, {record.failures} failed"
    ]
    lines += _rate_limited_lines(record)
    if record.slo is not None:
        breaches = record.slo.breaches
        if breaches:
            lines.append(f"SLO BREACHED ({len(breaches)}):")
            lines += [f"  - {v.describe()}" for v in breaches]
        else:
            lines.append(f"SLO: held ({len(record.slo.verdicts)} budgets)")
    recon = record.reconciliation
    if recon is not None:
        if recon.discrepancies:
            lines.append(
                f"RECONCILIATION FAILED ({len(recon.discrepancies)} discrepancies over {recon.users} users):"
            )
            lines += [f"  - {d.auth_id}: {d.message}" for d in recon.discrepancies[:10]]
        elif recon.interrupted:
            lines.append(f"reconciliation: interrupted after {recon.users} users")
        else:
            advised = f"; {len(recon.advisories)} advisories below" if recon.advisories else ""
            lines.append(
                f"reconciliation: no discrepancy ({recon.users} users, {recon.rows} history rows, "
                f"{recon.ledger.get('accepted', 0)} accepted money moves{advised})"
            )
    if record.findings:
        lines.append(f"CONTRACT BROKEN under load ({len(record.findings)}):")
        lines += [f"  - {f['rule']}: {f['message']} (x{f['count']})" for f in record.findings[:10]]
    lines += _advisory_lines(record)
    if record.task_exceptions:
        lines.append(
            f"the load run raised {record.task_exceptions} task exception(s); see the exceptions CSV"
        )
    lines += [f"note: {n}" for n in record.notes]
    if record.capacity_headline:
        lines.append(record.capacity_headline)
    failed = record.failed_gates()
    degraded = "; DEGRADED: a worker was lost (see the notes)" if record.degraded else ""
    lines.append(
        f"verdict: {record.verdict()}" + (f" (failed: {', '.join(failed)})" if failed else "") + degraded
    )
    for label, path in record.files.items():
        lines.append(f"  {label}: {path}")
    return lines


def _rate_limited_lines(record: RunRecord) -> list[str]:
    """How many requests the target rate limited, per route: capacity, not a contract finding."""
    if not record.rate_limited:
        return []
    per_route = ", ".join(
        f"{r['route']} {r['rate_limited']}"
        for r in sorted(record.routes, key=lambda r: -int(r.get("rate_limited") or 0))
        if r.get("rate_limited")
    )
    return [
        f"rate limited: {record.rate_limited} of {record.requests} requests (HTTP 429, or 503 with "
        f"Retry-After; failures against the error budget, never contract findings): {per_route}"
    ]


def _advisory_lines(record: RunRecord) -> list[str]:
    advisories = record.all_advisories()
    if not advisories:
        return []
    how = "failing the run: --strict" if record.strict else "warn-level readings, not failing the run"
    lines = [f"ADVISORIES ({len(advisories)}; {how}):"]
    for item in advisories[:10]:
        who = f" ({item['auth_id']})" if item.get("auth_id") else ""
        count = f" (x{item['count']})" if item.get("count", 1) > 1 else ""
        lines.append(f"  - {item['rule']} [{item.get('decision')}]{who}: {item['message']}{count}")
    return lines

"""One certification, start to finish: check the inputs, pick the target, run, report, decide.

Everything that can make the run impossible (a malformed baseline included) is checked
before the first request that writes anything; everything after that is reported, even
when the run stops early, so a partial run still leaves its evidence behind.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from qiibee_conformance import run_control
from qiibee_conformance.certify import outputs
from qiibee_conformance.certify.baseline import Gate
from qiibee_conformance.certify.config import load_config, make_settings, settings_summary
from qiibee_conformance.certify.outputs import Outputs
from qiibee_conformance.certify.results import Certification, assemble
from qiibee_conformance.certify.selection import parse_groups
from qiibee_conformance.errors import RunError
from qiibee_conformance.redact import Redactor
from qiibee_conformance.settings import NO_API_KEY, Settings
from qiibee_conformance.targets import ensure_safe_target, validate_url

# A whole certification, mock start and reports included: ample for a distant sandbox,
# and still a bound when a target hangs or throttles without end.
DEFAULT_MAX_TIME = 1800.0


@dataclass(frozen=True)
class CertifyRequest:
    target: str | None
    api_key: str | None = field(default=None, repr=False)
    config: str | None = None
    reports: str = "reports"
    max_examples: int | float | None = None
    settle_timeout: int | float | None = None
    only: list[str] = field(default_factory=list)
    allow_non_sandbox: bool = False
    strict: bool | None = None
    max_time: float | None = DEFAULT_MAX_TIME
    # The baseline to gate on, the baseline to write, the Markdown summary, the CI job summary.
    baseline: str | None = None
    write_baseline: str | None = None
    markdown: str | None = None
    step_summary: str | None = None


def _reports_dir(path: str) -> Path:
    directory = Path(path).expanduser()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".qiibee-write-test"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as err:
        raise RunError(f"cannot write reports to {directory}: {err.strerror or err}") from None
    return directory.resolve()


def certify(request: CertifyRequest, out: TextIO | None = None) -> int:
    """Run one certification; return the exit status, or raise RunError (exit 2)."""
    stream = out or sys.stdout
    run_control.start(request.max_time)
    groups = parse_groups(request.only)
    file_values = load_config(request.config)
    files = outputs.prepare(
        baseline=request.baseline,
        write_baseline=request.write_baseline,
        markdown=request.markdown,
        step_summary=request.step_summary,
    )
    overrides: dict[str, Any] = {
        "max_examples": request.max_examples,
        "settle_timeout": request.settle_timeout,
        "strict": request.strict,
    }
    reports_dir = _reports_dir(request.reports)
    with contextlib.ExitStack() as stack:
        if request.target:
            base_url = validate_url(request.target)
            ensure_safe_target(base_url, allow_any=request.allow_non_sandbox)
            if not request.api_key:
                raise RunError(NO_API_KEY)
            settings = make_settings(base_url, request.api_key, file_values=file_values, overrides=overrides)
            embedded = False
        else:
            # Validate everything before paying for a mock start.
            make_settings("http://127.0.0.1", "validation-only", file_values=file_values, overrides=overrides)
            from qiibee_conformance.embedded import EmbeddedMock

            mock = stack.enter_context(EmbeddedMock(api_key=request.api_key))
            values = {**file_values, "brand_id": mock.brand_id}
            settings = make_settings(mock.base_url, mock.api_key, file_values=values, overrides=overrides)
            embedded = True
        status = _run(settings, groups=groups, reports_dir=reports_dir, embedded=embedded, out=stream,
                      files=files)
    return status


def _run(
    settings: Settings,
    *,
    groups: frozenset[str],
    reports_dir: Path,
    embedded: bool,
    out: TextIO,
    files: Outputs,
) -> int:
    from qiibee_conformance.certify.coverage import COVERAGE
    from qiibee_conformance.certify.runner import preflight, run_contracts

    redactor = Redactor([settings.api_key])
    target = redactor.text(settings.base) + (" (embedded reference mock)" if embedded else "")
    out.write(f"qiibee-conformance certify: run id {settings.run_id}, target {target}\n")
    out.write(f"groups: {', '.join(sorted(groups)) if groups else 'all'}; reports: {reports_dir}\n")
    if files.baseline is not None:
        out.write(f"baseline: {files.baseline.path} ({len(files.baseline.entries)} accepted finding(s))\n")
    out.flush()
    started = datetime.now(UTC)
    COVERAGE.begin(settings.base)
    preflight_requests = preflight(settings)
    outcome = run_contracts(
        settings, groups=sorted(groups), reports_dir=reports_dir, out=out, redactor=redactor
    )
    counts = dict(outcome.stats)
    counts["check_requests"] = counts.get("check_requests", 0) + preflight_requests
    counts["total_requests"] = counts.get("total_requests", 0) + preflight_requests
    cert: Certification = assemble(
        outcome.records,
        selected_groups=groups,
        run_error=outcome.run_error,
        target=redactor.text(settings.base),
        run_id=settings.run_id,
        embedded_mock=embedded,
        started_at=started,
        finished_at=datetime.now(UTC),
        settings=settings_summary(settings),
        counts=counts,
        collection_errors=outcome.collection_errors,
        strict=settings.strict,
    )
    _add_figures(cert)
    gate = _report(cert, settings, reports_dir=reports_dir, files=files, out=out, redactor=redactor)
    if outcome.interrupted:
        raise KeyboardInterrupt
    if cert.run_error is not None:
        raise RunError(cert.run_error)
    return outputs.exit_status(cert, gate)


def _add_figures(cert: Certification) -> None:
    """Coverage and latency, from what the run's hooks recorded."""
    from qiibee_conformance.certify.coverage import COVERAGE, summarize
    from qiibee_conformance.certify.stats import STATS

    cert.latency = STATS.latency()
    cert.coverage = summarize(COVERAGE.observations(), [(r.id, r.status) for r in cert.requirements])


def _report(
    cert: Certification,
    settings: Settings,
    *,
    reports_dir: Path,
    files: Outputs,
    out: TextIO,
    redactor: Redactor,
) -> Gate | None:
    """Write every report (and the baseline asked for), print the summary; return the gate."""
    from qiibee_conformance.certify.reports import json_report
    from qiibee_conformance.certify.reports.writer import write_reports
    from qiibee_conformance.certify.runner import PYTEST_LOG
    from qiibee_conformance.certify.summary import render

    document = json_report.build(cert)
    gate = outputs.gate_document(document, files)
    paths, fixed = write_reports(
        document, reports_dir, secrets=[settings.api_key], also_scan=[reports_dir / PYTEST_LOG],
        markdown=files.markdown, step_summary=files.step_summary,
    )
    notes = outputs.write_baseline(cert, document, files, settings.api_key)
    out.write(redactor.text(render(cert, paths, gate)))
    for note in notes:
        out.write(redactor.text(note) + "\n")
    for path in fixed:
        out.write(f"warning: the API key had to be redacted from {path} after writing (a redaction bug)\n")
    out.flush()
    return gate

"""What a certification leaves behind besides its verdict: reports, baseline, and its exit status.

The baseline to gate on is read before the run (a malformed one stops it with exit 2
before any request); the report files are written after it, every one of them scanned
for the key; the exit status follows the gate when there is a baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qiibee_conformance.certify import baseline_file
from qiibee_conformance.certify.baseline import Gate, annotate, apply, entries_to_write
from qiibee_conformance.certify.baseline_file import Baseline
from qiibee_conformance.certify.results import NONCONFORMING, Certification
from qiibee_conformance.errors import EXIT_NONCONFORMING, EXIT_OK, RunError
from qiibee_conformance.redact import scrub_files


@dataclass(frozen=True)
class Outputs:
    """The files a run reads and writes besides its reports directory."""

    baseline: Baseline | None = None
    write_baseline: Path | None = None
    markdown: Path | None = None
    step_summary: Path | None = None


@dataclass
class Delivered:
    """What was written, what had to be redacted after writing, and the gate's decision."""

    paths: list[Path] = field(default_factory=list)
    fixed: list[Path] = field(default_factory=list)
    gate: Gate | None = None
    notes: list[str] = field(default_factory=list)


def _writable(flag: str, value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.parent.is_dir():
        raise RunError(f"{flag}: the directory {path.parent} does not exist")
    if path.is_dir():
        raise RunError(f"{flag}: {path} is a directory, not a file")
    return path


def prepare(
    *, baseline: str | None, write_baseline: str | None, markdown: str | None, step_summary: str | None
) -> Outputs:
    """Check the output paths and read the baseline, before anything is sent (RunError: exit 2)."""
    return Outputs(
        baseline=baseline_file.read(baseline) if baseline else None,
        write_baseline=_writable("--write-baseline", write_baseline),
        markdown=_writable("--markdown", markdown),
        step_summary=_step_summary(step_summary),
    )


def _step_summary(value: str | None) -> Path | None:
    """The CI job summary file, if the CI gave a usable one (it is never worth failing a run)."""
    path = Path(value) if value else None
    return path if path is not None and path.parent.is_dir() and not path.is_dir() else None


def gate_document(document: dict[str, Any], outputs: Outputs) -> Gate | None:
    """Hold the document's findings against the baseline, marking each; None without one."""
    if outputs.baseline is None:
        return None
    gate = apply(outputs.baseline, document, today=datetime.now(UTC).date())
    annotate(document, gate)
    return gate


def write_baseline(cert: Certification, document: dict[str, Any], outputs: Outputs, secret: str) -> list[str]:
    """Write ``--write-baseline`` (not for an incomplete run: it would drop what was not reached)."""
    if outputs.write_baseline is None:
        return []
    if cert.run_error is not None:
        return [f"baseline not written to {outputs.write_baseline}: the run is incomplete"]
    entries = entries_to_write(document, outputs.baseline, today=datetime.now(UTC).date())
    path = baseline_file.write(outputs.write_baseline, entries)
    scrub_files([path], [secret])
    return [f"baseline written: {path} ({len(entries)} finding(s); give each a reason)"]


def exit_status(cert: Certification, gate: Gate | None) -> int:
    """0 or 1 for a complete run: with a baseline, 1 only for what it does not accept."""
    if gate is not None:
        return EXIT_NONCONFORMING if gate.blocking else EXIT_OK
    return EXIT_NONCONFORMING if cert.verdict == NONCONFORMING else EXIT_OK

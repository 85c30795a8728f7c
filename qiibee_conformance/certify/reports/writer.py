"""Write every report of a certification and make sure none of them holds the key."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from qiibee_conformance.certify.reports import html_report, json_report, junit_report
from qiibee_conformance.certify.results import Certification
from qiibee_conformance.redact import scrub_files


def write_reports(
    cert: Certification, directory: Path, *, secrets: Iterable[str], also_scan: Iterable[Path] = ()
) -> tuple[list[Path], list[Path]]:
    """Return the report files written and those the final scan had to redact (``also_scan``:
    other files of the run, such as pytest's log, that must not hold the key either)."""
    document = json_report.build(cert)
    paths = [
        json_report.write(document, directory),
        html_report.write(document, directory),
        junit_report.write(document, directory),
    ]
    fixed = scrub_files([*paths, *also_scan], secrets)
    return paths, fixed

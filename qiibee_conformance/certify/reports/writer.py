"""Write every report of a certification and make sure none of them holds the key."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from qiibee_conformance.certify.reports import html_report, json_report
from qiibee_conformance.certify.reports.scan import scrub_files
from qiibee_conformance.certify.results import Certification
from qiibee_conformance.certify.runner import JUNIT_XML, PYTEST_LOG


def write_reports(
    cert: Certification, directory: Path, *, secrets: Iterable[str]
) -> tuple[list[Path], list[Path]]:
    """Return the report files written and those the final scan had to redact."""
    document = json_report.build(cert)
    paths = [json_report.write(document, directory), html_report.write(document, directory)]
    junit = directory / JUNIT_XML
    if junit.is_file():
        paths.append(junit)
    fixed = scrub_files([*paths, directory / PYTEST_LOG], secrets)
    return paths, fixed

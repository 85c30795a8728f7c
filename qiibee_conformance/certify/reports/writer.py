"""Write every report of a certification and make sure none of them holds the key."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qiibee_conformance.certify.reports import html_report, json_report, junit_report, markdown_report
from qiibee_conformance.redact import scrub_files


def _appended(document: dict[str, Any], step_summary: Path) -> bool:
    """Add the Markdown verdict to the CI job summary; a summary that cannot be written is skipped."""
    try:
        markdown_report.append(document, step_summary)
    except OSError:
        return False
    return True


def write_reports(
    document: dict[str, Any],
    directory: Path,
    *,
    secrets: Iterable[str],
    also_scan: Iterable[Path] = (),
    markdown: Path | None = None,
    step_summary: Path | None = None,
) -> tuple[list[Path], list[Path]]:
    """Write the JSON, HTML and JUnit reports (and the Markdown ones asked for) of ``document``.

    ``markdown`` is written whole; ``step_summary`` (a CI job summary file) is appended to.
    Returns the files written and those the final scan had to redact (``also_scan``: other
    files of the run, such as pytest's log, that must not hold the key either).
    """
    paths = [
        json_report.write(document, directory),
        html_report.write(document, directory),
        junit_report.write(document, directory),
    ]
    if markdown is not None:
        paths.append(markdown_report.write(document, markdown))
    if step_summary is not None and _appended(document, step_summary):
        also_scan = [*also_scan, step_summary]
    fixed = scrub_files([*paths, *also_scan], list(secrets))
    return paths, fixed

"""The machine-readable report: verdict, settings (never the key), every requirement, coverage.

The HTML, JUnit and Markdown reports are rendered from this same document, so they always
agree; ``qiibee-conformance diff`` compares two of them. With a baseline, the session adds
its ``baseline`` section and marks each finding (``certify/baseline.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qiibee_conformance import __version__
from qiibee_conformance.certify.fingerprints import fingerprint
from qiibee_conformance.certify.results import FAIL, PASS, SKIPPED, Certification, ItemRecord

FILENAME = "certification.json"


def build(cert: Certification) -> dict[str, Any]:
    tests = [t for r in cert.requirements for t in r.tests] + cert.unmarked
    unique = {t.nodeid: t for t in tests}.values()
    return {
        "tool": "qiibee-conformance",
        "version": __version__,
        "verdict": cert.verdict,
        "strict": cert.strict,
        "run_id": cert.run_id,
        "target": cert.target,
        "embedded_mock": cert.embedded_mock,
        "started_at": cert.started_at.isoformat(),
        "finished_at": cert.finished_at.isoformat(),
        "duration_s": round(cert.duration, 3),
        "settings": cert.settings,
        "selected_groups": cert.selected_groups or "all",
        "run_error": cert.run_error,
        "collection_errors": cert.collection_errors,
        "summary": {
            "requirements": cert.status_counts(),
            "findings": sum(len(r.findings) for r in cert.requirements),
            "advisories": sum(len(r.advisories) for r in cert.requirements),
            "tests": {
                "passed": sum(1 for t in unique if t.outcome == PASS),
                "failed": sum(1 for t in unique if t.outcome == FAIL),
                "skipped": sum(1 for t in unique if t.outcome == SKIPPED),
            },
        },
        "counts": cert.counts,
        "latency_ms": cert.latency,
        "coverage": cert.coverage,
        "requirements": [r.to_dict() for r in cert.requirements],
        "unmarked_tests": [_unmarked(t) for t in cert.unmarked],
    }


def _unmarked(test: ItemRecord) -> dict[str, Any]:
    """A test with no requirement id; a failed one carries a fingerprint, as every finding does."""
    entry = {**test.to_dict(), "evidence": test.evidence}
    if test.outcome == FAIL:
        entry["fingerprint"] = fingerprint(None, None, f"{test.nodeid}: {test.message}")
    return entry


def write(document: dict[str, Any], directory: Path) -> Path:
    path = directory / FILENAME
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path

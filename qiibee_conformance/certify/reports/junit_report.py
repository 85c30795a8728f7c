"""JUnit XML for CI: one test case per requirement, rendered from the same JSON document.

CI systems show JUnit natively, so each verdict must survive the format: a failed
requirement is a ``<failure>`` (message, evidence and curl lines); an untestable one is
``<skipped>`` with its reason; an advisory passes but carries ``advisory`` properties and
the advisory text in ``<system-out>``, where every JUnit viewer shows it. A failure the
baseline accepts stays a failure (the verdict is the truth) with "accepted by the baseline"
in its message. Coverage rides along as properties: the operations each requirement sent,
and the run's coverage and latency figures on the suite.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

FILENAME = "junit.xml"


def _text_of(finding: dict[str, Any]) -> str:
    lines = [str(finding.get("message", ""))]
    for key in ("expected", "actual", "decision"):
        if finding.get(key):
            lines.append(f"{key}: {finding[key]}")
    for exchange in finding.get("evidence") or []:
        request = exchange.get("request") or {}
        response = exchange.get("response") or {}
        lines.append(f"  {request.get('method')} {request.get('url')} -> {response.get('status')}")
        if exchange.get("curl"):
            lines.append(f"    reproduce: {exchange['curl']}")
    return "\n".join(lines)


def _baseline_prefix(findings: list[dict[str, Any]]) -> str:
    statuses = {str((f.get("baseline") or {}).get("status")) for f in findings}
    return "[accepted by the baseline] " if findings and statuses == {"accepted"} else ""


def _case(requirement: dict[str, Any], operations: dict[str, list[str]]) -> ET.Element:
    case = ET.Element(
        "testcase",
        {
            "classname": f"qiibee.{requirement['group']}",
            "name": f"{requirement['id']} {requirement['title']}",
            "time": f"{requirement['duration_s']:.3f}",
        },
    )
    properties = ET.SubElement(case, "properties")
    ET.SubElement(properties, "property", {"name": "level", "value": requirement["level"]})
    ET.SubElement(properties, "property", {"name": "basis", "value": requirement["source"]})
    if operations.get(requirement["id"]):
        ET.SubElement(properties, "property", {"name": "operations", "value": ", ".join(operations[requirement["id"]])})
    for advisory in requirement.get("advisories") or []:
        ET.SubElement(properties, "property", {"name": "advisory", "value": str(advisory.get("message", ""))})
    status = requirement["status"]
    if status == "failed":
        findings = requirement.get("findings") or requirement.get("advisories") or []
        message = _baseline_prefix(findings) + requirement["message"]
        failure = ET.SubElement(case, "failure", {"message": message[:500], "type": f"{requirement['level']}-level"})
        failure.text = "\n\n".join(_text_of(f) for f in findings) or requirement["message"]
    elif status == "untestable":
        ET.SubElement(case, "skipped", {"message": f"untestable: {requirement['message']}"[:500]})
    elif status == "not-run":
        ET.SubElement(case, "skipped", {"message": requirement["message"][:500]})
    if requirement.get("advisories"):
        out = ET.SubElement(case, "system-out")
        out.text = "\n\n".join("ADVISORY " + _text_of(a) for a in requirement["advisories"])
    return case


def _suite_properties(document: dict[str, Any]) -> list[tuple[str, str]]:
    found = [(name, str(document.get(name))) for name in ("verdict", "target", "run_id")]
    summary = (document.get("coverage") or {}).get("summary") or {}
    found += [(f"coverage.{k}", str(v)) for k, v in summary.items()]
    latency = (document.get("latency_ms") or {}).get("all") or {}
    found += [(f"latency.{k}", str(v)) for k, v in latency.items()]
    gate = document.get("baseline")
    if gate:
        found += [("baseline", str(gate.get("file"))), ("baseline.blocking", str(gate.get("blocking")))]
    return found


def render(document: dict[str, Any]) -> str:
    requirements = [r for r in document.get("requirements", []) if r["message"] != "not selected (--only)"]
    counts = document.get("summary", {}).get("requirements", {})
    suite = ET.Element(
        "testsuite",
        {
            "name": "qiibee-conformance",
            "tests": str(len(requirements)),
            "failures": str(counts.get("failed", 0)),
            "errors": "0",
            "skipped": str(counts.get("untestable", 0) + sum(1 for r in requirements if r["status"] == "not-run")),
            "time": f"{document['duration_s']:.3f}",
            "timestamp": document["started_at"],
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in _suite_properties(document):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    coverage = document.get("coverage") or {}
    operations = {r["id"]: r["operations"] for r in coverage.get("requirements", [])}
    for requirement in requirements:
        suite.append(_case(requirement, operations))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write(document: dict[str, Any], directory: Path) -> Path:
    path = directory / FILENAME
    path.write_text(render(document), encoding="utf-8")
    return path

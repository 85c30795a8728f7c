"""Every requirement states its level and a basis a reader can check, and every warn-level
assertion in the checks rests on a warn-level decision of DECISIONS.md."""

from __future__ import annotations

import re

import pytest

from qiibee_conformance.findings import Level
from qiibee_conformance.requirements import REQUIREMENTS
from tests.vendor_docs import DOC_FILES, REPO, normalised, vendor_texts

DECISIONS = (REPO / "openapi" / "DECISIONS.md").read_text(encoding="utf-8")
LEVEL_OF = {f"D{m[0]}": m[1] for m in re.findall(r"^### D(\d+) · (\w+) · ", DECISIONS, flags=re.MULTILINE)}
CHECKS_DIR = REPO / "qiibee_conformance" / "checks"
ADVISE = re.compile(r"\badvise\((?:[^()]|\([^()]*\))*?decision=\"(D\d+)\"", re.DOTALL)


def test_every_requirement_has_a_level_and_a_basis() -> None:
    assert len(REQUIREMENTS) >= 70
    for requirement in REQUIREMENTS.values():
        assert requirement.citations or requirement.decisions, requirement.id
        for decision in requirement.decisions:
            assert decision in LEVEL_OF, f"{requirement.id} names {decision}, which DECISIONS.md lacks"
        for citation in requirement.citations:
            assert citation.document in DOC_FILES, f"{requirement.id}: unknown document {citation.document!r}"
        if requirement.level == Level.WARN:
            # a warn-level finding of the requirement rests on its first decision
            assert LEVEL_OF[requirement.decisions[0]] == "warn", requirement.id


def test_fail_level_requirements_rest_on_the_documents_or_a_fail_reading() -> None:
    for requirement in REQUIREMENTS.values():
        if requirement.level == Level.FAIL and not requirement.citations:
            levels = {LEVEL_OF[d] for d in requirement.decisions}
            assert levels & {"fail", "spec"}, f"{requirement.id} is fail-level on warn readings only"


def test_the_basis_never_names_a_file_a_partner_does_not_have() -> None:
    for requirement in REQUIREMENTS.values():
        assert ".txt" not in requirement.source and "behaviour" not in requirement.source, requirement.id


def test_every_advisory_in_the_checks_rests_on_a_warn_decision() -> None:
    found = 0
    for path in sorted(CHECKS_DIR.glob("*.py")):
        for decision in ADVISE.findall(path.read_text(encoding="utf-8")):
            found += 1
            assert LEVEL_OF.get(decision) == "warn", f"{path.name}: advise(..., decision={decision!r})"
    if found == 0:
        pytest.fail("no advise() call found in the checks: the pattern no longer matches them")


def test_citations_are_verbatim_in_the_vendor_documents() -> None:
    texts = {title: normalised(text) for title, text in vendor_texts().items()}
    for requirement in REQUIREMENTS.values():
        for citation in requirement.citations:
            assert normalised(citation.quote) in texts[citation.document], f"{requirement.id}: {citation}"
            assert normalised(citation.section) in texts[citation.document], f"{requirement.id}: {citation}"


def test_architecture_lists_the_catalogue() -> None:
    text = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("## Requirement ids", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([A-Z]+-\d\d) \| (fail|warn) \| (.+?) \|$", section, flags=re.MULTILINE)
    listed = {rid: (level, title) for rid, level, title in rows}
    expected = {r.id: (str(r.level), r.title.replace("|", "/")) for r in REQUIREMENTS.values()}
    assert listed == expected

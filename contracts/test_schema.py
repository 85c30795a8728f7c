"""SCH-01 / SCH-02: schemathesis over every operation of openapi/qiibee.yaml.

Positive data must get declared statuses, content types and bodies; negative data
(only what every reading of the documents calls invalid, see DECISIONS.md) must get
a 4xx and never a 5xx. Only fail-level rules are judged here: error bodies, for one,
are ERR-01's (a JSON object is a warn-level reading), so the spec declares none. The
target and key come from the plugin's ``qiibee_settings``.

Each requirement is one test: every operation's property test runs in it, all of
them side by side on worker processes (the plugin's ``qiibee_fuzzing``), so a distant
target's round trips overlap; a failure names its operation and how to reproduce it.
"""

from __future__ import annotations

import pytest

from qiibee_conformance.fuzzing.parallel import FuzzAhead
from qiibee_conformance.fuzzing.reporting import report_results


@pytest.mark.requirement("SCH-01")
def test_positive_data_conforms(qiibee_fuzzing: FuzzAhead, request: pytest.FixtureRequest) -> None:
    report_results(qiibee_fuzzing.results("positive"), request.node)


@pytest.mark.requirement("SCH-02")
def test_negative_data_rejected(qiibee_fuzzing: FuzzAhead, request: pytest.FixtureRequest) -> None:
    report_results(qiibee_fuzzing.results("negative"), request.node)

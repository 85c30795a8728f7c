"""The schemathesis contract tests pass correct servers and fail broken ones, as a user runs them.

Each test starts the reference mock and runs ``pytest contracts/test_schema.py
contracts/test_stateful.py --target URL --api-key K`` in a subprocess: the clean
mock and the mock with every tolerated alternative must pass (a false failure is
the worst bug), and faults that schemathesis itself can see must fail with its
explanation, a curl line, and never the API key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.paths import contracts_dir

pytestmark = pytest.mark.slow

# A key that would be easy to spot in any output that leaked it.
API_KEY = "qk-contract-test-3f9a1c7e5b2d"
TIMEOUT = 240
FILES = ("test_schema.py", "test_stateful.py")


def run_contracts(mock: EmbeddedMock, *, max_examples: int, select: str | None = None) -> tuple[int, str, float]:
    """Run the contract files against ``mock``; returns exit code, all output, seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "QIIBEE_"))}
    command = [
        sys.executable, "-m", "pytest", *(str(contracts_dir() / f) for f in FILES),
        "--target", mock.base_url, "--api-key", mock.api_key, "--max-examples", str(max_examples),
        "-p", "no:cacheprovider", "-q", "-rfE",
    ]  # fmt: skip
    if select:
        command += ["-k", select]
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=contracts_dir().parent, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def test_clean_mock_passes(start_mock: Callable[..., EmbeddedMock]) -> None:
    mock = start_mock(api_key=API_KEY)
    code, output, _ = run_contracts(mock, max_examples=15)
    assert code == 0, output[-6000:]
    assert "3 passed" in output, output[-3000:]
    assert API_KEY not in output


def test_every_tolerated_alternative_passes(start_mock: Callable[..., EmbeddedMock]) -> None:
    mock = start_mock(api_key=API_KEY, variants=["all-alternatives"])
    code, output, _ = run_contracts(mock, max_examples=15)
    assert code == 0, output[-6000:]
    assert "3 passed" in output, output[-3000:]


# fault -> (the test that must fail, text of schemathesis' explanation)
CAUGHT_FAULTS: dict[str, tuple[str, str]] = {
    "malformed-json-500": ("negative", "Server error"),
    "error-empty-body": ("positive", "Missing Content-Type header"),
    "membership-delete-200": ("positive", "Undocumented status code"),
    "auth-missing-key-accepted": ("positive", "API accepts requests without authentication"),
    "user-email-unvalidated": ("negative", "Schema-violating request accepted"),
}


@pytest.mark.parametrize("fault", sorted(CAUGHT_FAULTS))
def test_schemathesis_catches_fault(start_mock: Callable[..., EmbeddedMock], fault: str) -> None:
    test_name, explanation = CAUGHT_FAULTS[fault]
    mock = start_mock(api_key=API_KEY, faults=[fault])
    code, output, _ = run_contracts(mock, max_examples=10, select=test_name)
    assert code == 1, output[-6000:]
    assert explanation in output, output[-6000:]
    assert "curl -X" in output, "the failure must carry a reproduction"
    assert API_KEY not in output, "the API key leaked into the failure output"

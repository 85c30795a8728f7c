"""``schemathesis.toml``: plain schemathesis, run from the repository root, judges as ``certify`` does.

The file is held to the checks certify runs (qiibee_conformance/fuzzing/config.py), loaded
with schemathesis' own loader (in a subprocess: loading it registers the global hooks,
which must not leak into this process), and run for real: it passes against the reference
mock and fails a schema-level fault.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.fuzzing.config import (
    CHECKS,
    IGNORED_AUTH,
    NOT_A_SERVER_ERROR,
    SEED,
    STATEFUL_MAX_STEPS,
)
from tests.certify_helpers import clean_env

ROOT = Path(__file__).resolve().parents[1]
TOML = ROOT / "schemathesis.toml"
SECRET_KEY = "qk-plain-st-9a41c7e0d2b5f836"
RUN_TIMEOUT = 240


def _config() -> dict[str, Any]:
    return tomllib.loads(TOML.read_text(encoding="utf-8"))


def test_the_checks_are_those_certify_runs() -> None:
    checks = _config()["checks"]
    enabled = {name for name, value in checks.items() if isinstance(value, dict) and value.get("enabled")}
    used = set().union(*CHECKS.values()) - {IGNORED_AUTH}
    assert enabled == used
    assert checks["ignored_auth"]["enabled"] is False  # replaced by the hooks' IGNORED_AUTH
    assert checks["positive_data_acceptance"]["enabled"] is False
    assert checks["not_a_server_error"]["expected-statuses"] == list(NOT_A_SERVER_ERROR)
    assert checks["negative_data_rejection"]["expected-statuses"] == ["4XX", "5XX"]


def test_generation_and_phases_are_certifys() -> None:
    config = _config()
    assert config["seed"] == SEED
    assert config["hooks"] == "qiibee_conformance.fuzzing.hooks"
    assert config["headers"] == {"X-API-KEY": "${QIIBEE_API_KEY}"}
    assert config["generation"]["mode"] == "all" and config["generation"]["database"] == "none"
    assert config["cache"]["enabled"] is False  # nothing written into the working tree
    phases = config["phases"]
    assert phases["coverage"]["enabled"] is False and phases["stateful"]["max-steps"] == STATEFUL_MAX_STEPS


_LOAD = """
import json, schemathesis
from schemathesis.checks import CHECKS
config = schemathesis.Config.from_path("schemathesis.toml").projects.default
print(json.dumps({"headers": config.headers, "hooks": config.hooks,
                  "custom_check": "ignored_auth_unless_rate_limited" in CHECKS.get_all_names()}))
"""


def _load(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _LOAD], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_schemathesis_loads_it_with_the_key_from_the_environment() -> None:
    result = _load(clean_env(QIIBEE_API_KEY=SECRET_KEY))
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {"headers": {"X-API-KEY": SECRET_KEY}, "hooks": "qiibee_conformance.fuzzing.hooks",
                      "custom_check": True}
    missing = _load(clean_env())
    assert missing.returncode != 0 and "QIIBEE_API_KEY" in missing.stderr


def _schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("the schemathesis command is not installed next to this interpreter")
    return found


def _plain_run(mock: EmbeddedMock) -> subprocess.CompletedProcess[str]:
    """``schemathesis run openapi/qiibee.yaml --url <mock>`` from the repository root (few examples)."""
    command = [_schemathesis(), "run", "openapi/qiibee.yaml", "--url", mock.base_url, "--max-examples", "5",
               "--no-color"]
    return subprocess.run(command, cwd=ROOT, env=clean_env(QIIBEE_API_KEY=mock.api_key), capture_output=True,
                          text=True, timeout=RUN_TIMEOUT, check=False)


def _show(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout[-5000:]}\n{result.stderr[-2000:]}"


@pytest.mark.slow
def test_plain_schemathesis_passes_the_reference_mock(start_mock: Callable[..., EmbeddedMock]) -> None:
    result = _plain_run(start_mock(api_key=SECRET_KEY))
    assert result.returncode == 0, _show(result)
    # Before the file: 7 "schema-valid request rejected" (membership numbers), positive_data_acceptance's.
    assert "Schema-valid request rejected" not in result.stdout
    assert SECRET_KEY not in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "failure"),
    [
        ("malformed-json-500", "Server error"),
        # Only the hooks' ignored_auth_unless_rate_limited can say so: the built-in one is off.
        ("auth-missing-key-accepted", "API accepts requests without authentication"),
    ],
)
def test_plain_schemathesis_fails_a_schema_level_fault(
    fault: str, failure: str, start_mock: Callable[..., EmbeddedMock]
) -> None:
    result = _plain_run(start_mock(faults=[fault], api_key=SECRET_KEY))
    assert result.returncode == 1, _show(result)
    assert failure in result.stdout, _show(result)
    assert SECRET_KEY not in result.stdout + result.stderr

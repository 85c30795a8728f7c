"""The CI recipes in examples/ci/ work: valid YAML, real commands and flags, and they run against the mock.

Every ``qiibee-conformance`` command the examples run (and the one their header tells a team
to run once, to write the baseline) is parsed with the CLI's own parser, so a renamed flag
fails here; then the commands run as the CI job would, with the mock as the target from
the "secrets", a fault accepted by the baseline, and the artifacts they publish checked.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from qiibee_conformance.cli import build_parser
from qiibee_conformance.embedded import EmbeddedMock
from tests.certify_helpers import CERTIFY_TIMEOUT, clean_env, load_report

ROOT = Path(__file__).resolve().parents[1]
GITHUB = ROOT / "examples" / "ci" / "github-actions.yml"
GITLAB = ROOT / "examples" / "ci" / "gitlab-ci.yml"
EXAMPLES = (GITHUB, GITLAB)
TOOL = "qiibee-conformance"
SECRET_KEY = "qk-ci-example-61b0e9d3c7a24f58"
_SECRET = re.compile(r"^\$\{\{\s*secrets\.([A-Z_]+)\s*\}\}$")


def _load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), path
    return document


def _github_job() -> dict[str, Any]:
    jobs = _load(GITHUB)["jobs"]
    assert len(jobs) == 1
    job: dict[str, Any] = next(iter(jobs.values()))
    return job


def _gitlab_job() -> dict[str, Any]:
    job: dict[str, Any] = _load(GITLAB)["qiibee-conformance"]
    return job


def _scripts(path: Path) -> list[str]:
    """The shell scripts an example runs, in order."""
    if path == GITHUB:
        return [str(step["run"]) for step in _github_job()["steps"] if "run" in step]
    job = _gitlab_job()
    return [str(line) for key in ("before_script", "script", "after_script") for line in job.get(key, [])]


def _lines(script: str) -> list[str]:
    """Shell command lines, continuation lines joined, comments and blanks left out."""
    joined = re.sub(r"\\\n\s*", " ", script)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def _commands(path: Path) -> list[str]:
    return [line for script in _scripts(path) for line in _lines(script) if shlex.split(line)[0] == TOOL]


def _header_command(path: Path) -> str:
    """The command the example's header tells a team to run once: writing the baseline."""
    lines = [line.lstrip("# ").strip() for line in path.read_text(encoding="utf-8").splitlines()
             if line.startswith("#") and f"{TOOL} certify" in line]
    assert len(lines) == 1, lines
    return lines[0][lines[0].index(TOOL):]


def _argv(line: str) -> list[str]:
    argv = shlex.split(line)
    assert argv[0] == TOOL
    return argv[1:]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_examples_are_valid_yaml(path: Path) -> None:
    document = _load(path)
    if path == GITHUB:
        assert True in document or "on" in document  # YAML 1.1 reads the key `on` as true
        for step in _github_job()["steps"]:
            assert ("uses" in step) != ("run" in step), step
    else:
        job = _gitlab_job()
        assert job["script"] and job["artifacts"]["reports"]["junit"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_command_and_flag_exists(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commands = [*_commands(path), _header_command(path)]
    assert len(commands) >= 2
    parser = build_parser()
    for line in commands:
        try:
            args = parser.parse_args(_argv(line))
        except SystemExit:
            pytest.fail(f"{path.name}: `{line}` is not a valid command: {capsys.readouterr().err}")
        assert args.command == "certify", line


def _certify_options(path: Path) -> dict[str, str]:
    (line,) = _commands(path)
    argv = _argv(line)
    flags = ("--target", "--reports", "--baseline", "--markdown")
    return {flag: argv[argv.index(flag) + 1] for flag in flags}


def test_the_github_workflow_certifies_from_secrets_publishes_and_gates() -> None:
    job = _github_job()
    secrets = {name: _SECRET.match(str(value)) for name, value in job["env"].items()}
    assert {name: m.group(1) for name, m in secrets.items() if m} == {
        "QIIBEE_API_KEY": "QIIBEE_API_KEY", "QIIBEE_TARGET": "QIIBEE_TARGET"
    }
    options = _certify_options(GITHUB)
    assert options["--target"] == "$QIIBEE_TARGET"
    uses = {str(step["uses"]).split("@")[0]: step for step in job["steps"] if "uses" in step}
    upload, junit = uses["actions/upload-artifact"], uses["mikepenz/action-junit-report"]
    assert upload["if"] == "always()" and upload["with"]["path"].rstrip("/") == options["--reports"]
    assert junit["if"] == "always()" and junit["with"]["report_paths"] == f"{options['--reports']}/junit.xml"
    assert junit["with"]["fail_on_failure"] is False  # the baseline gate decides, not the JUnit publisher


def test_the_gitlab_job_publishes_and_gates() -> None:
    job = _gitlab_job()
    options = _certify_options(GITLAB)
    assert options["--target"] == "$QIIBEE_TARGET"
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always" and f"{options['--reports']}/" in artifacts["paths"]
    assert artifacts["reports"]["junit"] == f"{options['--reports']}/junit.xml"


def _run(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=CERTIFY_TIMEOUT, check=False)


def _environment(mock: EmbeddedMock, **extra: str) -> dict[str, str]:
    env = clean_env(QIIBEE_API_KEY=mock.api_key, QIIBEE_TARGET=mock.base_url, **extra)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run_example(path: Path, mock: EmbeddedMock, repo: Path) -> None:
    """Run the example's commands as its job would; the fault is in the baseline, so the gate passes."""
    summary = repo / f"{path.stem}-step-summary.md"
    env = _environment(mock, GITHUB_STEP_SUMMARY=str(summary)) if path == GITHUB else _environment(mock)
    for line in _commands(path):
        result = _run(line, repo, env)
        assert result.returncode == 0, f"{path.name}: {line}\n{result.stdout[-3000:]}\n{result.stderr}"
        assert SECRET_KEY not in result.stdout + result.stderr
    options = _certify_options(path)
    reports = repo / options["--reports"]
    document = load_report(reports)
    assert document["verdict"] == "NONCONFORMING" and document["baseline"]["blocking"] == 0
    for name in ("junit.xml", "certification.html", "certification.json"):
        assert (reports / name).is_file(), name
    assert "NONCONFORMING" in (repo / options["--markdown"]).read_text(encoding="utf-8")
    if path == GITHUB:
        assert "accepted by the baseline" in summary.read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_examples_commands_work_against_the_mock(tmp_path: Path) -> None:
    with EmbeddedMock(faults=["malformed-json-500"], api_key=SECRET_KEY, settle_delay=0.05) as mock:
        (tmp_path / "conformance").mkdir()
        once = _run(_header_command(GITHUB).replace("URL", '"$QIIBEE_TARGET"'), tmp_path, _environment(mock))
        assert once.returncode == 1, once.stdout[-3000:] + once.stderr  # the fault, now in the baseline
        assert (tmp_path / "conformance" / "baseline.yml").is_file()
        for path in EXAMPLES:
            _run_example(path, mock, tmp_path)
    for file in (p for p in tmp_path.rglob("*") if p.is_file()):
        assert SECRET_KEY not in file.read_text(encoding="utf-8", errors="replace"), file

"""pytest plugin: lets ``pytest contracts --target URL --api-key KEY`` run the suite.

Registered through the ``pytest11`` entry point, so it is active in every pytest
run in an environment where the package is installed; it adds options, a marker
and fixtures, imports nothing heavy at module level, and does nothing unless a
test asks for its fixtures or carries its marker.

A :class:`~qiibee_conformance.errors.RunError` anywhere in a test (target
unreachable, key rejected, nothing to exchange) is not a finding: the session
stops and exits 2 with that one line.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

from qiibee_conformance.errors import EXIT_RUN_ERROR, RunError
from qiibee_conformance.settings import NO_API_KEY, Settings, api_key_from, new_run_id

if TYPE_CHECKING:
    from qiibee_conformance.client import ApiClient
    from qiibee_conformance.fuzzing.parallel import FuzzAhead
    from qiibee_conformance.redact import Redactor

# The certify runner puts its ready-made Settings here, so that the API key never
# travels through pytest's argv.
SETTINGS_KEY = pytest.StashKey[Settings]()
RUN_ERROR_KEY = pytest.StashKey[str]()
RUN_ID_KEY = pytest.StashKey[str]()
SELECTED_GROUPS_KEY = pytest.StashKey[frozenset[str]]()
REDACTOR_KEY = pytest.StashKey["Redactor"]()
# (node id, JSON list of advisories) per test of this session, for the terminal summary.
_ADVISORIES: list[tuple[str, str]] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    """Every option is prefixed, so it cannot clash with another plugin in a user's session; the
    short names of earlier releases stay as aliases."""
    group = parser.getgroup("qiibee", "qiibee-conformance")
    group.addoption(
        "--qiibee-target",
        "--target",
        dest="qiibee_target",
        default=None,
        help="base URL of the API under test (default: the embedded mock)",
    )
    group.addoption(
        "--qiibee-api-key",
        "--api-key",
        dest="qiibee_api_key",
        default=None,
        help="API key (default: $QIIBEE_API_KEY, which keeps it out of argv)",
    )
    group.addoption(
        "--qiibee-config",
        dest="qiibee_config",
        default=None,
        help="TOML config for what cannot be discovered",
    )
    group.addoption(
        "--qiibee-max-examples",
        "--max-examples",
        dest="qiibee_max_examples",
        type=int,
        default=None,
        help="schemathesis examples per operation",
    )
    group.addoption(
        "--qiibee-settle-timeout",
        "--settle-timeout",
        dest="qiibee_settle_timeout",
        type=float,
        default=None,
        help="seconds an exchange may stay in flight",
    )
    group.addoption(
        "--qiibee-run-id",
        "--run-id",
        dest="qiibee_run_id",
        default=None,
        help="tag for everything the run creates (default: generated)",
    )
    group.addoption(
        "--qiibee-strict",
        dest="qiibee_strict",
        action="store_true",
        default=None,
        help="advisories (the project's readings where the documents are silent) fail their tests",
    )
    group.addoption(
        "--qiibee-only",
        dest="qiibee_only",
        action="append",
        default=None,
        metavar="GROUP",
        help="run only these requirement groups (repeatable or comma-separated, e.g. exchange,history)",
    )
    group.addoption(
        "--qiibee-allow-non-sandbox",
        "--allow-non-sandbox",
        dest="qiibee_allow_non_sandbox",
        action="store_true",
        default=False,
        help="allow a target that is neither loopback nor sandbox-like (the run writes data, spends points)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requirement(id): the requirement id (e.g. EXC-03) a contract test certifies"
    )
    config.stash[RUN_ID_KEY] = config.getoption("qiibee_run_id") or new_run_id()
    given_key = api_key_from(config.getoption("qiibee_api_key"))
    if given_key:
        _remember_key(config, given_key)
    only = config.getoption("qiibee_only")
    if only:
        from qiibee_conformance.certify.selection import parse_groups

        try:
            config.stash[SELECTED_GROUPS_KEY] = parse_groups(only)
        except RunError as err:
            raise pytest.UsageError(str(err)) from None


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("qiibee_target") is None and not config.getoption("qiibee_only"):
        return None
    from qiibee_conformance.redact import Redactor

    target = config.getoption("qiibee_target") or "embedded mock"
    key = api_key_from(config.getoption("qiibee_api_key"))
    return f"qiibee-conformance: target {Redactor([key]).text(target)}, run id {config.stash[RUN_ID_KEY]}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ids and groups usable with ``-k`` and apply ``--qiibee-only``."""
    from qiibee_conformance.certify.selection import group_of, requirement_ids

    selected = config.stash.get(SELECTED_GROUPS_KEY, None)
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        ids = requirement_ids(item)
        groups: set[str] = set()
        for requirement_id in ids:
            group = group_of(requirement_id)
            if group is None:
                raise pytest.UsageError(f"{item.nodeid}: unknown requirement id {requirement_id!r}")
            groups.add(group)
            item.extra_keyword_matches.update({requirement_id, group})
        if selected is None or groups & selected:
            keep.append(item)
        else:
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, object, object]:
    report = yield
    if not isinstance(report, pytest.TestReport):
        return report
    if call.excinfo is not None and call.excinfo.errisinstance(RunError):
        message = str(call.excinfo.value)
        item.config.stash.setdefault(RUN_ERROR_KEY, message)
        item.session.shouldstop = f"the run could not be made: {message}"
        report.longrepr = f"RunError: {message}"
    redactor = item.config.stash.get(REDACTOR_KEY, None)
    if redactor is not None:
        _redact_report(report, redactor)
    return report


def _redact_report(report: pytest.TestReport, redactor: Redactor) -> None:
    """Tracebacks show function arguments (request headers among them): keep the key out of
    the terminal, the JUnit XML and every other consumer of the report."""
    if report.longrepr is not None and not isinstance(report.longrepr, tuple):
        text = str(report.longrepr)
        clean = redactor.text(text)
        if clean != text:
            report.longrepr = clean
    report.sections = [(name, redactor.text(content)) for name, content in report.sections]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember each test's advisories for the terminal summary (plain ``pytest contracts``)."""
    if report.when != "teardown":
        return
    for name, value in report.user_properties:
        if name == "advisories" and isinstance(value, str):
            _ADVISORIES.append((report.nodeid, value))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _ADVISORIES:
        return
    import json

    terminalreporter.section("qiibee advisories (warn level: not failures unless --qiibee-strict)")
    for nodeid, value in _ADVISORIES:
        for advisory in json.loads(value):
            decision = f" [{advisory.get('decision')}]" if advisory.get("decision") else ""
            terminalreporter.write_line(f"{nodeid}: {advisory.get('message')}{decision}")
    _ADVISORIES.clear()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if RUN_ERROR_KEY in session.config.stash:
        session.exitstatus = EXIT_RUN_ERROR


def _remember_key(config: pytest.Config, api_key: str) -> None:
    from qiibee_conformance.redact import Redactor

    config.stash[REDACTOR_KEY] = Redactor([api_key])


def _settings_from_options(config: pytest.Config, base_url: str, api_key: str, **facts: object) -> Settings:
    from qiibee_conformance.certify.config import load_config, make_settings

    file_values = load_config(config.getoption("qiibee_config"))
    file_values.update({k: v for k, v in facts.items() if v is not None})
    return make_settings(
        base_url,
        api_key,
        file_values=file_values,
        overrides={
            "max_examples": config.getoption("qiibee_max_examples"),
            "settle_timeout": config.getoption("qiibee_settle_timeout"),
            "strict": config.getoption("qiibee_strict"),
        },
        run_id=config.stash[RUN_ID_KEY],
    )


@pytest.fixture(scope="session")
def qiibee_settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    """The run's settings; starts the embedded mock when no ``--target`` is given."""
    config = request.config
    given = config.stash.get(SETTINGS_KEY, None)
    if given is not None:
        _remember_key(config, given.api_key)
        yield given
        return
    target = config.getoption("qiibee_target")
    if target:
        from qiibee_conformance.targets import ensure_safe_target, validate_url

        base_url = validate_url(target)
        ensure_safe_target(base_url, allow_any=config.getoption("qiibee_allow_non_sandbox"))
        api_key = api_key_from(config.getoption("qiibee_api_key"))
        if not api_key:
            raise RunError(NO_API_KEY)
        _remember_key(config, api_key)
        yield _settings_from_options(config, base_url, api_key)
        return
    from qiibee_conformance.embedded import EmbeddedMock

    with EmbeddedMock() as mock:
        _remember_key(config, mock.api_key)
        yield _settings_from_options(config, mock.base_url, mock.api_key, brand_id=mock.brand_id)


@pytest.fixture(scope="session")
def qiibee_client(qiibee_settings: Settings) -> Iterator[ApiClient]:
    from qiibee_conformance.certify.stats import STATS
    from qiibee_conformance.client import ApiClient

    client = ApiClient(qiibee_settings.base, qiibee_settings.api_key, limits=qiibee_settings.limits)
    try:
        yield client
    finally:
        STATS.add_client_requests(client.request_count)
        client.close()


# The schemathesis requirements and the mode each one runs in.
_FUZZ_MODES = {"SCH-01": "positive", "SCH-02": "negative", "SCH-03": "stateful"}


@pytest.fixture(scope="session")
def qiibee_round_trip_ms(qiibee_client: ApiClient) -> float:
    """The target's round trip in ms (the faster of two whitelist reads): how many requests the
    run keeps in flight follows from it."""
    return min(qiibee_client.get("/token-exchange-whitelist").exchange.elapsed_ms for _ in range(2))


@pytest.fixture(scope="session")
def qiibee_fuzzing(
    request: pytest.FixtureRequest, qiibee_settings: Settings, qiibee_round_trip_ms: float
) -> Iterator[FuzzAhead]:
    """The selected schemathesis requirements' tests, started together on worker processes at
    the first of them; each SCH test collects its mode's results."""
    from qiibee_conformance.certify.selection import requirement_ids
    from qiibee_conformance.fuzzing import negatable_operations
    from qiibee_conformance.fuzzing.parallel import STATEFUL_LABELS, FuzzAhead, workers_for
    from qiibee_conformance.spec import iter_operations

    wanted = {_FUZZ_MODES[rid] for item in request.session.items for rid in requirement_ids(item)
              if rid in _FUZZ_MODES}  # fmt: skip
    labels = {
        "positive": [f"{method} {path}" for method, path, _ in iter_operations()],
        "negative": negatable_operations(),
        "stateful": list(STATEFUL_LABELS),
    }
    tasks = {mode: names for mode, names in labels.items() if mode in wanted}
    workers = workers_for(qiibee_round_trip_ms, sum(map(len, tasks.values())))
    fuzzing = FuzzAhead(qiibee_settings, tasks, workers=workers)  # type: ignore[arg-type]
    try:
        yield fuzzing
    finally:
        fuzzing.cancel()

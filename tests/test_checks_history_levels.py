"""HIS checks at their levels: tolerated histories pass with no advisory, warn-level breaks give
advisories, fail-level breaks fail.

Most tests run the checks against an in-process fake history (a ``GET /transactions`` over a
fixed set of rows) whose behaviour is chosen per test: how finely times are stored and shown,
which list encoding it reads, how it orders rows sharing one time, what a bad value gets.
The reference mock covers the rest (sign-up bonus rows, the literal reading, its faults).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from qiibee_conformance.checks.base import REGISTRY, Check
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.history import (
    History,
    judge_walk,
    lists_no_row,
    tied_ids,
    token_expectation,
)
from qiibee_conformance.checks.list_filters import unknown_value_verdict
from qiibee_conformance.checks.outcome import ADVISORY, FAILED, UNTESTABLE, VERIFIED, CheckOutcome, run_check
from qiibee_conformance.client import ApiClient, Response
from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.findings import Level
from qiibee_conformance.requirements import REQUIREMENTS
from qiibee_conformance.settings import Settings
from tests.catalogue_helpers import pair

USER, OTHER = "u-his", "u-other"
BRAND, PARTNER = 1, 2  # catalogue_helpers.pair(): brand token 1 -> partner token 2
BASE_S = 1_714_557_600  # 2024-05-01T10:00:00Z
NS = 1_000_000_000
TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?$")
KINDS = {"credit_points", "debit_points", "exchange", "reversal"}
FAKE_CHECKS = ("HIS-03", "HIS-04", "HIS-06", "HIS-07", "HIS-08")


def response(status: int, body: Any, url: str) -> Response:
    text = "" if body is None else json.dumps(body)
    exchange = Exchange("GET", url, {}, None, status, {}, text, 1.0)
    return Response(status=status, headers={}, text=text, exchange=exchange)


def show(ns: int, display: str) -> str:
    """A stored time (epoch ns) as the fake shows it: zone-less seconds, or Z with fractions."""
    seconds, rest = divmod(ns, NS)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    digits = {"seconds": 0, "milli": 3, "micro": 6, "nano": 9}[display]
    if not digits:
        return text
    return f"{text}.{rest // 10 ** (9 - digits):0{digits}d}Z"


def parse_ns(text: str) -> int | None:
    found = TIME_RE.match(text.strip())
    if not found:
        return None
    whole, fraction, zone = found.groups()
    moment = datetime.fromisoformat(whole + (zone or "+00:00").replace("Z", "+00:00"))
    return int(moment.timestamp()) * NS + int((fraction or "0").ljust(9, "0"))


@dataclass
class Row:
    id: int
    user: str
    kind: str
    at: int  # stored time, epoch ns
    token: int = BRAND
    token_to: int | None = None


@dataclass
class FakeHistory:
    """``GET /transactions`` over ``rows``, behaving as chosen."""

    rows: list[Row]
    display: str = "seconds"
    reads: tuple[str, ...] = ("brackets", "repeat")  # list encodings read; "comma": one value, split
    token_both: bool = False
    to_exclusive: bool = False
    to_ignored: bool = False
    from_exclusive: bool = False
    flip_ties: bool = False  # rows sharing one stored time come in another order on every request
    unknown_type: int = 200  # 200 (empty list) or a 4xx
    bad: int = 404
    sent: list[list[tuple[str, str]]] = field(default_factory=list)

    def get(self, path: str, params: Any = None) -> Response:
        pairs = [(str(k), str(v)) for k, v in (params.items() if isinstance(params, dict) else params or [])]
        self.sent.append(pairs)
        url = f"http://fake{path}?{urlencode(pairs)}"
        try:
            rows, limit, offset = self._select(dict(pairs), pairs)
        except ValueError as err:
            return response(self.bad, {"error": str(err)}, url)
        total = len(rows)
        body: dict[str, Any] = {"limit": limit, "offset": offset, "total_tx_count": total}
        body["transactions"] = [self._render(r) for r in rows[offset : offset + limit]]
        return response(200, {"data": body}, url)

    def _select(self, query: dict[str, str], pairs: list[tuple[str, str]]) -> tuple[list[Row], int, int]:
        limit, offset = self._int(query, "limit", 100), self._int(query, "offset", 0)
        rows = [r for r in self.rows if query.get("user_auth_id") in (None, r.user)]
        types = self._types(pairs)
        if types is not None:
            if self.unknown_type != 200 and any(t not in KINDS for t in types):
                raise ValueError("unknown type")
            rows = [r for r in rows if r.kind in types]
        if "token_id" in query:
            token = int(query["token_id"])
            rows = [r for r in rows if token in ((r.token, r.token_to) if self.token_both else (r.token,))]
        rows = [r for r in rows if self._in_window(r, query)]
        return self._ordered(rows), min(limit, 100), offset

    def _int(self, query: dict[str, str], name: str, default: int) -> int:
        raw = query.get(name)
        if raw is None:
            return default
        if not raw.isdigit():
            raise ValueError(f"{name} must be a non-negative integer")
        return int(raw)

    def _types(self, pairs: list[tuple[str, str]]) -> list[str] | None:
        values: list[str] = []
        for key, value in pairs:
            if key == "types[]" and "brackets" in self.reads:
                values.append(value)
            elif key == "types" and "repeat" in self.reads:
                values.extend(value.split(","))
        comma = [v for k, v in pairs if k == "types"]
        if "comma" in self.reads and comma:
            values = comma[-1].split(",")  # one value: the last of repeated keys wins
        return values or None

    def _in_window(self, row: Row, query: dict[str, str]) -> bool:
        start, end = query.get("from_time"), query.get("to_time")
        low = parse_ns(start) if start else None
        high = parse_ns(end) if end and not self.to_ignored else None
        if (start and low is None) or (end and parse_ns(end) is None):
            raise ValueError("times must be ISO 8601")
        if low is not None and (row.at < low or (self.from_exclusive and row.at == low)):
            return False
        return high is None or not (row.at > high or (self.to_exclusive and row.at == high))

    def _ordered(self, rows: list[Row]) -> list[Row]:
        flip = self.flip_ties and len(self.sent) % 2 == 0
        return sorted(rows, key=lambda r: (-r.at, r.id if flip else -r.id))

    def _render(self, row: Row) -> dict[str, Any]:
        return {
            "id": row.id,
            "loyalty_event_type": row.kind,
            "status": "success",
            "inserted_at": show(row.at, self.display),
            "token": {"id": str(row.token)},
            "token_to": None if row.token_to is None else {"id": str(row.token_to)},
            "user": {"auth_id": row.user},
        }


RUN_KINDS = ["credit_points", "exchange", "credit_points", "credit_points", "credit_points"]
RUN_KINDS += ["debit_points", "debit_points"]


def history_rows(
    *, step_ns: int = NS, offset_ns: int = 0, extra: tuple[str, ...] = (), same_time: bool = False
) -> list[Row]:
    """The run's 7 rows for USER (oldest first), another user's rows between them, and ``extra``
    rows of the target's own for USER: "bonus" (oldest), "refund", "received"."""
    kinds: list[tuple[str, str, int, int | None]] = []
    if "bonus" in extra:
        kinds.append((USER, "credit_points", BRAND, None))
    for kind in RUN_KINDS:
        kinds.append((USER, kind, BRAND, PARTNER if kind == "exchange" else None))
        kinds.append((OTHER, "credit_points", BRAND, None))
    if "refund" in extra:
        kinds.append((USER, "reversal", BRAND, None))
    if "received" in extra:
        kinds.append((USER, "credit_points", PARTNER, None))
    at = BASE_S * NS + offset_ns
    return [
        Row(n, user, kind, at if same_time else at + n * step_ns, token, to)
        for n, (user, kind, token, to) in enumerate(kinds, 1)
    ]


def prepared(target: Any) -> CheckContext:
    """A context whose history user (normally built by the run) is USER of ``target``."""
    ctx = CheckContext(
        Settings(base_url="http://fake", api_key="fake-key-0123456789", settle_timeout=1), target
    )
    listed = target.get("/transactions", params={"user_auth_id": USER, "limit": 100})
    rows = listed.data()["transactions"]
    ctx.memo("history-user", lambda: History(USER, pair("0.35", "0.1"), rows, listed))
    return ctx


def outcomes(ctx: CheckContext, ids: tuple[str, ...] = FAKE_CHECKS) -> dict[str, CheckOutcome]:
    return {rid: run_check(REGISTRY[rid], ctx) for rid in ids}


def statuses(found: dict[str, CheckOutcome]) -> dict[str, str]:
    """Each check's status; "error" when it raised something else (a bug, not a verdict)."""
    return {rid: "error" if o.error is not None else o.status for rid, o in found.items()}


def explain(found: dict[str, CheckOutcome]) -> str:
    return "\n".join(
        f"{rid}: {o.status} {[f.message for f in o.findings()]} {o.untestable or ''} {o.error!r}"
        for rid, o in found.items()
    )


# Tolerated histories: verified, no advisory ---------------------------------------------------
TOLERATED: dict[str, Callable[[], FakeHistory]] = {
    "seconds-shown-seconds-stored": lambda: FakeHistory(history_rows()),
    "seconds-shown-micro-stored": lambda: FakeHistory(history_rows(offset_ns=123_456_000)),
    "micro-shown": lambda: FakeHistory(history_rows(offset_ns=123_456_000), display="micro"),
    "milli-shown-micro-stored": lambda: FakeHistory(history_rows(offset_ns=123_456_000), display="milli"),
    "nano-shown-nano-stored": lambda: FakeHistory(history_rows(offset_ns=123_456_789), display="nano"),
    "one-second-for-all": lambda: FakeHistory(history_rows(step_ns=NS // 100)),
    "brackets-only": lambda: FakeHistory(history_rows(), reads=("brackets",)),
    "repeat-only": lambda: FakeHistory(history_rows(), reads=("repeat",)),
    "comma-only": lambda: FakeHistory(history_rows(), reads=("comma",)),
    "token-or-token-to": lambda: FakeHistory(history_rows(), token_both=True),
    "unknown-type-422": lambda: FakeHistory(history_rows(), unknown_type=422),
    "unknown-type-404": lambda: FakeHistory(history_rows(), unknown_type=404),
    "bonus-refund-received-rows": lambda: FakeHistory(history_rows(extra=("bonus", "refund", "received"))),
    # to_time exclusive cannot be told from inclusive when the stored time is finer than shown
    "to-exclusive-unseen-micro-stored": lambda: FakeHistory(history_rows(offset_ns=5_000), to_exclusive=True),
}


@pytest.mark.parametrize("name", sorted(TOLERATED))
def test_tolerated_histories_verify_with_no_advisory(name: str) -> None:
    found = outcomes(prepared(TOLERATED[name]()))
    assert set(statuses(found).values()) == {VERIFIED}, explain(found)


def test_comma_only_target_is_sent_one_comma_separated_value() -> None:
    target = FakeHistory(history_rows(), reads=("comma",))
    found = outcomes(prepared(target), ("HIS-06",))
    assert statuses(found) == {"HIS-06": VERIFIED}, explain(found)
    assert any(("types", "credit_points,debit_points") in sent for sent in target.sent)


# Warn-level breaks: advisories -----------------------------------------------------------------
def test_to_time_exclusive_on_a_time_stored_as_shown_is_an_advisory() -> None:
    found = outcomes(prepared(FakeHistory(history_rows(), to_exclusive=True)))
    assert statuses(found)["HIS-08"] == ADVISORY, explain(found)
    [advisory] = found["HIS-08"].advisories
    assert (advisory.level, advisory.decision) == (Level.WARN, "D49")
    assert all(s == VERIFIED for rid, s in statuses(found).items() if rid != "HIS-08")


def test_to_time_exclusive_shown_to_the_microsecond_is_an_advisory() -> None:
    target = FakeHistory(history_rows(offset_ns=123_456_000), display="micro", to_exclusive=True)
    found = outcomes(prepared(target), ("HIS-08",))
    assert statuses(found) == {"HIS-08": ADVISORY}, explain(found)


def test_rows_sharing_one_time_mislaid_by_paging_are_an_advisory() -> None:
    target = FakeHistory(history_rows(same_time=True), flip_ties=True)
    found = outcomes(prepared(target), ("HIS-03", "HIS-04"))
    assert statuses(found) == {"HIS-03": VERIFIED, "HIS-04": ADVISORY}, explain(found)
    assert [a.decision for a in found["HIS-04"].advisories] == ["D92"]


# Fail-level breaks -----------------------------------------------------------------------------
BROKEN: dict[str, tuple[Callable[[], FakeHistory], str]] = {
    "to-time-ignored": (lambda: FakeHistory(history_rows(), to_ignored=True), "HIS-08"),
    "from-time-exclusive": (lambda: FakeHistory(history_rows(), from_exclusive=True), "HIS-08"),
    "no-list-encoding-read": (lambda: FakeHistory(history_rows(), reads=()), "HIS-06"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_fail_level_breaks_fail(name: str) -> None:
    make, rid = BROKEN[name]
    found = outcomes(prepared(make()), (rid,))
    assert statuses(found) == {rid: FAILED}, explain(found)


# Helpers ----------------------------------------------------------------------------------------
def _walk(seen: list[str], rows: list[dict[str, Any]]) -> CheckOutcome:
    return run_check(
        Check(REQUIREMENTS["HIS-09"], lambda ctx: judge_walk(seen, rows, "walking", [])),
        None,  # type: ignore[arg-type]
    )


def test_judge_walk_levels() -> None:
    rows = [
        {"id": 1, "inserted_at": "2024-05-01T10:00:02"},
        {"id": 2, "inserted_at": "2024-05-01T10:00:01"},
        {"id": 3, "inserted_at": "2024-05-01T10:00:01"},
        {"id": 4, "inserted_at": "2024-05-01T10:00:00"},
    ]
    assert tied_ids(rows) == {"2", "3"}
    assert _walk(["1", "2", "3", "4"], rows).status == VERIFIED
    assert _walk(["1", "3", "3", "4"], rows).status == ADVISORY  # 2 and 3 tie: their order is free
    assert _walk(["1", "2", "3", "3"], rows).status == FAILED  # 4 has a time of its own
    assert _walk(["1", "2", "3", "4", "9"], rows).status == FAILED  # a row the single page never lists


def test_token_expectation() -> None:
    rows: list[dict[str, Any]] = [
        {"id": 1, "token": {"id": "1"}},
        {"id": 2, "token": {"id": 1}, "token_to": {"id": 2}},
        {"id": 3, "token": {"id": 2}},
        {"id": 4},
    ]
    assert token_expectation(rows, 1) == ({"1", "2"}, {"4"})
    assert token_expectation(rows, 2) == ({"3"}, {"2", "4"})


@pytest.mark.parametrize(
    ("answers", "verdict"),
    [
        ([200], None),
        ([400], None),
        ([404], None),
        ([422], None),
        ([500], "nonconformity"),
        ([201], "nonconformity"),
        ([(200, [1])], "nonconformity"),
        ([(200, [1]), 422], None),
        ([(200, [1]), (200, [1])], "untestable"),
    ],
)
def test_unknown_type_verdict_accepts_any_4xx(answers: list[Any], verdict: str | None) -> None:
    def answer(spec: Any) -> Response:
        status, rows = spec if isinstance(spec, tuple) else (spec, [])
        body = {"data": {"transactions": rows}} if status < 300 else {"error": "unknown type"}
        return response(status, body, "http://fake/transactions")

    answered = [(f"e{i}", answer(a)) for i, a in enumerate(answers)]
    assert unknown_value_verdict(answered, lists_no_row) == verdict


# Against the reference mock ---------------------------------------------------------------------
@pytest.fixture
def mock_context(start_mock: Callable[..., EmbeddedMock]) -> Iterator[Callable[..., CheckContext]]:
    def make(**kwargs: Any) -> CheckContext:
        mock = start_mock(**kwargs)
        settings = Settings(base_url=mock.base_url, api_key=mock.api_key, settle_timeout=10)
        ctx = CheckContext(settings, ApiClient(mock.base_url, mock.api_key))
        assert ctx.establish(["history"]) is None
        return ctx

    yield make


@pytest.mark.parametrize("variant", ["busy-service", "literal-reading"])
def test_mock_variants_verify(variant: str, mock_context: Callable[..., CheckContext]) -> None:
    """A sign-up bonus row in every new user's history (busy-service); 404 for bad paging data and
    an empty page for limit=0 (literal-reading)."""
    ids = ("HIS-02", "HIS-05", "HIS-09") if variant == "literal-reading" else ("HIS-03", "HIS-05", "HIS-09")
    found = outcomes(mock_context(variants=[variant]), ids)
    assert set(statuses(found).values()) == {VERIFIED}, explain(found)


@pytest.mark.parametrize(
    ("faults", "variants", "rid", "status"),
    [
        (["history-to-time-exclusive"], [], "HIS-08", ADVISORY),
        (["history-to-time-exclusive"], ["zoned-times"], "HIS-08", ADVISORY),
        ([], ["zoned-times"], "HIS-08", VERIFIED),
        (["history-filtered-short-pages"], [], "HIS-09", FAILED),
        (["history-empty-user-404"], [], "HIS-05", FAILED),
    ],
)
def test_mock_faults_at_their_levels(
    faults: list[str], variants: list[str], rid: str, status: str, mock_context: Callable[..., CheckContext]
) -> None:
    found = outcomes(mock_context(faults=faults, variants=variants), (rid,))
    assert statuses(found) == {rid: status}, explain(found)
    assert UNTESTABLE not in statuses(found).values()

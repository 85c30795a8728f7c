"""Benchmark the reference mock ("Foundation" issue) on one server process.

Three figures, measured side by side in one run against one mock process that
holds a seeded history of 100,000 transactions:

1. ``GET /transactions?limit=100`` requests/s, ours vs Stoplight Prism serving a
   static 100-row example copied from our own history (same ``wrk`` settings);
   target: ours ≥ 3× Prism.
2. latency median of the page at offset 99,900 vs offset 0 (interleaved
   requests on one keep-alive connection); target: ≤ 1.5×.
3. exchange acceptance (``POST /transactions`` type exchange, fired by ``wrk``)
   in 202s per second, then every accepted exchange is looked up in the history
   (exactly once) and every balance reconciled; target: ≥ 500/s, none lost.

Figures, not tests: a missed target is reported (exit 0 unless
``--fail-on-miss``); a lost or duplicated transaction is a correctness failure
(exit 1); missing tools or a mock that does not start is exit 2. Nothing is
installed here: ``bench/run_all.sh`` installs wrk and Prism when asked to.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from _report import machine, table, verdict

from qiibee_conformance.client import ApiClient
from qiibee_conformance.discovery import Catalogue, Pair, create_user, credit, discover
from qiibee_conformance.embedded import EmbeddedMock, free_port
from qiibee_conformance.errors import RunError
from qiibee_conformance.loadtest.reconciliation import reconcile_users
from qiibee_conformance.reconcile import fetch_history, points_burned, row_id, row_type
from qiibee_conformance.settings import Settings
from qiibee_conformance.transport import Limits

BENCH_DIR = Path(__file__).resolve().parent
PRISM_DIR = BENCH_DIR / "prism"
PRISM_BIN = PRISM_DIR / "node_modules" / ".bin" / "prism"
HISTORY = 100_000
DEEP_OFFSET = 99_900
PAGE_PATH = "/transactions?limit=100"
EXCHANGE_AMOUNT = 2
FUNDING = 10_000_000
RESULT_TAG = "QC_RESULT "

TARGET_RPS_RATIO = Fraction(3)
TARGET_OFFSET_RATIO = Fraction(3, 2)
TARGET_EXCHANGE_RPS = 500

INSTALL_HINT = """\
bench_mock.py needs tools it does not install by itself:
  wrk    (load generator):  apt-get update && apt-get install -y wrk
  node   (runs Prism):      Node >= 18.20 with npm (e.g. apt-get install -y nodejs npm)
  prism  (baseline mock):   npm ci --prefix bench/prism   (pinned in bench/prism/package.json;
                            Prism 5.14.x runs on Node >= 18.20; newer Prism needs Node 24)
or run `bash bench/run_all.sh --install`, which installs whatever of these is missing."""

# Loaded by wrk for the GET runs (ours and Prism's): the key comes from the
# environment so it never appears on a command line; done() prints one JSON line.
GET_LUA = r"""
wrk.headers["X-API-KEY"] = os.getenv("QC_BENCH_KEY")
wrk.headers["Accept"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'QC_RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"bytes":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    summary.bytes, latency:percentile(50), latency:percentile(99)))
end
"""

# Loaded by wrk for the exchange run: round-robin over the funded users, counts
# responses per status class in each thread and sums them in done().
EXCHANGE_LUA = r"""
local key = os.getenv("QC_BENCH_KEY")
local from_id = os.getenv("QC_FROM_TOKEN")
local to_id = os.getenv("QC_TO_TOKEN")
local amount = os.getenv("QC_AMOUNT")
local users = {}
for line in io.lines(os.getenv("QC_USERS_FILE")) do
  if #line > 0 then users[#users + 1] = line end
end
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  counter = tid * 7919
  n202, n4xx, n5xx, nother = 0, 0, 0, 0
  accepted = io.open(os.getenv("QC_BODIES_DIR") .. "/accepted-" .. tid .. ".jsonl", "w")
  accepted:setvbuf("line")
end
function request()
  counter = counter + 1
  local user = users[(counter % #users) + 1]
  local body = '{"transaction":{"type":"exchange","user_auth_id":"' .. user ..
    '","brandA_token_id":' .. from_id .. ',"brandB_token_id":' .. to_id .. ',"amount":' .. amount .. '}}'
  return wrk.format("POST", "/transactions",
    {["Content-Type"] = "application/json", ["X-API-KEY"] = key, ["Accept"] = "application/json"}, body)
end
function response(status, headers, body)
  if status == 202 then
    n202 = n202 + 1
    accepted:write((body:gsub("\n", " ")), "\n")
  elseif status >= 500 then n5xx = n5xx + 1
  elseif status >= 400 then n4xx = n4xx + 1
  else nother = nother + 1 end
end
function done(summary, latency, requests)
  local a, b, c, d = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("n202"); b = b + t:get("n4xx"); c = c + t:get("n5xx"); d = d + t:get("nother")
  end
  local e = summary.errors
  io.write(string.format(
    'QC_RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,"n202":%d,"n4xx":%d,"n5xx":%d,"nother":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    summary.bytes, latency:percentile(50), latency:percentile(99), a, b, c, d))
end
"""


# ---- small helpers ----------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("inf")


def log(message: str) -> None:
    print(f"[bench_mock] {message}", flush=True)


def preflight() -> tuple[str, Path]:
    """Both tools present, or the install instructions and exit 2."""
    wrk = shutil.which("wrk")
    missing = []
    if wrk is None:
        missing.append("wrk not found on PATH")
    if not PRISM_BIN.exists():
        missing.append(f"prism not found at {PRISM_BIN.relative_to(BENCH_DIR.parent)}")
    if shutil.which("node") is None:
        missing.append("node not found on PATH")
    if missing or wrk is None:
        print("bench_mock.py: cannot run: " + "; ".join(missing), file=sys.stderr)
        print(INSTALL_HINT, file=sys.stderr)
        raise SystemExit(2)
    return wrk, PRISM_BIN


# ---- wrk --------------------------------------------------------------------------------


@dataclass
class WrkResult:
    """One wrk run, as reported by the Lua done() hook."""

    requests: int
    duration_us: int
    connect: int
    read: int
    write: int
    status: int
    timeout: int
    bytes: int
    p50_us: int
    p99_us: int
    n202: int = 0
    n4xx: int = 0
    n5xx: int = 0
    nother: int = 0

    @property
    def rps(self) -> float:
        return self.requests / (self.duration_us / 1e6) if self.duration_us else 0.0

    @property
    def socket_errors(self) -> int:
        return self.connect + self.read + self.write + self.timeout


@dataclass(frozen=True)
class WrkSettings:
    binary: str
    threads: int
    connections: int
    timeout_s: int = 10


def run_wrk(wrk: WrkSettings, url: str, script: Path, duration_s: float, env: dict[str, str]) -> WrkResult:
    """Run wrk once; the API key travels in ``env`` (QC_BENCH_KEY), never in argv."""
    cmd = [
        wrk.binary,
        f"-t{wrk.threads}",
        f"-c{wrk.connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={wrk.timeout_s}s",
        "-s",
        str(script),
        url,
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, **env}, timeout=duration_s + 60, check=False
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return WrkResult(**json.loads(line[len(RESULT_TAG) :]))
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    raise RunError(f"wrk gave no result (exit {proc.returncode}): {' | '.join(tail)}")


# ---- Prism ------------------------------------------------------------------------------


def prism_spec(rows: list[dict[str, Any]], total: int) -> dict[str, Any]:
    """A tiny OpenAPI doc whose only operation returns our own 100 rows as a static example."""
    page = {"data": {"limit": len(rows), "offset": 0, "total_tx_count": total, "transactions": rows}}
    int_param = {"type": "integer"}
    unauthorized = {"error": "Missing x-api-key header"}
    return {
        "openapi": "3.0.3",
        "info": {"title": "qiibee history page (Prism baseline for bench_mock.py)", "version": "1"},
        "security": [{"ApiKeyAuth": []}],
        "components": {
            "securitySchemes": {"ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-KEY"}}
        },
        "paths": {
            "/transactions": {
                "get": {
                    "operationId": "listTransactions",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {**int_param, "minimum": 1}},
                        {"name": "offset", "in": "query", "schema": {**int_param, "minimum": 0}},
                    ],
                    "responses": {
                        "200": {
                            "description": "one page of history",
                            "content": {"application/json": {"schema": {"type": "object"}, "example": page}},
                        },
                        "401": {
                            "description": "missing key",
                            "content": {"application/json": {"example": unauthorized}},
                        },
                    },
                }
            }
        },
    }


def http_get(base_url: str, path: str, api_key: str, timeout: float = 5.0) -> tuple[int, bytes]:
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path, headers={"X-API-KEY": api_key, "Accept": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@contextmanager
def prism_server(binary: Path, spec: Path, api_key: str, workdir: Path) -> Iterator[str]:
    """Start Prism (static mode, one process, per-request logging off) and stop its process group."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = workdir / "prism.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [str(binary), "mock", str(spec), "-h", "127.0.0.1", "-p", str(port), "-v", "error"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=PRISM_DIR,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
                raise RunError(f"prism exited with {proc.returncode}: {' | '.join(tail)}")
            try:
                if http_get(base_url, PAGE_PATH, api_key)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RunError("prism did not answer within 60 s")
            time.sleep(0.2)
        yield base_url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


# ---- 1. throughput vs Prism ---------------------------------------------------------------


@dataclass
class ThroughputResult:
    ours: list[WrkResult] = field(default_factory=list)
    prism: list[WrkResult] = field(default_factory=list)
    ours_bytes: int = 0
    prism_bytes: int = 0

    @property
    def ours_rps(self) -> float:
        return median([r.rps for r in self.ours])

    @property
    def prism_rps(self) -> float:
        return median([r.rps for r in self.prism])

    @property
    def ratio_of_medians(self) -> float:
        return ratio(self.ours_rps, self.prism_rps)

    @property
    def ratio_paired(self) -> float:
        """Median of the per-run ratios (each pair ran back to back, under the same load)."""
        return median([ratio(o.rps, p.rps) for o, p in zip(self.ours, self.prism, strict=True)])

    @property
    def ratio(self) -> float:
        """The more conservative reading decides."""
        return min(self.ratio_of_medians, self.ratio_paired)

    @property
    def errors(self) -> int:
        return sum(r.status + r.socket_errors for r in (*self.ours, *self.prism))


def bench_throughput(
    wrk: WrkSettings, mock_url: str, prism_url: str, api_key: str, script: Path, runs: int, duration: float
) -> ThroughputResult:
    """Alternate ours and Prism, each run after a short warm-up, same wrk settings."""
    result = ThroughputResult()
    result.ours_bytes = len(http_get(mock_url, PAGE_PATH, api_key)[1])
    result.prism_bytes = len(http_get(prism_url, PAGE_PATH, api_key)[1])
    env = {"QC_BENCH_KEY": api_key}
    for name, url in (("ours", mock_url), ("prism", prism_url)):
        log(f"warm-up {name}")
        run_wrk(wrk, url + PAGE_PATH, script, 2, env)
    for i in range(runs):
        order = [("ours", mock_url), ("prism", prism_url)]
        if i % 2:
            order.reverse()
        for name, url in order:
            res = run_wrk(wrk, url + PAGE_PATH, script, duration, env)
            (result.ours if name == "ours" else result.prism).append(res)
            log(
                f"run {i + 1}/{runs} {name:5}: {res.rps:8.1f} req/s  p50 {res.p50_us / 1000:.1f} ms"
                f"  non-2xx {res.status}  socket errors {res.socket_errors}"
            )
    return result


# ---- 2. deep page vs first page ------------------------------------------------------------


@dataclass
class OffsetResult:
    shallow_ms: list[float] = field(default_factory=list)  # per-round medians, offset 0
    deep_ms: list[float] = field(default_factory=list)  # per-round medians, deep offset
    deep_offset: int = DEEP_OFFSET
    bad_status: int = 0

    @property
    def ratio(self) -> float:
        """Ratio of the medians or median of the per-round ratios, whichever is worse."""
        of_medians = ratio(median(self.deep_ms), median(self.shallow_ms))
        paired = median([ratio(d, s) for d, s in zip(self.deep_ms, self.shallow_ms, strict=True)])
        return max(of_medians, paired)


def bench_offsets(mock_url: str, api_key: str, runs: int, per_round: int, deep_offset: int) -> OffsetResult:
    """Interleave the two pages on one keep-alive connection; median latency per round."""
    host, port = mock_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"X-API-KEY": api_key, "Accept": "application/json"}
    paths = (f"{PAGE_PATH}&offset=0", f"{PAGE_PATH}&offset={deep_offset}")
    result = OffsetResult(deep_offset=deep_offset)
    try:
        for round_no in range(runs + 1):  # round 0 is a warm-up
            samples: dict[str, list[float]] = {p: [] for p in paths}
            count = 20 if round_no == 0 else per_round
            for i in range(count):
                for path in paths if i % 2 == 0 else paths[::-1]:
                    started = time.perf_counter()
                    conn.request("GET", path, headers=headers)
                    resp = conn.getresponse()
                    body = resp.read()
                    samples[path].append((time.perf_counter() - started) * 1000)
                    if resp.status != 200 or len(json.loads(body)["data"]["transactions"]) != 100:
                        result.bad_status += 1
            if round_no:
                result.shallow_ms.append(median(samples[paths[0]]))
                result.deep_ms.append(median(samples[paths[1]]))
                log(
                    f"round {round_no}/{runs}: offset 0 {result.shallow_ms[-1]:.2f} ms,"
                    f" offset {deep_offset} {result.deep_ms[-1]:.2f} ms"
                )
    finally:
        conn.close()
    return result


# ---- 3. exchange acceptance -------------------------------------------------------------------


@dataclass
class ExchangeResult:
    wrk: WrkResult | None = None
    pair: str = ""
    users: int = 0
    in_flight_allowance: int = 0  # requests wrk had sent but not counted when it stopped
    accepted_ids: int = 0  # distinct transaction ids in the 202 bodies
    accepted_without_id: int = 0
    history_rows: int = 0  # exchange rows of the bench users in the history
    lost: int = 0  # accepted ids missing from the history
    duplicate_ids: int = 0  # history rows beyond the first for one id
    unexplained_extra: int = 0  # history rows never acknowledged, beyond the in-flight allowance
    wrong_amount: int = 0
    reconcile_problems: list[str] = field(default_factory=list)

    @property
    def accepted_rps(self) -> float:
        if self.wrk is None or not self.wrk.duration_us:
            return 0.0
        return self.wrk.n202 / (self.wrk.duration_us / 1e6)

    @property
    def correct(self) -> bool:
        return (
            # every user is funded far beyond what the run can burn: any 4xx is a mock bug
            self.wrk is not None
            and self.wrk.n202 > 0
            and self.wrk.n4xx == 0
            and self.wrk.n5xx == 0
            and self.lost == 0
            and self.duplicate_ids == 0
            and self.unexplained_extra == 0
            and self.accepted_without_id == 0
            and self.wrong_amount == 0
            and not self.reconcile_problems
        )


def choose_pair(catalogue: Catalogue) -> Pair:
    """A brand pair to a points token (no membership needed, settles normally)."""
    for pair in catalogue.exchangeable_pairs():
        if pair.to_token.type == "erc20":
            return pair
    raise RunError("the mock's whitelist has no brand pair to an erc20 token to exchange along")


def fund_users(client: ApiClient, count: int, token_id: int, run_tag: str) -> list[str]:
    users = []
    for i in range(count):
        auth_id = create_user(client, f"bench-{run_tag}-{i}@example.com")
        response = credit(client, auth_id, token_id, FUNDING)
        if response.status != 202:
            raise RunError(f"credit_points for a bench user gave HTTP {response.status}")
        users.append(auth_id)
    return users


def accepted_ids(bodies_dir: Path) -> tuple[list[str], int]:
    """Transaction ids from the 202 bodies wrk saved; plus how many bodies carried none."""
    ids: list[str] = []
    without = 0
    for path in sorted(bodies_dir.glob("accepted-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                data = json.loads(line).get("data") if line.strip() else None
            except ValueError:
                data = None
            tx_id = data.get("id") if isinstance(data, dict) else None
            if tx_id is None:
                without += 1
            else:
                ids.append(str(tx_id))
    return ids, without


def check_history(client: ApiClient, auth_ids: list[str], result: ExchangeResult, acked: list[str]) -> None:
    """Each acknowledged id once in the history; nothing there that no 202 or in-flight request explains."""
    seen: Counter[str] = Counter()
    for auth_id in auth_ids:
        rows, _ = fetch_history(client, {"user_auth_id": auth_id})
        for row in rows:
            if row_type(row) != "exchange":
                continue
            result.history_rows += 1
            seen[str(row_id(row))] += 1
            if points_burned(row) != EXCHANGE_AMOUNT:
                result.wrong_amount += 1
    acked_set = set(acked)
    result.accepted_ids = len(acked_set)
    result.duplicate_ids = sum(n - 1 for n in seen.values() if n > 1) + (len(acked) - len(acked_set))
    result.lost = len(acked_set - set(seen))
    result.unexplained_extra = max(0, len(set(seen) - acked_set) - result.in_flight_allowance)


def bench_exchanges(
    wrk: WrkSettings, client: ApiClient, settings: Settings, workdir: Path, *, users: int, duration: float
) -> ExchangeResult:
    """Fire exchanges with wrk, then find every 202 in the history once and reconcile balances."""
    catalogue = discover(client, settings)
    pair = choose_pair(catalogue)
    result = ExchangeResult(pair=f"{pair.from_token.id}->{pair.to_token.id}")
    auth_ids = fund_users(client, users, pair.from_token.id, settings.run_id)
    result.users = len(auth_ids)
    users_file = workdir / "users.txt"
    users_file.write_text("\n".join(auth_ids) + "\n", encoding="utf-8")
    bodies_dir = workdir / "accepted"
    bodies_dir.mkdir()
    script = workdir / "exchange.lua"
    script.write_text(EXCHANGE_LUA, encoding="utf-8")
    env = {
        "QC_BENCH_KEY": settings.api_key,
        "QC_FROM_TOKEN": str(pair.from_token.id),
        "QC_TO_TOKEN": str(pair.to_token.id),
        "QC_AMOUNT": str(EXCHANGE_AMOUNT),
        "QC_USERS_FILE": str(users_file),
        "QC_BODIES_DIR": str(bodies_dir),
    }
    log(f"firing exchanges {result.pair} for {duration:g} s over {users} funded users")
    result.wrk = w = run_wrk(wrk, settings.base + "/transactions", script, duration, env)
    # wrk stops with up to one request per connection sent but not counted; the server may
    # have accepted those, so they may appear in the history without a 202 we saw.
    result.in_flight_allowance = wrk.connections + w.timeout + w.read + w.write
    log(
        f"{w.n202} accepted ({result.accepted_rps:.1f}/s), 4xx {w.n4xx}, 5xx {w.n5xx},"
        f" socket errors {w.socket_errors}; reconciling"
    )
    acked, result.accepted_without_id = accepted_ids(bodies_dir)
    report = reconcile_users(client, auth_ids, pair.from_token.id, settle_timeout=settings.settle_timeout)
    result.reconcile_problems = [f"{d.auth_id}: {d.message}" for d in report.discrepancies]
    check_history(client, auth_ids, result, acked)
    return result


# ---- report ------------------------------------------------------------------------------------


def summarize(
    thr: ThroughputResult, off: OffsetResult, exc: ExchangeResult, wrk: WrkSettings, args: argparse.Namespace
) -> tuple[str, dict[str, Any], bool, bool]:
    """The table, a JSON-able dict, whether every target was met, whether everything was correct."""
    rps_ok = thr.ratio >= float(TARGET_RPS_RATIO)
    off_ok = off.ratio <= float(TARGET_OFFSET_RATIO)
    exc_ok = exc.accepted_rps >= TARGET_EXCHANGE_RPS
    w = exc.wrk
    rows = [
        ("GET /transactions?limit=100, ours", f"{thr.ours_rps:.0f} req/s", "", ""),
        ("GET /transactions?limit=100, Prism", f"{thr.prism_rps:.0f} req/s", "", ""),
        ("  response body, ours / Prism", f"{thr.ours_bytes} / {thr.prism_bytes} bytes", "", ""),
        (
            "  ratio ours / Prism",
            f"{thr.ratio_of_medians:.2f}x of medians, {thr.ratio_paired:.2f}x paired",
            f">= {TARGET_RPS_RATIO}x",
            verdict(rps_ok),
        ),
        ("page at offset 0, median latency", f"{median(off.shallow_ms):.2f} ms", "", ""),
        (f"page at offset {off.deep_offset}, median latency", f"{median(off.deep_ms):.2f} ms", "", ""),
        ("  ratio deep / first", f"{off.ratio:.2f}x", f"<= {float(TARGET_OFFSET_RATIO)}x", verdict(off_ok)),
        (
            "exchanges accepted (202) per second",
            f"{exc.accepted_rps:.0f}/s",
            f">= {TARGET_EXCHANGE_RPS}/s",
            verdict(exc_ok),
        ),
        (
            "  202s / found in history / lost / dup",
            f"{w.n202 if w else 0} / {exc.accepted_ids - exc.lost} / {exc.lost} / {exc.duplicate_ids}",
            "0 lost, 0 dup",
            "ok" if exc.correct else "FAILED",
        ),
    ]
    correct = exc.correct and thr.errors == 0 and off.bad_status == 0
    data = {
        "machine": machine(),
        "settings": {
            "history": args.history,
            "runs": args.runs,
            "duration_s": args.duration,
            "wrk_threads": wrk.threads,
            "wrk_connections": wrk.connections,
            "latency_requests_per_round": args.latency_requests,
            "exchange_duration_s": args.exchange_duration,
            "exchange_users": args.exchange_users,
        },
        "throughput": {
            "ours_rps": [r.rps for r in thr.ours],
            "prism_rps": [r.rps for r in thr.prism],
            "ours_median": thr.ours_rps,
            "prism_median": thr.prism_rps,
            "ratio_of_medians": thr.ratio_of_medians,
            "ratio_paired_median": thr.ratio_paired,
            "ratio": thr.ratio,
            "ours_body_bytes": thr.ours_bytes,
            "prism_body_bytes": thr.prism_bytes,
            "errors": thr.errors,
            "target_met": rps_ok,
        },
        "offset": {
            "offset0_ms": off.shallow_ms,
            "offset_deep_ms": off.deep_ms,
            "deep_offset": off.deep_offset,
            "ratio": off.ratio,
            "bad_responses": off.bad_status,
            "target_met": off_ok,
        },
        "exchange": {
            "pair": exc.pair,
            "users": exc.users,
            "accepted_rps": exc.accepted_rps,
            "wrk": asdict(w) if w else None,
            "accepted_ids": exc.accepted_ids,
            "history_rows": exc.history_rows,
            "lost": exc.lost,
            "in_flight_allowance": exc.in_flight_allowance,
            "unexplained_extra": exc.unexplained_extra,
            "duplicate_ids": exc.duplicate_ids,
            "wrong_amount": exc.wrong_amount,
            "reconcile_problems": exc.reconcile_problems[:20],
            "target_met": exc_ok,
            "correct": exc.correct,
        },
    }
    return table(rows), data, rps_ok and off_ok and exc_ok, correct


# ---- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--history", type=int, default=HISTORY, help="seeded history rows (default 100000)")
    p.add_argument("--runs", type=int, default=3, help="repetitions of each measurement (default 3)")
    p.add_argument("--duration", type=float, default=10, help="seconds per wrk throughput run (default 10)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: 2 cores, server has one)")
    p.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    p.add_argument(
        "--latency-requests",
        type=int,
        default=150,
        help="requests per offset per latency round (default 150)",
    )
    p.add_argument("--exchange-duration", type=float, default=10, help="seconds of exchanges (default 10)")
    p.add_argument("--exchange-users", type=int, default=100, help="funded users (default 100)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    p.add_argument("--fail-on-miss", action="store_true", help="exit 1 when a target is missed")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk_bin, prism_bin = preflight()
    wrk = WrkSettings(wrk_bin, args.threads, args.connections)
    info = machine()
    log(
        f"machine: {info['nproc']} cpu(s), {info['cpu']}; python {info['python']};"
        f" load average {info['loadavg']} (other work on the machine skews every figure)"
    )
    started = time.monotonic()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="qc-bench-") as tmp,
            EmbeddedMock(seed_history=args.history, start_deadline=300) as mock,
        ):
            workdir = Path(tmp)
            log(f"mock with {args.history} seeded rows up in {time.monotonic() - started:.1f} s")
            settings = Settings(base_url=mock.base_url, api_key=mock.api_key)
            client = ApiClient(mock.base_url, mock.api_key, limits=Limits(read_timeout=30))
            first = client.get("/transactions", params={"limit": 100})
            data = first.data()
            total = data.get("total_tx_count", 0) if isinstance(data, dict) else 0
            if first.status != 200 or not isinstance(data, dict) or total < max(args.history, 200):
                raise RunError(f"the seeded mock does not list {args.history} transactions")
            spec = workdir / "prism-history.json"
            spec.write_text(json.dumps(prism_spec(data["transactions"], data["total_tx_count"])))
            get_lua = workdir / "get.lua"
            get_lua.write_text(GET_LUA, encoding="utf-8")
            deep = min(DEEP_OFFSET, total - 100)
            log(f"offset latency: page at offset 0 vs page at offset {deep}")
            off = bench_offsets(mock.base_url, mock.api_key, args.runs, args.latency_requests, deep)
            with prism_server(prism_bin, spec, mock.api_key, workdir) as prism_url:
                log(
                    f"throughput: wrk -t{wrk.threads} -c{wrk.connections} -d{args.duration:g}s, ours vs Prism"
                )
                thr = bench_throughput(
                    wrk, mock.base_url, prism_url, mock.api_key, get_lua, args.runs, args.duration
                )
            exc = bench_exchanges(
                wrk, client, settings, workdir, users=args.exchange_users, duration=args.exchange_duration
            )
    except (RunError, subprocess.TimeoutExpired) as err:
        print(f"bench_mock.py: error: {err}", file=sys.stderr)
        return 2
    text, figures, all_met, correct = summarize(thr, off, exc, wrk, args)
    figures["wall_s"] = round(time.monotonic() - started, 1)
    print()
    print(
        f"mock benchmark ({info['nproc']} cpu, {info['cpu']}; wrk -t{wrk.threads} -c{wrk.connections};"
        f" medians of {args.runs} runs)"
    )
    print(text)
    if exc.reconcile_problems:
        print("reconcile problems (first 5):", *exc.reconcile_problems[:5], sep="\n  ")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if not correct:
        print("bench_mock.py: CORRECTNESS FAILURE (lost/duplicated transactions or error responses)")
        return 1
    return 1 if args.fail_on_miss and not all_met else 0


if __name__ == "__main__":
    raise SystemExit(main())

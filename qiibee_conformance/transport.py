"""How every request of the suite reaches the target: origin-bound, bounded, patient with rate limits.

The rules hold on every HTTP path that carries the key (the checks' client, discovery,
the preflight probe, schemathesis' generated and stateful calls, reconciliation reads):

- **The key stays with the target's origin.** ``requests`` keeps custom headers such as
  ``X-API-KEY`` across a redirect to another host (it strips only ``Authorization``), so a
  redirect is followed only to the same scheme, host and port; any other redirect is
  handed back as the response, for the caller to report.
- **Rate limiting is waited out.** A 429, or a 503 with ``Retry-After``, is tolerated
  anywhere (DECISIONS D18): the request is sent again after the advertised delay, within a
  budget per request. Past the budget the run could not be made (:class:`RateLimitedError`).
- **Bounded.** Connect and read timeouts on every request, a deadline for the whole body,
  and a cap on its size: a hanging or streaming endpoint costs bounded time and memory.
  An endpoint that has let two requests time out is not asked again in the run (the same
  error is raised at once), and nothing is sent once the run is stopped
  (:mod:`qiibee_conformance.run_control`: Ctrl-C, or ``--max-time``).

The proxy and CA settings of the environment are read once per process, not on every
request as ``requests`` does: the suite sends requests from several threads while pytest
rewrites ``os.environ`` (``PYTEST_CURRENT_TEST``), and reading it then can fail.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests

from qiibee_conformance import run_control
from qiibee_conformance.errors import RunError

if TYPE_CHECKING:
    from requests.sessions import _Settings

_DEFAULT_PORTS = {"http": 80, "https": 443}
_CHUNK = 64 * 1024
# Set on a response whose body was cut off at Limits.max_body_bytes.
TRUNCATED_ATTRIBUTE = "qiibee_truncated"


@dataclass(frozen=True)
class Limits:
    """Bounds on one request; the defaults suit a sandbox across the internet."""

    connect_timeout: float = 10.0
    read_timeout: float = 15.0
    max_body_bytes: int = 10 * 1024 * 1024
    # Rate limiting: sends of one request after the first, and the total wait between them.
    max_retries: int = 6
    max_retry_wait: float = 60.0
    # A Retry-After above this is waited as this (a day-long Retry-After must not hang a run).
    max_single_wait: float = 20.0

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)


# Under this round trip a target is near (loopback, the same data centre): its answers cost
# less than generating the requests, and few need be in flight. Over it, every request waits
# its round trip, and the runners keep many in flight (checks/ahead.py, fuzzing/parallel.py).
NEAR_TARGET_MS = 20.0


def is_distant(round_trip_ms: float) -> bool:
    """Whether a target this far away is worth many requests in flight."""
    return round_trip_ms >= NEAR_TARGET_MS


# Errors that mean the request was sent and no (whole) answer came: the endpoint, not the
# connection to the target, is at fault. A refused or timed-out connect is not among them.
NO_ANSWER_ERRORS: tuple[type[Exception], ...] = (
    requests.exceptions.ReadTimeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
SILENT_AFTER = 2  # requests to one endpoint that timed out before it is not asked again


def no_answer(error: Exception) -> bool:
    """Whether ``error`` means the target took the request and never answered it whole."""
    if isinstance(error, NO_ANSWER_ERRORS):
        return True
    if isinstance(error, requests.exceptions.ConnectionError) and not isinstance(
        error, requests.exceptions.ConnectTimeout
    ):
        text = str(error)
        return "RemoteDisconnected" in text or "Connection reset" in text or "Connection aborted" in text
    return False


class SilentEndpoints:
    """Endpoints (method and route) that let requests time out, run-wide."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: dict[str, int] = {}

    def record(self, key: str) -> None:
        with self._lock:
            self._count[key] = self._count.get(key, 0) + 1

    def silent(self, key: str) -> bool:
        with self._lock:
            return self._count.get(key, 0) >= SILENT_AFTER

    def clear(self) -> None:
        with self._lock:
            self._count.clear()


SILENT = SilentEndpoints()


def endpoint_of(method: str, url: str) -> str:
    """``GET /users/{}/memberships``: the method and the path with its variable parts hidden."""
    path = urlsplit(url).path.rstrip("/") or "/"
    parts = path.split("/")
    fixed = {"users", "memberships", "balances", "transactions", "token-exchange-whitelist"}
    return method.upper() + " " + "/".join(p if (p in fixed or not p) else "{}" for p in parts)


class RateLimitedError(RunError):
    """The target kept answering 429/503 past the retry budget: the run could not be made."""


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, lower-case host and port (the scheme's default when none is given)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def same_origin(first: str, second: str) -> bool:
    return origin(first) == origin(second)


def retry_after_seconds(headers: Mapping[str, str], *, now: Callable[[], float] = time.time) -> float | None:
    """The delay a ``Retry-After`` header asks for (delta-seconds or an HTTP date), or None."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, float(when.timestamp()) - now())


def is_rate_limited(status: int, headers: Mapping[str, str]) -> bool:
    """A 429, or a 503 that says when to come back: the tolerated rate-limiting answers."""
    return status == 429 or (status == 503 and retry_after_seconds(headers) is not None)


def _backoff(attempt: int) -> float:
    return float(min(0.5 * 2.0**attempt, 8.0))


def read_body(response: requests.Response, limits: Limits) -> None:
    """Read a streamed body into ``response.content``: at most ``max_body_bytes``, within the
    read timeout as a whole. A longer body is cut off (the rest is never read) and the
    response is marked with ``TRUNCATED_ATTRIBUTE``."""
    deadline = time.monotonic() + limits.read_timeout
    chunks: list[bytes] = []
    size = 0
    truncated = False
    try:
        for chunk in response.iter_content(_CHUNK):
            chunks.append(chunk)
            size += len(chunk)
            if size > limits.max_body_bytes:
                truncated = True
                break
            if time.monotonic() > deadline:
                raise requests.exceptions.ReadTimeout(
                    f"the response body did not finish within {limits.read_timeout:g} s", response=response
                )
    finally:
        if truncated:
            response.close()  # the connection is dropped, not drained
    body = b"".join(chunks)
    response._content = body[: limits.max_body_bytes]
    response._content_consumed = True  # type: ignore[attr-defined]
    setattr(response, TRUNCATED_ATTRIBUTE, truncated)


@dataclass(frozen=True)
class _Environment:
    """What ``requests`` would read from the environment on every request, read once."""

    proxies: Mapping[str, str]
    no_proxy: tuple[str, ...]
    ca_bundle: str | None

    def bypasses(self, host: str) -> bool:
        for entry in self.no_proxy:
            if entry == "*":
                return True
            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            name = entry.lstrip(".").split(":", 1)[0].lower()
            if name and (host == name or host.endswith("." + name)):
                return True
        return False

    def proxies_for(self, url: str) -> dict[str, str]:
        """The proxies ``requests`` would use for ``url`` under this environment."""
        scheme, host, _ = origin(url)
        if not self.proxies or self.bypasses(host):
            return {}
        proxy = self.proxies.get(scheme) or self.proxies.get("all")
        return {scheme: proxy} if proxy else {}


_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@functools.cache
def environment() -> _Environment:
    """The process's proxy and CA settings, read the first time they are needed."""
    names: dict[str, str] = {}
    ca: str | None = None
    for _ in range(5):  # another thread may be rewriting os.environ right now
        try:
            names = {k.lower(): v for k, v in os.environ.copy().items() if k.lower() in _PROXY_VARIABLES}
            ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            break
        except (KeyError, RuntimeError):
            continue
    proxies = {k.removesuffix("_proxy"): v for k, v in names.items() if k != "no_proxy" and v}
    no_proxy = tuple(e.strip() for e in (names.get("no_proxy") or "").split(",") if e.strip())
    return _Environment(proxies=proxies, no_proxy=no_proxy, ca_bundle=ca)


class GuardedSession(requests.Session):
    """A ``requests.Session`` that applies the module's three rules to every request."""

    def __init__(
        self, limits: Limits | None = None, *, sleep: Callable[[float], None] = run_control.wait
    ) -> None:
        super().__init__()
        self.limits = limits or Limits()
        self._sleep = sleep
        self.trust_env = False  # the environment is read once (see the module's docstring)
        self._environment = environment()
        if self._environment.ca_bundle:
            self.verify = self._environment.ca_bundle

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        merged = self._environment.proxies_for(url.decode() if isinstance(url, bytes) else url or "")
        merged.update(proxies or {})
        return super().merge_environment_settings(url, merged, stream, verify, cert)

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is None or not same_origin(resp.url, urljoin(resp.url, target)):
            return None  # not followed: the 3xx itself is the answer
        return target

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["stream"] = True
        endpoint = endpoint_of(str(method), str(url))
        waited = 0.0
        attempt = 0
        while True:
            run_control.check()
            if SILENT.silent(endpoint):
                raise requests.exceptions.ReadTimeout(
                    f"{endpoint} let {SILENT_AFTER} earlier requests time out: not sent again"
                )
            kwargs["timeout"] = self._timeout(kwargs.get("timeout"))
            try:
                response = super().request(method, url, *args, **kwargs)
                if not is_rate_limited(response.status_code, response.headers):
                    read_body(response, self.limits)
                    return response
            except requests.exceptions.ReadTimeout:
                SILENT.record(endpoint)  # a hang costs a whole timeout each time: not asked again
                raise
            asked = retry_after_seconds(response.headers)
            delay = min(_backoff(attempt) if asked is None else asked, self.limits.max_single_wait)
            response.close()
            if attempt >= self.limits.max_retries or waited + delay > self.limits.max_retry_wait:
                raise RateLimitedError(
                    f"the target kept rate-limiting {method!s} {urlsplit(str(url)).path} (HTTP "
                    f"{response.status_code}) after {attempt} retries over {waited:.0f} s; "
                    "retry later or lower the load"
                )
            self._sleep(delay)
            waited += delay
            attempt += 1

    def _timeout(self, given: Any) -> Any:
        """The request's timeout, never past the run's deadline."""
        timeout = self.limits.timeout if given is None else given
        left = run_control.remaining()
        if left is None:
            return timeout
        cap = max(0.5, left)
        if isinstance(timeout, tuple):
            return tuple(min(t, cap) if t is not None else cap for t in timeout)
        return min(float(timeout), cap)

"""HTTP client for the target API that keeps evidence and never leaks the key.

Every call is recorded as an :class:`Exchange` (request, response, timing), so a
failing check can show exactly what it sent and got back, with a curl line to
reproduce it. The API key is redacted in all of it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

from qiibee_conformance.errors import RunError
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.findings import NoAnswer, Redirected
from qiibee_conformance.redact import REDACTED, Redactor
from qiibee_conformance.transport import TRUNCATED_ATTRIBUTE, GuardedSession, Limits, no_answer

API_KEY_HEADER = "X-API-KEY"
_BODY_LIMIT = 4000

Params = Mapping[str, Any] | list[tuple[str, Any]]
# Called with every exchange the client records (e.g. to keep coverage); it must not raise.
ExchangeObserver = Callable[[Exchange], None]


@dataclass
class Response:
    """What a check looks at: status, headers, parsed JSON (if any), and the evidence."""

    status: int
    headers: Mapping[str, str]
    text: str
    exchange: Exchange
    _json: Any = field(default=None, repr=False)
    _parsed: bool = field(default=False, repr=False)

    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` if it is empty or not JSON."""
        if not self._parsed:
            self._parsed = True
            try:
                self._json = json.loads(self.text) if self.text.strip() else None
            except ValueError:
                self._json = None
        return self._json

    @property
    def is_json(self) -> bool:
        return self.json() is not None

    def data(self) -> Any:
        """The ``data`` member of a JSON object body, or ``None``."""
        body = self.json()
        return body.get("data") if isinstance(body, dict) else None


class ApiClient:
    """A thin, thread-safe wrapper over ``requests`` for one target and key."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        limits: Limits | None = None,
        history: int = 200,
        redactor: Redactor | None = None,
        observer: ExchangeObserver | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.limits = limits or Limits()
        self.redactor = redactor or Redactor()
        self.redactor.add(api_key)
        self._local = threading.local()
        self._lock = threading.Lock()
        self.exchanges: deque[Exchange] = deque(maxlen=history)
        self.request_count = 0
        self._observers: list[ExchangeObserver] = [observer] if observer is not None else []

    def observe(self, observer: ExchangeObserver) -> None:
        """Call ``observer`` with every exchange recorded from now on (in the requesting thread)."""
        with self._lock:
            self._observers.append(observer)

    def __repr__(self) -> str:
        return f"ApiClient({self.base_url!r}, api_key={REDACTED!r})"

    @property
    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = GuardedSession(self.limits)
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=64)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
        return session

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        raw_body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool | str = True,
    ) -> Response:
        """Send one request. ``auth``: True = the run's key, False = none, str = that key.

        Connection failures raise :class:`RunError`: a target that cannot be
        reached is a run that could not be made, not a nonconformity.
        """
        send_headers: dict[str, str] = {"Accept": "application/json"}
        if auth is True:
            send_headers[API_KEY_HEADER] = self._api_key
        elif isinstance(auth, str):
            send_headers[API_KEY_HEADER] = auth
            self.redactor.add(auth)
        body: str | bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body)
            send_headers["Content-Type"] = "application/json"
        elif raw_body is not None:
            body = raw_body
            send_headers.setdefault("Content-Type", "application/json")
        if headers:
            send_headers.update(headers)
        url = self.base_url + path
        if params:
            query = urlencode(list(params.items()) if isinstance(params, Mapping) else params, doseq=True)
            url = f"{url}?{query}"
        started = time.perf_counter()
        try:
            resp = self._session.request(method, url, data=body, headers=send_headers)
        except requests.RequestException as err:
            elapsed = (time.perf_counter() - started) * 1000
            reason = self.redactor.text(f"{type(err).__name__}: {err}")
            exchange = self._record(method, url, send_headers, body, None, {}, "", elapsed, reason)
            if no_answer(err):
                # The target took the request and left it without an answer: the endpoint's
                # finding; the rest of the run goes on.
                raise NoAnswer(
                    f"{method} {path} got no answer: {reason.splitlines()[0]}",
                    [exchange],
                    expected="an answer",
                    actual=reason.splitlines()[0],
                ) from None
            raise RunError(f"cannot reach the target at {self.base_url}: {reason.splitlines()[0]}") from None
        elapsed = (time.perf_counter() - started) * 1000
        text = resp.text
        truncated = getattr(resp, TRUNCATED_ATTRIBUTE, False)
        note = f"response body cut off at {self.limits.max_body_bytes} bytes" if truncated else None
        exchange = self._record(
            method, url, send_headers, body, resp.status_code, dict(resp.headers), text, elapsed, note
        )
        if 300 <= resp.status_code < 400:
            # A redirect within the target's origin was followed; this one was not (another origin,
            # or no Location). The documents define no redirect: whatever asked, it is a finding.
            location = self.redactor.text(resp.headers.get("Location") or "(no Location header)")
            raise Redirected(
                f"{method} {path} answered HTTP {resp.status_code} redirecting to {location}; the documents "
                "define no redirect, and the key is never sent to another origin",
                [exchange],
                expected="an answer from the target itself",
                actual=f"HTTP {resp.status_code} Location: {location}",
            )
        return Response(status=resp.status_code, headers=resp.headers, text=text, exchange=exchange)

    def _record(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: str | bytes | None,
        status: int | None,
        response_headers: Mapping[str, str],
        text: str,
        elapsed_ms: float,
        error: str | None,
    ) -> Exchange:
        if isinstance(body, bytes):
            body = body.decode("utf-8", errors="replace")
        exchange = Exchange(
            method=method,
            url=self.redactor.text(url),
            request_headers=self.redactor.headers(dict(headers)),
            request_body=self.redactor.text(body) if body is not None else None,
            status=status,
            response_headers=self.redactor.headers(dict(response_headers)),
            response_body=self.redactor.text(text[:_BODY_LIMIT]),
            elapsed_ms=elapsed_ms,
            error=error,
        )
        with self._lock:
            self.exchanges.append(exchange)
            self.request_count += 1
            observers = list(self._observers)
        for observer in observers:
            observer(exchange)
        return exchange

    # Convenience verbs -------------------------------------------------------------
    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Response:
        return self.request("POST", path, json_body=body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Response:
        return self.request("PUT", path, json_body=body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Response:
        return self.request("PATCH", path, json_body=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()

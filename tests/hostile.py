"""A hostile target for the tests: a loopback proxy in front of a real mock that misbehaves on cue.

Standard library only. Each mode is one way a real target can go wrong on the wire
(issue: "hostile and distant targets"); everything else is forwarded to the upstream
mock unchanged, so the rest of a run behaves as against the mock itself.

A second server, the *trap*, stands on another port: redirects point there, and it
records every header it is sent, so a test can assert that the key never arrived.
"""

from __future__ import annotations

import http.client
import itertools
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

MODES = (
    "pass",  # forward everything
    "redirect-first",  # every request: 302 to the trap
    "redirect-later",  # after `after` requests, every POST /users: 307 to the trap
    "rate-limit",  # every `every`-th request: 429 or 503 with Retry-After, then forwarded on retry
    "unavailable",  # every request: 503 without Retry-After
    "unavailable-retry-after",  # every request: 503 with Retry-After: 1 (a long outage)
    "hang",  # GET /users/:id/memberships never answers (others are forwarded)
    "huge-body",  # GET /users/:id/balances streams `huge_bytes` of JSON-looking data
    "reset",  # every request: the connection is closed without an answer
    "html-500",  # every request: 500 with an HTML page
    "garbage-200",  # every request: 200 with binary garbage
    "reject-key",  # every request: 401
    "latency",  # every answer delayed by `delay` seconds
    "empty-whitelist",  # GET /token-exchange-whitelist lists no partnership
    "users-500",  # POST /users answers 500
)


_HOP_HEADERS = frozenset({"transfer-encoding", "connection", "content-length", "date", "server"})


@dataclass
class Trap:
    """What the other origin was sent."""

    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, secret: str) -> bool:
        with self.lock:
            return any(secret in f"{path} {headers}" for _, path, headers in self.requests)


@dataclass
class Hostile:
    base_url: str
    trap_url: str
    trap: Trap
    served: itertools.count[int]


def _trap_handler(trap: Trap) -> type[BaseHTTPRequestHandler]:
    class TrapHandler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            with trap.lock:
                trap.requests.append((self.command, self.path, dict(self.headers.items())))
            body = b'{"error": "trap"}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any  # noqa: N815 - http.server's names

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return TrapHandler


class _Proxy(BaseHTTPRequestHandler):
    """Forwards to the upstream mock, except where its mode misbehaves (set per server below)."""

    protocol_version = "HTTP/1.1"
    upstream = urlsplit("http://127.0.0.1")
    mode = "pass"
    trap_url = ""
    counter: itertools.count[int] = itertools.count()
    options: dict[str, Any] = {}

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm holds the
        # body back until the client's delayed ACK (40 ms), and the proxy adds latency of its own.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    _upstream_conn: http.client.HTTPConnection | None = None

    def _upstream_answer(self, body: bytes | None) -> tuple[int, list[tuple[str, str]], bytes]:
        """The mock's answer, on a connection kept for this client connection (a new one for
        every request would add its own latency to the latency mode's)."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        for attempt in range(2):
            conn = self._upstream_conn
            if conn is None:
                host, port = self.upstream.hostname or "127.0.0.1", self.upstream.port
                conn = self._upstream_conn = http.client.HTTPConnection(host, port, timeout=30)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.getheaders(), resp.read()
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                self._upstream_conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def finish(self) -> None:
        super().finish()
        if self._upstream_conn is not None:
            self._upstream_conn.close()

    def forward(self, body: bytes | None) -> None:
        status, headers, data = self._upstream_answer(body)
        if self.mode == "latency":
            time.sleep(float(self.options.get("delay", 0.1)))
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def stream_huge(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b" " * 65536
        sent = 0
        try:
            self.wfile.write(b'{"data": [')
            sent += 10
            while sent + len(chunk) < size:
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the client stopped reading: what a capped client does
        self.close_connection = True

    def reset(self) -> None:
        self.close_connection = True
        self.connection.shutdown(2)

    def handle_any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        misbehave = _MISBEHAVIOURS.get(self.mode)
        if misbehave is None or not misbehave(self, next(self.counter), urlsplit(self.path).path):
            self.forward(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_TRACE = handle_any  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        pass


# Each mode: answer the request its own way (True), or let it through to the mock (False).
Misbehaviour = Callable[[_Proxy, int, str], bool]


def _redirect_first(h: _Proxy, n: int, path: str) -> bool:
    h.send(302, b"", "text/plain", Location=h.trap_url + h.path)
    return True


def _redirect_later(h: _Proxy, n: int, path: str) -> bool:
    if n < int(h.options.get("after", 20)) or h.command != "POST" or path != "/users":
        return False
    h.send(307, b"", "text/plain", Location=h.trap_url + h.path)
    return True


def _rate_limit(h: _Proxy, n: int, path: str) -> bool:
    if n % int(h.options.get("every", 4)) != 1:
        return False
    h.send(429 if n % 2 else 503, b'{"error": "slow down"}', "application/json", Retry_After="0")
    return True


def _hang(h: _Proxy, n: int, path: str) -> bool:
    if h.command != "GET" or not path.endswith("/memberships"):
        return False
    time.sleep(float(h.options.get("hang_seconds", 3600)))
    return True


def _huge_body(h: _Proxy, n: int, path: str) -> bool:
    if h.command != "GET" or not path.endswith("/balances"):
        return False
    h.stream_huge(int(h.options.get("huge_bytes", 200 * 1024 * 1024)))
    return True


def _reset(h: _Proxy, n: int, path: str) -> bool:
    h.reset()
    return True


def _always(status: int, body: bytes, content_type: str, **headers: str) -> Misbehaviour:
    def answer(h: _Proxy, n: int, path: str) -> bool:
        h.send(status, body, content_type, **headers)
        return True

    return answer


def _only(method: str, route: str, status: int, body: bytes) -> Misbehaviour:
    def answer(h: _Proxy, n: int, path: str) -> bool:
        if h.command != method or path != route:
            return False
        h.send(status, body, "application/json")
        return True

    return answer


_MISBEHAVIOURS: dict[str, Misbehaviour] = {
    "redirect-first": _redirect_first,
    "redirect-later": _redirect_later,
    "rate-limit": _rate_limit,
    "unavailable": _always(503, b'{"error": "unavailable"}', "application/json"),
    "unavailable-retry-after": _always(503, b'{"error": "unavailable"}', "application/json", Retry_After="1"),
    "hang": _hang,
    "huge-body": _huge_body,
    "reset": _reset,
    "html-500": _always(500, b"<html><body><h1>Internal Server Error</h1></body></html>", "text/html"),
    "garbage-200": _always(200, bytes(range(256)) * 4, "application/octet-stream"),
    "reject-key": _always(401, b'{"error": "Invalid API Key"}', "application/json"),
    "empty-whitelist": _only("GET", "/token-exchange-whitelist", 200, b'{"data": []}'),
    "users-500": _only("POST", "/users", 500, b'{"error": "boom"}'),
}


def _proxy_handler(
    upstream: str, mode: str, trap_url: str, counter: itertools.count[int], options: dict[str, Any]
) -> type[BaseHTTPRequestHandler]:
    settings = {
        "upstream": urlsplit(upstream), "mode": mode, "trap_url": trap_url, "counter": counter,
        "options": options,
    }  # fmt: skip
    return type("ProxyHandler", (_Proxy,), settings)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a capped body, a run stopped mid-request) is no error here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A hand-written server on a free loopback port, served from threads; yields its base URL."""
    server = _QuietServer(("127.0.0.1", 0), handler, bind_and_activate=False)
    server.daemon_threads = True
    server.request_queue_size = 128  # the suite's bursts open dozens of connections at once
    server.server_bind()
    server.server_activate()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def hostile(upstream: str, mode: str, **options: Any) -> Iterator[Hostile]:
    """A proxy to ``upstream`` misbehaving as ``mode``, and the trap redirects point to."""
    if mode not in MODES or (mode not in _MISBEHAVIOURS and mode not in ("pass", "latency")):
        raise ValueError(f"unknown mode {mode!r}")
    trap = Trap()
    counter = itertools.count()
    with (
        serve(_trap_handler(trap)) as trap_url,
        serve(_proxy_handler(upstream, mode, trap_url, counter, options)) as base_url,
    ):
        yield Hostile(base_url=base_url, trap_url=trap_url, trap=trap, served=counter)

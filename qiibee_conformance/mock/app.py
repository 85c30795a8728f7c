"""The Starlette app: routes, API-key check, JSON errors, and a catch-all for bugs.

Middleware order (outermost first): catch-all (an unexpected exception becomes
one log entry and a 500 JSON body, never a traceback on the wire), then the
API-key check, then Starlette's routing whose 404/405 and ``ApiError`` become
JSON errors.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qiibee_conformance.mock import history, memberships, transactions, users, wallet
from qiibee_conformance.mock.busy import MESSAGES, RETRY_AFTER, BusyGate
from qiibee_conformance.mock.config import MockConfig
from qiibee_conformance.mock.render import Renderer, dumps
from qiibee_conformance.mock.seed import seed_history, seed_users
from qiibee_conformance.mock.settlement import SettlementWorker
from qiibee_conformance.mock.state import JSON, MockState
from qiibee_conformance.mock.store import Store
from qiibee_conformance.mock.validation import ApiError

log = logging.getLogger("qiibee_conformance.mock")

Handler = Callable[[Request], Awaitable[Response]]


def _route(path: str, methods: Mapping[str, Handler]) -> list[Route]:
    """One Route per path (so 405 carries the full Allow list), dispatching on the method."""

    async def dispatch(request: Request) -> Response:
        return await methods[request.method](request)

    route = Route(path, dispatch, methods=list(methods))
    if route.methods is not None and "GET" in methods:
        route.methods.discard("HEAD")  # HEAD is not documented anywhere
    return [route]


def _routes() -> list[Route]:
    user_paths = {"GET": users.list_users, "POST": users.create_user}
    return [
        *_route("/users", user_paths),
        *_route("/users/", user_paths),
        *_route(
            "/users/{auth_id}",
            {"GET": users.get_user, "PUT": users.update_user, "PATCH": users.update_user},
        ),
        *_route(
            "/users/{auth_id}/memberships",
            {"GET": memberships.list_memberships, "POST": memberships.create_membership},
        ),
        *_route(
            "/users/{auth_id}/memberships/{provider}",
            {"GET": memberships.get_membership, "DELETE": memberships.delete_membership},
        ),
        *_route("/users/{auth_id}/balances", {"GET": wallet.balances}),
        *_route(
            "/transactions",
            {"GET": history.list_transactions, "POST": transactions.post_transaction},
        ),
        *_route("/token-exchange-whitelist", {"GET": wallet.whitelist}),
    ]


async def _send_json(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-length", str(len(body)).encode()), *extra]
    if body:
        headers.append((b"content-type", JSON.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class CatchAll:
    """Turns an unexpected exception into a 500 JSON error, logged once, no traceback sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as err:
            log.error(
                "internal error on %s %s: %s: %s",
                scope.get("method"), scope.get("path"), type(err).__name__, err,
                exc_info=True,
            )
            if not started:
                body = dumps({"error": "internal server error"}).encode()
                await _send_json(send, 500, body, [])


class ApiKeyCheck:
    """Every endpoint requires ``X-API-KEY``: missing or wrong is 401 with the vendor's wording.

    Under busy-service an accepted key then passes the BusyGate (429/503 before
    any handler runs, so a refused request changes nothing).
    """

    def __init__(self, app: ASGIApp, state: MockState) -> None:
        self.app = app
        self.state = state
        self.expected = state.config.api_key.encode()
        self.gate = BusyGate() if state.variant("busy-service") else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                key = value
                break
        st = self.state
        if key == b"" and st.fault("auth-empty-key-accepted"):
            pass  # the fault serves an empty key as if it were the right one
        elif not key:
            if not st.fault("auth-missing-key-accepted"):
                await self._reject(send, 401, "Missing x-api-key header")
                return
        elif not hmac.compare_digest(key, self.expected):
            await self._reject(send, 403 if st.fault("auth-invalid-key-403") else 401, "Invalid API Key")
            return
        if self.gate is not None:
            refused = self.gate.check(key or b"")
            if refused is not None:
                await self._reject(send, refused, MESSAGES[refused], [(b"retry-after", RETRY_AFTER.encode())])
                return
        await self.app(scope, receive, send)

    async def _reject(
        self, send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        body = self.state.renderer.error(status, message, message_errors=self.state.variant("message-errors"))
        await _send_json(send, status, dumps(body).encode(), headers or [])


def build_state(config: MockConfig) -> MockState:
    """Open the store and seed it if it is fresh."""
    store = Store(config.db_path)
    if store.is_fresh():
        pks = seed_users(store, config.seed_users)
        seed_history(store, config.seed_history, pks)
    else:
        store.reschedule_pending(time.time() + config.settle_delay)
    return MockState(config=config, store=store, renderer=Renderer(config))


def create_app(config: MockConfig, state: MockState | None = None) -> Starlette:
    """The ASGI app; the settlement worker runs for the app's lifespan."""
    st = state or build_state(config)
    worker = SettlementWorker(st)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            await worker.stop()
            st.store.close()

    async def on_bad_input(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return st.error_response(exc.status, exc.message)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            message = f"method {request.method} not allowed on {request.url.path}"
        elif exc.status_code == 404:
            message = f"no such endpoint: {request.url.path}"
        else:
            message = str(exc.detail)
        return st.error_response(exc.status_code, message, dict(exc.headers or {}))

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        ApiError: on_bad_input,
        HTTPException: on_http,
    }
    app = Starlette(
        routes=_routes(),
        middleware=[Middleware(CatchAll), Middleware(ApiKeyCheck, state=st)],
        exception_handlers=handlers,
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.mock = st
    return app

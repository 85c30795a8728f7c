"""What every handler shares: config, store, renderer, and the response helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qiibee_conformance.mock.config import MockConfig
from qiibee_conformance.mock.render import Renderer, dumps
from qiibee_conformance.mock.store import Store, UserRow
from qiibee_conformance.mock.validation import ApiError, parse_json_body

JSON = "application/json"


@dataclass
class MockState:
    """Per-app state. The dicts below only fill under the fault that needs them:
    ``stored_rates`` (exchange-override-stored), ``last_exchange`` (race-merged-exchanges:
    user pk -> (monotonic time, tx id) of the last recorded exchange), ``deleted_memberships``
    (stateful-deleted-membership-served: what a 204 DELETE removed), ``next_plain_id``
    (user-empty-auth-id-kept: the sequence behind ``user-N`` ids)."""

    config: MockConfig
    store: Store
    renderer: Renderer
    stored_rates: dict[tuple[int, int], Fraction] = field(default_factory=dict)
    last_exchange: dict[int, tuple[float, int]] = field(default_factory=dict)
    deleted_memberships: dict[tuple[int, str], str] = field(default_factory=dict)
    next_plain_id: int = 1

    def __post_init__(self) -> None:
        # the renderer serves cached history rows by id, so it must hear of every row write
        self.store.tx_changed = self.renderer.forget_tx

    def fault(self, name: str) -> bool:
        return self.config.fault(name)

    def variant(self, name: str) -> bool:
        return self.config.variant(name)

    def error_response(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        """A JSON error (or, under error-empty-body, an empty 404)."""
        if status == 404 and self.fault("error-empty-body"):
            return Response(b"", 404, headers=headers)
        body = self.renderer.error(status, message, message_errors=self.variant("message-errors"))
        return Response(dumps(body).encode(), status, headers=headers, media_type=JSON)

    def ok(self, data: Any, status: int = 200, key: str = "data") -> Response:
        """``{"data": data}`` (or ``{key: data}``) as JSON."""
        return Response(self.renderer.data(data, key), status, media_type=JSON)

    def user_written(self, user: UserRow, status: int = 200) -> Response:
        """Create/update user: ``{"data": u}``, or ``{"user": u}`` under literal-reading (the
        documents' own example), both tolerated "with the user object"."""
        key = "user" if self.variant("literal-reading") else "data"
        return self.ok(self.renderer.user(user), status, key)

    def raw(self, body: bytes, status: int = 200) -> Response:
        return Response(body, status, media_type=JSON)

    def user_or_404(self, auth_id: str) -> UserRow:
        user = self.store.user_by_auth_id(auth_id)
        if user is None:
            raise ApiError(f"user {auth_id!r} not found", 404)
        return user


def state_of(request: Request) -> MockState:
    """The MockState stored on the app."""
    st: MockState = request.app.state.mock
    return st


async def read_json(request: Request, st: MockState) -> Any:
    """The request body as JSON; malformed input is a 400 (500 under malformed-json-500)."""
    raw = await request.body()
    try:
        return parse_json_body(raw)
    except ApiError as err:
        if st.fault("malformed-json-500") and err.status == 400:
            raise ApiError("internal error while reading the body", 500) from None
        raise

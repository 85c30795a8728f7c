"""AUTH: every documented operation demands a valid X-API-KEY (401 otherwise)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qiibee_conformance.checks.base import check, describe
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.client import Response
from qiibee_conformance.findings import Nonconformity

# A key no target issues; long enough that the redactor hides it too.
INVALID_KEY = "qc-invalid-api-key-0000000000000000"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    body: Any = None
    params: dict[str, Any] | None = None

    def send(self, ctx: CheckContext, auth: bool | str) -> Response:
        return ctx.client.request(self.method, self.path, json_body=self.body, params=self.params, auth=auth)

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def operations(ctx: CheckContext) -> list[Operation]:
    """One valid request per documented operation, on a user of the run's own."""
    user = ctx.memo("auth-user", lambda: ctx.new_user("auth"))
    brand = ctx.brand_token_id
    provider = next(iter(ctx.settings.membership_numbers), "etihad")
    number = next(iter(ctx.settings.membership_numbers.get(provider, ())), "100014486294")
    return [
        Operation("POST", "/users", {"user": {"email": ctx.email("auth")}}),
        Operation("GET", "/users"),
        Operation("GET", f"/users/{user}"),
        Operation("PUT", f"/users/{user}", {"user": {"first_name": "Ada"}}),
        Operation("PATCH", f"/users/{user}", {"user": {"second_name": "Lovelace"}}),
        Operation(
            "POST",
            f"/users/{user}/memberships",
            {"membership": {"brand_id": provider, "membership_number": number}},
        ),
        Operation("GET", f"/users/{user}/memberships"),
        Operation("GET", f"/users/{user}/memberships/{provider}"),
        Operation("DELETE", f"/users/{user}/memberships/{provider}"),
        Operation("GET", f"/users/{user}/balances"),
        Operation(
            "POST",
            "/transactions",
            {"transaction": {"type": "credit_points", "user_auth_id": user, "token_id": brand, "amount": 1}},
        ),
        Operation("GET", "/transactions"),
        Operation("GET", "/token-exchange-whitelist"),
    ]


def _expect_401(ctx: CheckContext, auth: bool | str, what: str) -> None:
    wrong: list[Response] = []
    for operation in operations(ctx):
        response = operation.send(ctx, auth)
        if response.status != 401:
            wrong.append(response)
    if wrong:
        names = ", ".join(f"{r.exchange.method} {r.exchange.url} → {describe(r)}" for r in wrong[:5])
        raise Nonconformity(f"{len(wrong)} operation(s) did not answer 401 {what}: {names}", wrong)


@check("AUTH-01")
def missing_key(ctx: CheckContext) -> None:
    _expect_401(ctx, False, "without X-API-KEY")


@check("AUTH-02")
def invalid_key(ctx: CheckContext) -> None:
    _expect_401(ctx, INVALID_KEY, "with an invalid X-API-KEY")
    # An empty value is no valid key either ("A missing or invalid key gives HTTP 401").
    _expect_401(ctx, "", "with an empty X-API-KEY")

"""AUTH: every documented operation demands a valid X-API-KEY (401 with an error message otherwise).

The vendor's Authentication page (D1): a missing, empty or invalid key gives HTTP 401 with
an error message. That the message comes in a JSON object is the reading (D14, advisory).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qiibee_conformance.checks.base import check, describe_calls
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.messages import INVALID_KEY, judge_messages
from qiibee_conformance.client import Response
from qiibee_conformance.findings import Nonconformity


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
    user = ctx.memo("auth-user", lambda: ctx.api.new_user_full("auth"))
    brand = ctx.brand_token_id
    provider = next(iter(ctx.settings.membership_numbers), "etihad")
    number = next(iter(ctx.settings.membership_numbers.get(provider, ())), "100014486294")
    credit = {"type": "credit_points", "user_auth_id": user.auth_id, "token_id": brand, "amount": 1}
    path = f"/users/{user.auth_id}"
    return [
        Operation("POST", "/users", {"user": {"email": ctx.email("auth")}}),
        Operation("GET", "/users"),
        Operation("GET", path),
        Operation("PUT", path, {"user": {"email": user.email, "first_name": "Ada"}}),
        Operation("PATCH", path, {"user": {"second_name": "Lovelace"}}),
        Operation(
            "POST",
            f"{path}/memberships",
            {"membership": {"brand_id": provider, "membership_number": number}},
        ),
        Operation("GET", f"{path}/memberships"),
        Operation("GET", f"{path}/memberships/{provider}"),
        Operation("DELETE", f"{path}/memberships/{provider}"),
        Operation("GET", f"{path}/balances"),
        Operation("POST", "/transactions", {"transaction": credit}),
        Operation("GET", "/transactions"),
        Operation("GET", "/token-exchange-whitelist"),
    ]


def _expect_401(ctx: CheckContext, auth: bool | str, what: str) -> None:
    answers = [operation.send(ctx, auth) for operation in operations(ctx)]
    wrong = [r for r in answers if r.status != 401]
    if wrong:
        names = describe_calls(wrong)
        raise Nonconformity(f"{len(wrong)} operation(s) did not answer 401 {what}: {names}", wrong)
    judge_messages(answers, f"401 answer(s) {what}")


@check("AUTH-01")
def missing_key(ctx: CheckContext) -> None:
    _expect_401(ctx, False, "without X-API-KEY")


@check("AUTH-02")
def invalid_key(ctx: CheckContext) -> None:
    _expect_401(ctx, INVALID_KEY, "with an invalid X-API-KEY")
    # An empty value is no valid key either ("A missing, empty or invalid key gives HTTP 401").
    _expect_401(ctx, "", "with an empty X-API-KEY")

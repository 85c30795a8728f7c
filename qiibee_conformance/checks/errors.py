"""ERR: error bodies carry a message; bad input is a 4xx; undocumented methods are a 4xx."""

from __future__ import annotations

from qiibee_conformance.checks.auth import INVALID_KEY
from qiibee_conformance.checks.base import check, describe
from qiibee_conformance.checks.context import CheckContext, error_message
from qiibee_conformance.client import Response
from qiibee_conformance.findings import Nonconformity

UNKNOWN_USER = "qc-no-such-user-7f3a9c"


def _unknown(ctx: CheckContext) -> str:
    return f"{UNKNOWN_USER}-{ctx.settings.run_id}"


@check("ERR-01")
def error_bodies_carry_a_message(ctx: CheckContext) -> None:
    user = ctx.memo("err-user", lambda: ctx.new_user("err"))
    unknown = _unknown(ctx)
    c = ctx.client
    samples: list[Response] = [
        c.get("/users", auth=False),
        c.get("/users", auth=INVALID_KEY),
        c.get(f"/users/{unknown}"),
        c.put(f"/users/{unknown}", {"user": {"first_name": "Ada"}}),
        c.get(f"/users/{unknown}/balances"),
        # Not GET /users/:id/memberships/:name: its 404 is documented as "404 and empty object".
        c.post("/users", {"user": {"email": "not-an-email"}}),
        ctx.points("debit_points", user, 1_000_000),
        ctx.exchange(unknown, ctx.simple_pair() if ctx.simple_pairs() else (ctx.brand_token_id, 0), 1),
    ]
    bad: list[Response] = []
    for response in samples:
        if response.status in (400, 401, 404) and error_message(response) is None:
            bad.append(response)
    if bad:
        shown = "; ".join(f"{r.exchange.method} {r.exchange.url} → {describe(r)}" for r in bad[:5])
        raise Nonconformity(
            f"{len(bad)} error response(s) are not a JSON object with a non-empty message: {shown}", bad
        )


@check("ERR-02")
def invalid_input_is_4xx(ctx: CheckContext) -> None:
    user = ctx.memo("err-user", lambda: ctx.new_user("err"))
    c = ctx.client
    brand = ctx.brand_token_id
    malformed = '{"user": {"email": "x@example.com",'
    probes: list[Response] = []
    for method, path in (
        ("POST", "/users"),
        ("PUT", f"/users/{user}"),
        ("PATCH", f"/users/{user}"),
        ("POST", f"/users/{user}/memberships"),
        ("POST", "/transactions"),
    ):
        probes.append(c.request(method, path, raw_body=malformed))
        probes.append(c.request(method, path, raw_body="[1, 2, 3]"))
        probes.append(c.request(method, path, raw_body='"just a string"'))
    probes += [
        c.post("/users", {"email": ctx.email("err")}),  # missing wrapper
        c.put(f"/users/{user}", {"first_name": "Ada"}),
        c.patch(f"/users/{user}", {"first_name": "Ada"}),
        c.post(f"/users/{user}/memberships", {"brand_id": "etihad", "membership_number": "100014486294"}),
        c.post(
            "/transactions", {"type": "credit_points", "user_auth_id": user, "token_id": brand, "amount": 1}
        ),
        c.post("/users", {"user": "x@example.com"}),  # wrapper of the wrong type
        c.post("/users", {"user": {"email": 12345}}),  # wrong types
        c.post("/users", {"user": {"email": ["x@example.com"]}}),
        c.put(f"/users/{user}", {"user": {"email": {"a": 1}}}),
        c.post(f"/users/{user}/memberships", {"membership": {"brand_id": 12345, "membership_number": "1"}}),
        c.post("/transactions", {"transaction": "credit_points"}),
        c.post(
            "/transactions",
            {"transaction": {"type": "credit_points", "user_auth_id": user, "token_id": "abc", "amount": 1}},
        ),
        c.post(
            "/transactions",
            {
                "transaction": {
                    "type": "credit_points",
                    "user_auth_id": user,
                    "token_id": brand,
                    "amount": [1],
                }
            },
        ),
        c.post(
            "/transactions",
            {"transaction": {"type": "credit_points", "user_auth_id": 42, "token_id": brand, "amount": 1}},
        ),
    ]
    bad = [r for r in probes if not 400 <= r.status < 500]
    if bad:
        shown = "; ".join(
            f"{r.exchange.method} {r.exchange.url} body {r.exchange.request_body!r} → {describe(r)}"
            for r in bad[:5]
        )
        raise Nonconformity(f"{len(bad)} invalid request(s) did not get a 4xx: {shown}", bad)


@check("ERR-03")
def undocumented_methods_are_4xx(ctx: CheckContext) -> None:
    user = ctx.new_user("err")
    c = ctx.client
    probes = [
        c.delete("/users"),
        c.put("/users", {"user": {"email": ctx.email("err")}}),
        c.post(f"/users/{user}", {"user": {"first_name": "Ada"}}),
        c.delete(f"/users/{user}"),
        c.put("/transactions", {"transaction": {}}),
        c.delete("/transactions"),
        c.post("/token-exchange-whitelist", {}),
        c.delete("/token-exchange-whitelist"),
        c.post(f"/users/{user}/balances", {}),
        c.delete(f"/users/{user}/memberships"),
    ]
    bad = [r for r in probes if not 400 <= r.status < 500]
    if bad:
        shown = "; ".join(f"{r.exchange.method} {r.exchange.url} → {describe(r)}" for r in bad[:5])
        raise Nonconformity(f"{len(bad)} undocumented method(s) did not get a 4xx: {shown}", bad)

"""ERR: promised error messages are there; a client's mistake is a 4xx; undocumented methods too.

Levels (openapi/DECISIONS.md): a message where the documents say "with error message" is
fail (D13), that it comes in a JSON object warn (D14), and none is demanded elsewhere (D15).
A client's mistake gets a 4xx, never a 5xx (D16; which 4xx is free, D17). A method the
documents do not list gets a 4xx (D98), a 5xx fails (D16), a 2xx is an advisory (D99).
"""

from __future__ import annotations

from collections.abc import Iterable

from qiibee_conformance.checks.base import advise, check, describe, describe_calls
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.messages import INVALID_KEY, judge_messages
from qiibee_conformance.client import Response
from qiibee_conformance.findings import Nonconformity

UNKNOWN_USER = "qc-no-such-user-7f3a9c"
HUGE = 10**30


def _unknown(ctx: CheckContext) -> str:
    return f"{UNKNOWN_USER}-{ctx.settings.run_id}"


def _shown(responses: Iterable[Response]) -> str:
    return "; ".join(
        f"{r.exchange.method} {r.exchange.url} body {r.exchange.request_body!r} → {describe(r)}"
        for r in responses
    )


def _promised(ctx: CheckContext) -> list[tuple[Response, int]]:
    """Requests whose answer, with the status paired to it, the documents promise "with error
    message" (D13). Other statuses of the same requests are judged elsewhere, not here."""
    user = ctx.memo("err-user", lambda: ctx.api.new_user("err"))
    unknown = _unknown(ctx)
    c = ctx.client
    membership = "/users/" + user + "/memberships"
    return [
        # The vendor's Authentication page: 401 with an error message.
        (c.get("/users", auth=False), 401),
        (c.get("/users", auth=INVALID_KEY), 401),
        # Get User Details and Update User details: "HTTP 404 with error message".
        (c.get(f"/users/{unknown}"), 404),
        (c.put(f"/users/{unknown}", {"user": {"email": ctx.email("err"), "first_name": "Ada"}}), 404),
        (c.patch(f"/users/{unknown}", {"user": {"first_name": "Ada"}}), 404),
        # Get List of Users and Transaction History: "Bad data: HTTP 404 with error message".
        (c.get("/users", params={"limit": -1}), 404),
        (c.get("/users", params={"from_time": "not-a-time"}), 404),
        (c.get("/transactions", params={"limit": -1}), 404),
        (c.get("/transactions", params={"user_auth_id": unknown}), 404),
        # Create User: "Bad data: HTTP 400 with error message" (invalid email, duplicate auth_id).
        (c.post("/users", {"user": {"email": "not-an-email"}}), 400),
        (c.post("/users", {"user": {"email": ctx.email("err"), "auth_id": user}}), 400),
        # Create User Membership: "Bad data: HTTP 400 with error message".
        (
            c.post(membership, {"membership": {"brand_id": "qc-no-such-provider", "membership_number": "1"}}),
            400,
        ),
        (
            c.post(membership, {"membership": {"brand_id": "etihad", "membership_number": "not-a-number"}}),
            400,
        ),
        # The vendor's Points Bank page: an unknown user is "404 with an error message".
        (ctx.api.points("credit_points", unknown, 1), 404),
    ]


@check("ERR-01")
def error_bodies_carry_a_message(ctx: CheckContext) -> None:
    """Only where a message is promised, and only at the promised status (D13, D15)."""
    judged = [response for response, status in _promised(ctx) if response.status == status]
    judge_messages(judged, 'answer(s) documented "with error message"')


def _malformed_probes(ctx: CheckContext, user: str) -> list[Response]:
    """Bodies that are not the documented JSON object, on every operation that takes one."""
    malformed = '{"user": {"email": "x@example.com",'
    probes: list[Response] = []
    for method, path in (
        ("POST", "/users"),
        ("PUT", f"/users/{user}"),
        ("PATCH", f"/users/{user}"),
        ("POST", f"/users/{user}/memberships"),
        ("POST", "/transactions"),
    ):
        for raw in (malformed, "[1, 2, 3]", '"just a string"'):
            probes.append(ctx.client.request(method, path, raw_body=raw))
    return probes


def _credit(ctx: CheckContext, **fields: object) -> Response:
    body = {"type": "credit_points", "user_auth_id": "", "token_id": ctx.brand_token_id, "amount": 1}
    return ctx.client.post("/transactions", {"transaction": {**body, **fields}})


def _wrong_shape_probes(ctx: CheckContext, user: str) -> list[Response]:
    """Missing wrappers, wrappers of the wrong type, fields of the wrong type, unknown huge ids."""
    c = ctx.client
    brand = ctx.brand_token_id
    return [
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
        _credit(ctx, user_auth_id=user, token_id="abc"),
        _credit(ctx, user_auth_id=user, amount=[1]),
        _credit(ctx, user_auth_id=42),
        _credit(ctx, user_auth_id=user, token_id=HUGE),  # no such token
    ]


def _huge_value_probes(ctx: CheckContext, user: str) -> list[Response]:
    """Huge values a correct server may refuse (any 4xx) or serve: never a 5xx (D16)."""
    c = ctx.client
    return [
        c.get("/users", params={"limit": HUGE}),
        c.get("/users", params={"offset": HUGE}),
        c.get("/transactions", params={"limit": HUGE}),
        c.get("/transactions", params={"offset": HUGE}),
        c.post("/users", {"user": {"email": "x" * 10_000 + "@example.com"}}),
        c.patch(f"/users/{user}", {"user": {"first_name": "A" * 100_000}}),
        _credit(ctx, user_auth_id=user, amount=HUGE),
    ]


@check("ERR-02")
def invalid_input_is_4xx(ctx: CheckContext) -> None:
    user = ctx.memo("err-user", lambda: ctx.api.new_user("err"))
    probes = _malformed_probes(ctx, user) + _wrong_shape_probes(ctx, user)
    bad = [r for r in probes if not 400 <= r.status < 500]
    if bad:
        raise Nonconformity(f"{len(bad)} invalid request(s) did not get a 4xx: {_shown(bad[:5])}", bad)
    crashed = [r for r in _huge_value_probes(ctx, user) if r.status >= 500]
    if crashed:
        raise Nonconformity(
            f"{len(crashed)} request(s) with huge values got a 5xx: {_shown(crashed[:5])}", crashed
        )


def _undocumented(ctx: CheckContext) -> list[Response]:
    """Methods the documents do not list, on documented paths, sent only to a user of the run's
    own (a 2xx may change what it addresses); DELETE of the user itself goes last."""
    user = ctx.api.new_user("err")
    path = f"/users/{user}"
    c = ctx.client
    provider = f"{path}/memberships/etihad"
    member = {"membership": {"brand_id": "etihad", "membership_number": "100014486294"}}
    return [
        c.post(path, {"user": {"first_name": "Ada"}}),
        c.put(f"{path}/memberships", member),
        c.patch(f"{path}/memberships", member),
        c.delete(f"{path}/memberships"),
        c.put(provider, member),
        c.patch(provider, member),
        c.post(f"{path}/balances", {}),
        c.put(f"{path}/balances", {}),
        c.delete(f"{path}/balances"),
        c.delete(path),
    ]


@check("ERR-03")
def undocumented_methods_are_4xx(ctx: CheckContext) -> None:
    probes = _undocumented(ctx)
    crashed = [r for r in probes if r.status >= 500]
    if crashed:
        shown = describe_calls(crashed)
        raise Nonconformity(f"{len(crashed)} undocumented method(s) got a 5xx: {shown}", crashed)
    served = [r for r in probes if 200 <= r.status < 300]
    shown = describe_calls(served)
    advise(
        not served,
        f"{len(served)} method(s) the documents do not list were served: {shown}",
        *served,
        decision="D99",
        expected="a 4xx (405 or 404)",
    )

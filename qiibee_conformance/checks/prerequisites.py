"""What most checks stand on, established once before they run.

Four prerequisites: create a user and read it back; fund a user; at least one
exchangeable pair; the suite's own transactions in the history. When one cannot be
met the run is not a certification at all:

- if the target broke a documented rule on the way (a 5xx, a wrong status, a user it
  created but cannot show, a credit it accepted but never applied), that is a finding
  of the requirement that owns the rule, and the checks that need the prerequisite are
  untestable;
- otherwise (a key that may not create users, no exchangeable pair, no token the key
  may credit) the verdict is INCOMPLETE: :class:`PrerequisiteUnmetError`, exit 2, one line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qiibee_conformance import polling, reconcile
from qiibee_conformance.checks.base import describe
from qiibee_conformance.checks.outcome import running_requirement
from qiibee_conformance.client import Response
from qiibee_conformance.discovery import WHITELIST_PATH
from qiibee_conformance.envelopes import created_auth_id, user_object
from qiibee_conformance.errors import RunError
from qiibee_conformance.findings import Finding, Nonconformity, Untestable

if TYPE_CHECKING:
    from qiibee_conformance.checks.context import CheckContext

USER = "create a user and read it back"
FUNDING = "fund a user"
PAIR = "at least one exchangeable pair"
HISTORY = "the suite's own transactions in the history"
ORDER = (USER, FUNDING, PAIR, HISTORY)
# The requirement whose rule a prerequisite broken by the target breaks.
OWNERS = {USER: "USR-01", FUNDING: "BAL-02", PAIR: "WL-01", HISTORY: "HIS-05"}
# What each group of checks stands on (the others need none of them).
NEEDS: dict[str, tuple[str, ...]] = {
    "errors": (USER,),
    "users": (USER,),
    "memberships": (USER,),
    "balances": (USER, FUNDING),
    "nft": (USER, FUNDING),
    "history": (USER, FUNDING, HISTORY),
    "exchange": (USER, FUNDING, PAIR, HISTORY),
    "settlement": (USER, FUNDING, PAIR, HISTORY),
    "concurrency": (USER, FUNDING, PAIR, HISTORY),
}
FUNDING_AMOUNT = 137  # odd, so the suite's own credit is easy to tell in a history


class PrerequisiteUnmetError(RunError):
    """A prerequisite could not be met, and the target broke no rule: the run is INCOMPLETE."""


@dataclass(frozen=True)
class Prerequisite:
    name: str
    met: bool
    reason: str = ""
    finding: Finding | None = None  # set when the target broke a documented rule on the way

    @property
    def owner(self) -> str:
        return OWNERS[self.name]


def needed_by(groups: Iterable[str]) -> tuple[str, ...]:
    wanted = {p for g in groups for p in NEEDS.get(g, ())}
    return tuple(p for p in ORDER if p in wanted)


def _refused(response: Response) -> bool:
    """The key may not do this: not the target's fault, the run cannot be made."""
    return response.status in (401, 403)


def _broken(name: str, message: str, *evidence: Response) -> Prerequisite:
    finding = Nonconformity(message, evidence).finding
    return Prerequisite(name, met=False, reason=message, finding=finding)


def _user(ctx: CheckContext) -> tuple[Prerequisite, str | None]:
    email = ctx.email("pre")
    created = ctx.client.post("/users", {"user": {"email": email}})
    if _refused(created):
        return Prerequisite(USER, False, f"POST /users was refused with HTTP {created.status}"), None
    auth_id = created_auth_id(created.json())
    if not 200 <= created.status < 300:
        message = f"POST /users with only a valid email answered HTTP {created.status}"
        return _broken(USER, message, created), None
    if auth_id is None:
        message = f"POST /users answered HTTP {created.status} without the user object"
        return _broken(USER, message, created), None
    read = ctx.client.get(f"/users/{auth_id}")
    if _refused(read):
        return Prerequisite(USER, False, f"GET /users/:auth_id was refused with HTTP {read.status}"), None
    shown = user_object(read.json())
    if read.status != 200 or shown is None or shown.get("auth_id") != auth_id:
        return _broken(
            USER, f"the user just created cannot be read back: GET answered HTTP {read.status}", created, read
        ), None
    return Prerequisite(USER, True), auth_id


def _answered_wrong(name: str, response: Response, what: str) -> Prerequisite:
    """A prerequisite whose request got no success: unmet if the key may not, else broken."""
    if _refused(response):
        return Prerequisite(name, False, f"{what} was refused with HTTP {response.status}")
    return _broken(name, f"{what} answered {describe(response)}", response)


def _funding(ctx: CheckContext, user: str) -> Prerequisite:
    try:
        token = ctx.brand_token_id  # discovery: finds the token credit_points accepts
    except RunError as err:
        return Prerequisite(FUNDING, False, str(err))
    before = ctx.api.read_balance(user, token)
    if isinstance(before, Response):
        return _answered_wrong(FUNDING, before, "GET /users/:auth_id/balances of a new user")
    credit = ctx.api.points("credit_points", user, FUNDING_AMOUNT, token)
    if credit.status != 202:
        return _answered_wrong(FUNDING, credit, f"credit_points of {FUNDING_AMOUNT} brand points")
    if not ctx.api.until_balance(user, before + FUNDING_AMOUNT, token):
        return _broken(
            FUNDING,
            f"credit_points of {FUNDING_AMOUNT} answered 202 but the balance did not rise by it within "
            f"{ctx.settings.settle_timeout:g} s",
            credit,
        )
    return Prerequisite(FUNDING, True)


def _pair(ctx: CheckContext) -> Prerequisite:
    listing = ctx.client.get(WHITELIST_PATH)
    if _refused(listing):
        return Prerequisite(PAIR, False, f"GET {WHITELIST_PATH} was refused with HTTP {listing.status}")
    if listing.status != 200:
        return _broken(PAIR, f"GET {WHITELIST_PATH} answered HTTP {listing.status}", listing)
    try:
        pairs = ctx.catalogue.exchangeable_pairs()
    except RunError as err:
        return Prerequisite(PAIR, False, str(err))
    if not pairs:
        return Prerequisite(
            PAIR,
            False,
            "the whitelist lists no active pair from the brand's token to a token with known rates "
            "(not crypto, not an NFT): no exchange rule can be tested",
        )
    return Prerequisite(PAIR, True)


def _own_credit(rows: list[dict[str, object]], user: str) -> bool:
    return any(
        reconcile.row_user_auth_id(row) in (user, None)
        and reconcile.row_number(row, "amount_received", "amount", "points") == FUNDING_AMOUNT
        for row in rows
    )


def _history(ctx: CheckContext, user: str) -> Prerequisite:
    last: list[Response] = []

    def listed() -> bool:
        last[:] = [ctx.api.history({"user_auth_id": user})]
        data = last[0].data()
        rows = data.get("transactions") if isinstance(data, dict) else None
        if last[0].status != 200 or not isinstance(rows, list):
            return True  # an answer that is not a list: judged below, no use waiting
        return _own_credit([r for r in rows if isinstance(r, dict)], user)

    found = polling.poll(listed, ctx.settings.settle_timeout)
    response = last[0]
    if _refused(response):
        return Prerequisite(HISTORY, False, f"GET /transactions was refused with HTTP {response.status}")
    data = response.data()
    if response.status != 200 or not isinstance(data, dict) or not isinstance(data.get("transactions"), list):
        return _broken(
            HISTORY,
            "GET /transactions?user_auth_id=<a user with a transaction> answered "
            f"HTTP {response.status} without a transaction list",
            response,
        )
    if not found:
        return _broken(
            HISTORY,
            f"a credit_points of {FUNDING_AMOUNT} accepted with 202 and shown in the balance never "
            f"appeared in GET /transactions?user_auth_id=<its user> within "
            f"{ctx.settings.settle_timeout:g} s",
            response,
        )
    return Prerequisite(HISTORY, True)


def _blocked(name: str, by: str) -> Prerequisite:
    return Prerequisite(name, False, f"needs '{by}', which was not met")


def establish(ctx: CheckContext, names: Iterable[str]) -> dict[str, Prerequisite]:
    """Establish ``names`` and what they stand on (funding and history need a user, the history
    needs the user funded), in order."""
    wanted = set(names)
    if HISTORY in wanted:
        wanted.add(FUNDING)
    if FUNDING in wanted:
        wanted.add(USER)
    found: dict[str, Prerequisite] = {}
    user: str | None = None
    if USER in wanted:
        found[USER], user = _user(ctx)
    if FUNDING in wanted:
        found[FUNDING] = _funding(ctx, user) if user is not None else _blocked(FUNDING, USER)
    if PAIR in wanted:
        found[PAIR] = _pair(ctx)
    if HISTORY in wanted:
        funded = user is not None and found[FUNDING].met
        found[HISTORY] = _history(ctx, user) if funded and user is not None else _blocked(HISTORY, FUNDING)
    return {n: found[n] for n in ORDER if n in found}


def incomplete(found: dict[str, Prerequisite]) -> str | None:
    """The one line of an INCOMPLETE run: the first prerequisite unmet with no finding behind it,
    and none of its own prerequisites broken by the target."""
    broken = any(p.finding is not None for p in found.values())
    for prerequisite in found.values():
        if not prerequisite.met and prerequisite.finding is None and not broken:
            return f"prerequisite not met: {prerequisite.name}: {prerequisite.reason}"
    return None


def require(found: dict[str, Prerequisite], name: str) -> None:
    """Stop a check that needs ``name`` when it was not met: untestable, except for the
    requirement that owns the broken rule, which fails with the finding."""
    prerequisite = found.get(name)
    if prerequisite is None or prerequisite.met:
        return
    if prerequisite.finding is not None and running_requirement() == prerequisite.owner:
        finding = prerequisite.finding
        raise Nonconformity(finding.message, finding.evidence)
    raise Untestable(f"prerequisite not met: {name}: {prerequisite.reason}", prerequisite=name)

"""Which generated cases are sent, and how they are spelled, so that only settled verdicts are asked.

A case whose verdict the documents do not settle is never sent (DECISIONS D124, D135):
an ambiguous integer spelling, an email only a strict RFC reading rejects. Generated
auth_ids are made routable (D125) and, in stateful runs, fresh on every replay.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import schemathesis

from qiibee_conformance.spec import iter_operations, load_spec, resolve

AnyCase = schemathesis.Case[Any]

# An email that contains "@" but is not plainly valid is where validators legitimately
# differ (RFC 5322 vs. a simple regex); such cases prove nothing either way.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PLAIN_EMAIL = re.compile(
    rf"(?=.{{1,254}}$)(?=[^@]{{1,64}}@)[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}"
)
# Strings a lenient integer parser reads as a number (Python's int() takes " 7", "+7",
# "1_0" and non-ASCII digits; float parsers take "7.0", "1e3") or as "not sent" ("").
_NUMERIC_LOOKING = re.compile(r"\s*[+-]?[\d_]*\.?[\d_]*([eE][+-]?[\d_]+)?\s*")


def integer_query_parameters() -> dict[str, frozenset[str]]:
    """The integer query parameters of each operation, by its label ("GET /users")."""
    spec = load_spec()
    found: dict[str, frozenset[str]] = {}
    for method, path, operation in iter_operations(spec):
        params = [resolve(spec, p) for p in operation.get("parameters", [])]
        found[f"{method} {path}"] = frozenset(
            p["name"]
            for p in params
            if p.get("in") == "query" and p.get("schema", {}).get("type") == "integer"
        )
    return found


# auth_ids a client can put in a URL path and get back: the documents suggest "the
# primary key you have for the user", and reserved characters are not a documented rule.
_URL_SAFE_ID = re.compile(r"[A-Za-z0-9._~-]+")


def _ambiguous_integer(value: object) -> bool:
    if isinstance(value, list):
        # One value on the wire: a list of a valid count (limit=[5] is "limit=5") is no
        # invalid input, whatever mode drew it.
        if len(value) != 1:
            return True
        item = value[0]
        valid = isinstance(item, int) and not isinstance(item, bool) and item >= 0
        return valid or _ambiguous_integer(item)
    if isinstance(value, dict) or value is None:
        return True
    # Integers of any size are sent: a huge limit or offset is valid input (200 or a 4xx),
    # a huge negative one invalid (a 4xx), and neither may get a 5xx.
    return isinstance(value, str) and _NUMERIC_LOOKING.fullmatch(value) is not None


def url_safe_auth_ids(case: AnyCase) -> AnyCase:
    """Give a generated ``user.auth_id`` string a URL-safe spelling (same input → same id).

    A correct server may store ``"a/b"`` but be unable to route ``/users/a%2Fb``;
    the stateful checks would then blame it for a resource it cannot serve back.
    Only strings are rewritten, so type mutations (negative data) are untouched.
    """
    body = case.body
    user = body.get("user") if isinstance(body, dict) else None
    auth_id = user.get("auth_id") if isinstance(user, dict) else None
    if isinstance(user, dict) and isinstance(auth_id, str) and not _URL_SAFE_ID.fullmatch(auth_id or "x"):
        digest = hashlib.sha256(auth_id.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        user["auth_id"] = f"gen-{digest}"
    return case


def is_ambiguous_case(case: AnyCase, integer_query: dict[str, frozenset[str]]) -> bool:
    """A case whose verdict the documents do not settle; it is never sent.

    Empty, numeric-looking, repeated or object-shaped values for integer query
    parameters (a correct server may read ``offset=`` as "not sent" or ``limit=+5``
    as 5; ``limit=[5]`` is ``limit=5`` on the wire), and emails with an "@" that only
    a strict RFC reading rejects.
    """
    query = case.query or {}
    for name in integer_query.get(case.operation.label, frozenset()):
        if name in query and _ambiguous_integer(query[name]):
            return True
    body = case.body if isinstance(case.body, dict) else {}
    user = body.get("user")
    email = user.get("email") if isinstance(user, dict) else None
    return isinstance(email, str) and "@" in email and _PLAIN_EMAIL.fullmatch(email) is None


def fresh_identities(case: AnyCase) -> AnyCase:
    """Give each user a stateful scenario creates a new ``auth_id`` and email.

    Replays of a scenario must see the same answers: the second time a
    documented example or a repeated draw is created it would be a duplicate
    (400, and a duplicate email may be either way), the scenario would take
    another path, and Hypothesis would stop the run as flaky. The ``auth_id`` is
    always sent ("The auth_id can be set by you"): the links read it from the
    request, since the created user may come back under ``data``, ``user`` or bare.
    """
    body = case.body
    user = body.get("user") if isinstance(body, dict) else None
    if case.operation.label != "POST /users" or not isinstance(user, dict):
        return case
    tag = uuid.uuid4().hex
    user["auth_id"] = f"st-{tag}"
    email = user.get("email")
    if isinstance(email, str) and _PLAIN_EMAIL.fullmatch(email):
        user["email"] = f"st-{tag[:20]}@{email.rpartition('@')[2]}"
    return case

"""How the contract tests drive schemathesis: one place for modes, checks and redaction.

The spec (``openapi/qiibee.yaml``) shapes *what* is generated; this module decides
*which* built-in checks judge the responses, because some of them demand more
than the documents do (see ``openapi/DECISIONS.md``, "Spec: which schemathesis checks
judge"). Only fail-level rules may fail here: a warn-level reading belongs to a
business check, which reports it as an advisory. Everything a failure prints goes
through the run's redactor so the API key never shows.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import hypothesis
import requests
import schemathesis
from schemathesis.checks import CheckContext
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import IgnoredAuth
from schemathesis.specs.openapi.checks import ignored_auth
from schemathesis.transport.requests import ManagedCookiesSession

from qiibee_conformance.client import API_KEY_HEADER
from qiibee_conformance.discovery import Catalogue
from qiibee_conformance.redact import Redactor, scrub_header_values
from qiibee_conformance.settings import Settings
from qiibee_conformance.spec import iter_operations, load_spec
from qiibee_conformance.transport import GuardedSession, Limits

Mode = Literal["positive", "negative", "stateful"]
AnyCase = schemathesis.Case[Any]

# A fixed seed: the same target gives the same run, and a failure can be replayed.
SEED = 20220601

# Built-in checks and whether each mode uses them. Excluded, with the reason
# (restated in DECISIONS.md):
# - positive_data_acceptance: schema-valid input is still refused for documented
#   business reasons (unknown user → 404, insufficient balance → 400, ...).
# - unsupported_method: demands 405 for undocumented methods; a 404 is as good, and a 2xx
#   is only an advisory (ERR-03 is a business check).
# - missing_required_header: no operation declares a required header besides the
#   security scheme, which ignored_auth covers.
# - max_response_time: the documents set no latency; the load test owns SLOs.
# - object_level_authorization: needs two principals; the documents have one key.
# - allow_header_conformance: only meaningful with 405 + Allow, which is not required.
# - ignored_auth itself: its probes bypass the suite's transport, so a rate-limited probe
#   would read as "auth not enforced"; IGNORED_AUTH (below) runs it and lets that case pass.
IGNORED_AUTH = "ignored_auth_unless_rate_limited"
_ALL_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "use_after_free",
    "ensure_resource_availability",
    "missing_required_header",
    "ignored_auth",
    "object_level_authorization",
    "unsupported_method",
    "allow_header_conformance",
    IGNORED_AUTH,
)
CHECKS: dict[Mode, frozenset[str]] = {
    "positive": frozenset(
        {
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_schema_conformance",
            "response_headers_conformance",
            IGNORED_AUTH,
        }
    ),
    "negative": frozenset(
        {
            "not_a_server_error",
            "negative_data_rejection",
            "status_code_conformance",
            "content_type_conformance",
            "response_schema_conformance",
            "response_headers_conformance",
        }
    ),
    "stateful": frozenset(
        {
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_schema_conformance",
            "response_headers_conformance",
            "use_after_free",
            "ensure_resource_availability",
        }
    ),
}

# Stateful runs are bounded so they take seconds: few scenarios, few steps each.
STATEFUL_MAX_STEPS = 8

# Statuses that are not a server error: schemathesis' defaults, plus a 503, which is tolerated
# with Retry-After (the spec declares the header required, so response_headers_conformance
# still fails a 503 without it). The transport waits both 429 and 503 + Retry-After out first.
NOT_A_SERVER_ERROR = ("2XX", "3XX", "4XX", "503")
_PROBE_STATUS = re.compile(r"got `(\d{3})\b")
_RATE_LIMITED_PROBE = frozenset({429, 503})


@schemathesis.check
def ignored_auth_unless_rate_limited(ctx: CheckContext, response: Any, case: AnyCase) -> bool | None:
    """schemathesis' ``ignored_auth``, except that a probe answered 429 or 503 proves nothing.

    Its probes (the request without the key, and with a wrong one) go out on a fresh
    session, not through the suite's transport, so rate limiting is not waited out there.
    Rate limiting is tolerated anywhere; AUTH-01/AUTH-02 judge the key on every operation
    through the transport.
    """
    __tracebackhide__ = True
    try:
        return ignored_auth(ctx, response, case)
    except IgnoredAuth as failure:
        found = _PROBE_STATUS.search(failure.message or "")
        if found is not None and int(found.group(1)) in _RATE_LIMITED_PROBE:
            return None
        raise


def negatable_operation_ids() -> list[str]:
    """Operations with input the documents can call invalid: a body, or a typed query parameter.

    The others take only opaque path strings (an unknown auth_id is "not found",
    not invalid input), so schemathesis has no negative case to make for them.
    """
    spec = load_spec()
    found: list[str] = []
    for _method, _path, operation in iter_operations(spec):
        params = [_resolve(spec, p) for p in operation.get("parameters", [])]
        typed = any(p.get("schema", {}).get("type") not in (None, "string") for p in params)
        if "requestBody" in operation or typed:
            found.append(operation["operationId"])
    return found


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return node
    target: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return dict(target)


def _config(settings: Settings, mode: Mode) -> schemathesis.Config:
    generation_mode = "negative" if mode == "negative" else "positive"
    max_examples = max(1, settings.max_examples if mode != "stateful" else min(settings.max_examples, 15))
    data: dict[str, Any] = {
        "seed": SEED,
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large", "large_base_example"],
        "base-url": settings.base,
        "headers": {API_KEY_HEADER: settings.api_key},
        "request-timeout": settings.request_timeout,
        "generation": {
            "mode": generation_mode,
            "max-examples": max_examples,
            # No .hypothesis/ directory in the user's working tree; a run is replayed by its seed.
            "database": "none",
        },
        "phases": {
            # Documented examples are valid input: they belong to the positive run only.
            "examples": {"enabled": mode == "positive"},
            "coverage": {"enabled": False},
            "fuzzing": {"enabled": mode != "stateful"},
            "stateful": {"enabled": mode == "stateful", "max-steps": STATEFUL_MAX_STEPS},
        },
        "checks": {
            **{name: {"enabled": name in CHECKS[mode]} for name in _ALL_CHECKS},
            # Invalid input is "a 4xx", any of them; schemathesis' default list leaves out
            # 404, 410, 413, 414, ... (a 5xx is still not_a_server_error's finding).
            "negative_data_rejection": {
                "enabled": "negative_data_rejection" in CHECKS[mode],
                "expected-statuses": ["4XX", "5XX"],
            },
            "not_a_server_error": {
                "enabled": "not_a_server_error" in CHECKS[mode],
                "expected-statuses": list(NOT_A_SERVER_ERROR),
            },
        },
        "output": {
            "sanitization": {
                # The defaults also mask anything named *auth* or *token*, which hides
                # user_auth_id and token_id and makes the curl line useless. The key
                # itself is masked here and, by value, by the run's redactor.
                "keys-to-sanitize": list(_SECRET_KEYS),
                "sensitive-markers": ["secret", "password", "passwd", "credential", "api-key", "api_key"],
            }
        },
    }
    return schemathesis.Config.from_dict(data)


_SECRET_KEYS = ("x-api-key", "x_api_key", "authorization", "proxy-authorization", "cookie", "set-cookie")

# An email that contains "@" but is not plainly valid is where validators legitimately
# differ (RFC 5322 vs. a simple regex); such cases prove nothing either way.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PLAIN_EMAIL = re.compile(
    rf"(?=.{{1,254}}$)(?=[^@]{{1,64}}@)[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}"
)
# Strings a lenient integer parser reads as a number (Python's int() takes " 7", "+7",
# "1_0" and non-ASCII digits; float parsers take "7.0", "1e3") or as "not sent" ("").
_NUMERIC_LOOKING = re.compile(r"\s*[+-]?[\d_]*\.?[\d_]*([eE][+-]?[\d_]+)?\s*")


def _integer_query_parameters() -> dict[str, frozenset[str]]:
    spec = load_spec()
    found: dict[str, frozenset[str]] = {}
    for method, path, operation in iter_operations(spec):
        params = [_resolve(spec, p) for p in operation.get("parameters", [])]
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


def add_transaction_links(raw: dict[str, Any], catalogue: Catalogue) -> None:
    """Let the state machine fund a user and exchange, with the target's own token ids.

    Token ids are discovered, never hard-coded, so these links cannot live in the
    YAML: they are added to the loaded document before schemathesis sees it.
    """
    users_created = raw["paths"]["/users"]["post"]["responses"]["201"].setdefault("links", {})
    brand_token = catalogue.brand_token.id
    users_created["CreditPointsToUser"] = {
        "operationId": "createTransaction",
        "x-schemathesis": {"merge_body": False},
        "requestBody": {
            "transaction": {
                "type": "credit_points",
                "user_auth_id": "$request.body#/user/auth_id",
                "token_id": brand_token,
                "amount": 1000,
            }
        },
    }
    accepted = raw["paths"]["/transactions"]["post"]["responses"]["202"].setdefault("links", {})
    accepted["HistoryOfTransactionUser"] = {
        "operationId": "listTransactions",
        "parameters": {"user_auth_id": "$request.body#/transaction/user_auth_id"},
    }
    accepted["BalancesOfTransactionUser"] = {
        "operationId": "getBalances",
        "parameters": {"auth_id": "$request.body#/transaction/user_auth_id"},
    }
    # An exchange along a pair that needs no membership number (points to points).
    for pair in catalogue.pairs:
        if pair.from_token.id == brand_token and pair.to_token.type not in {"miles", "crypto", "erc721"}:
            accepted["ExchangeForTransactionUser"] = {
                "operationId": "createTransaction",
                "x-schemathesis": {"merge_body": False},
                "requestBody": {
                    "transaction": {
                        "type": "exchange",
                        "user_auth_id": "$request.body#/transaction/user_auth_id",
                        "brandA_token_id": brand_token,
                        "brandB_token_id": pair.to_token.id,
                        "amount": 10,
                    }
                },
            }
            break


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


def _failure_in(exc: BaseException) -> FailureGroup | None:
    if isinstance(exc, FailureGroup):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _failure_in(inner)
            if found is not None:
                return found
    return None


def _is_replay_divergence(exc: BaseException) -> bool:
    if isinstance(exc, hypothesis.errors.Flaky):
        return True
    # Hypothesis asserts (rather than raising Flaky) when a replay draws past a value it rejected before.
    traceback = exc.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    return (
        isinstance(exc, AssertionError)
        and traceback is not None
        and traceback.tb_frame.f_globals.get("__name__") == "hypothesis.internal.conjecture.datatree"
    )


def run_state_machine(machine: Any, settings: hypothesis.settings) -> str | None:
    """Run the scenarios; a check failure raises, a replay that diverged returns a note.

    A stateful target answers a replayed scenario differently when its state has
    moved on; Hypothesis then stops with ``Flaky``. That says nothing about the
    contract, so, as schemathesis' own runner does, it is a failure only if a
    check failed on the way.
    """
    __tracebackhide__ = True
    try:
        machine.run(settings=settings)
    except FailureGroup:
        raise
    except (hypothesis.errors.Flaky, AssertionError) as exc:
        failure = _failure_in(exc)
        if failure is not None:
            raise failure from None
        if not _is_replay_divergence(exc):
            raise
        kind = type(exc).__name__
        return f"the stateful run stopped early: the target answered a replayed scenario differently ({kind})"
    return None


def load_schema(settings: Settings, mode: Mode, *, catalogue: Catalogue | None = None) -> Any:
    """The spec as a schemathesis schema aimed at the target, configured for ``mode``."""
    raw = load_spec()
    if catalogue is not None:
        add_transaction_links(raw, catalogue)
    schema = schemathesis.openapi.from_dict(raw, config=_config(settings, mode))
    integer_query = _integer_query_parameters()

    @schema.hook("filter_case")
    def _drop_ambiguous(context: schemathesis.HookContext, case: AnyCase) -> bool:
        return not is_ambiguous_case(case, integer_query)

    @schema.hook("map_case")
    def _routable_auth_ids(context: schemathesis.HookContext, case: AnyCase) -> AnyCase:
        case = url_safe_auth_ids(case)
        return fresh_identities(case) if mode == "stateful" else case

    return schema


def build_state_machine(schema: Any) -> Any:
    """``schema.as_state_machine()``, with POST /users allowed to start a scenario.

    schemathesis guesses resource dependencies from field names and reads the
    create body's ``auth_id`` as a reference to an "Auth" resource that nothing
    produces, so it never starts a scenario with POST /users and the documented
    chains (user → membership → delete, user → credit → exchange) never run.
    Guessed inputs naming a resource no operation produces are dropped first; if
    schemathesis' internals change shape, its own choice stands.
    """
    try:
        graph = schema.analysis.dependency_graph
        produced = {out.resource.name for node in graph.operations.values() for out in node.outputs}
        for node in graph.operations.values():
            node.inputs = [slot for slot in node.inputs if slot.resource.name in produced]
    except AttributeError:
        pass
    return schema.as_state_machine()


def redactor_for(settings: Settings) -> Redactor:
    return Redactor([settings.api_key])


def redact_failure(exc: FailureGroup, redactor: Redactor) -> FailureGroup:
    """The same failures, with a message safe to print (schemathesis already masks the header)."""
    message = scrub_header_values(redactor.text(exc.message))
    redacted = FailureGroup(list(exc.exceptions), message)
    redacted.__notes__ = [scrub_header_values(redactor.text(n)) for n in getattr(exc, "__notes__", [])]
    return redacted


@contextmanager
def redacted_failures(redactor: Redactor) -> Iterator[None]:
    """Re-raise schemathesis failures with the key scrubbed from the message."""
    try:
        yield
    except FailureGroup as exc:
        raise redact_failure(exc, redactor) from None


class _GeneratedCallsSession(GuardedSession, ManagedCookiesSession):
    """The suite's transport rules (redirects only within the origin, rate limits waited out,
    bounded bodies) on the session class whose cookies schemathesis drops between calls."""


def http_session(limits: Limits | None = None) -> requests.Session:
    """One keep-alive session for a run's generated requests, as schemathesis' own runner keeps.

    Without it every case opens a new connection. It adds no headers of its own
    (the case and the config supply them) and drops response cookies after
    every request, like the throwaway session schemathesis makes per call.
    """
    session = _GeneratedCallsSession(limits)
    session.headers.clear()
    return session


def call_and_validate(case: AnyCase, redactor: Redactor, session: requests.Session | None = None) -> None:
    """One generated request, judged by the checks enabled for its mode."""
    __tracebackhide__ = True
    with redacted_failures(redactor):
        case.call_and_validate(session=session)


def pytest9_nodeid_shim(node: Any) -> None:
    """schemathesis 4.32's ``from_fixture`` reads ``node._nodeid``, which pytest 9.2 dropped.

    It only uses the attribute to relabel the test in its own output, so a plain
    attribute holding the node id is enough; a no-op on pytest versions that have it.
    """
    if not hasattr(node, "_nodeid"):
        node._nodeid = node.nodeid

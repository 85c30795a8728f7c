"""How the contract tests drive schemathesis: one place for modes, checks and redaction.

The spec (``openapi/qiibee.yaml``) shapes *what* is generated; this module decides
*which* built-in checks judge the responses, because some of them demand more
than the documents do (see ``openapi/DECISIONS.md`` § Checks). Everything a
failure prints goes through the run's redactor so the API key never shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import schemathesis
from schemathesis.core.failures import FailureGroup

from qiibee_conformance.client import API_KEY_HEADER
from qiibee_conformance.discovery import Catalogue
from qiibee_conformance.redact import Redactor, scrub_header_values
from qiibee_conformance.settings import Settings
from qiibee_conformance.spec import iter_operations, load_spec

Mode = Literal["positive", "negative", "stateful"]

# A fixed seed: the same target gives the same run, and a failure can be replayed.
SEED = 20220601

# Built-in checks and whether each mode uses them. Excluded, with the reason
# (restated in DECISIONS.md):
# - positive_data_acceptance: schema-valid input is still refused for documented
#   business reasons (unknown user → 404, insufficient balance → 400, ...).
# - unsupported_method: demands 405 for undocumented methods; the notes allow any
#   4xx (ERR-03 is a business check).
# - missing_required_header: no operation declares a required header besides the
#   security scheme, which ignored_auth covers.
# - max_response_time: the documents set no latency; the load test owns SLOs.
# - object_level_authorization: needs two principals; the documents have one key.
# - allow_header_conformance: only meaningful with 405 + Allow, which is not required.
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
)
CHECKS: dict[Mode, frozenset[str]] = {
    "positive": frozenset(
        {
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_schema_conformance",
            "response_headers_conformance",
            "ignored_auth",
        }
    ),
    "negative": frozenset(
        {
            "not_a_server_error",
            "negative_data_rejection",
            "status_code_conformance",
            "content_type_conformance",
            "response_schema_conformance",
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
        "checks": {name: {"enabled": name in CHECKS[mode]} for name in _ALL_CHECKS},
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
_PLAIN_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
# Strings a lenient integer parser reads as a number (Python's int() takes " 7", "+7",
# "1_0" and non-ASCII digits; float parsers take "7.0", "1e3") or as "not sent" ("").
_NUMERIC_LOOKING = re.compile(r"\s*[+-]?[\d_]*\.?[\d_]*([eE][+-]?[\d_]+)?\s*")


def _integer_query_parameters() -> dict[str, frozenset[str]]:
    spec = load_spec()
    found: dict[str, frozenset[str]] = {}
    for method, path, operation in iter_operations(spec):
        params = [_resolve(spec, p) for p in operation.get("parameters", [])]
        found[f"{method} {path}"] = frozenset(
            p["name"] for p in params if p.get("in") == "query" and p.get("schema", {}).get("type") == "integer"
        )
    return found


def _ambiguous_integer(value: object) -> bool:
    if isinstance(value, list):
        return len(value) != 1 or _ambiguous_integer(value[0])
    if isinstance(value, dict) or value is None:
        return True
    return isinstance(value, str) and _NUMERIC_LOOKING.fullmatch(value) is not None


def is_ambiguous_case(case: schemathesis.Case, integer_query: dict[str, frozenset[str]]) -> bool:
    """A case whose verdict the documents do not settle; it is never sent.

    Only negative generation produces these: empty, numeric-looking, repeated or
    object-shaped values for integer query parameters (a correct server may read
    ``offset=`` as "not sent" or ``limit=+5`` as 5), and emails with an "@" that
    only a strict RFC reading rejects.
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
                "user_auth_id": "$response.body#/data/auth_id",
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


def load_schema(settings: Settings, mode: Mode, *, catalogue: Catalogue | None = None) -> Any:
    """The spec as a schemathesis schema aimed at the target, configured for ``mode``."""
    raw = load_spec()
    if catalogue is not None:
        add_transaction_links(raw, catalogue)
    schema = schemathesis.openapi.from_dict(raw, config=_config(settings, mode))
    integer_query = _integer_query_parameters()

    @schema.hook("filter_case")
    def _drop_ambiguous(context: schemathesis.HookContext, case: schemathesis.Case) -> bool:
        return not is_ambiguous_case(case, integer_query)

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


def call_and_validate(case: schemathesis.Case, redactor: Redactor) -> None:
    """One generated request, judged by the checks enabled for its mode."""
    __tracebackhide__ = True
    with redacted_failures(redactor):
        case.call_and_validate()


CaseRunner = Callable[[schemathesis.Case], None]


def pytest9_nodeid_shim(node: Any) -> None:
    """schemathesis 4.32's ``from_fixture`` reads ``node._nodeid``, which pytest 9.2 dropped.

    It only uses the attribute to relabel the test in its own output, so a plain
    attribute holding the node id is enough; a no-op on pytest versions that have it.
    """
    if not hasattr(node, "_nodeid"):
        node._nodeid = node.nodeid

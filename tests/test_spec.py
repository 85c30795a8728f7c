"""openapi/qiibee.yaml is a valid spec that says what the documents say, and spec.py reads it right.

The spec is the product's reading of the documents: a wrong status list or an
over-strict schema fails correct servers, so these tests pin each decision that
DECISIONS.md records. Every test stands on files inside the repository, except the
two that hold DECISIONS.md's quotes and the spec's section names against the vendor
documents themselves: those read them from $QIIBEE_API_DOCS, else from
``<repo>/../shared/api-docs``, and are skipped when neither is there.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

import tests.spec_validation as spec_schemas
from qiibee_conformance import spec
from tests.vendor_docs import DOC_FILES, REPO, vendor_texts

DECISIONS = REPO / "openapi" / "DECISIONS.md"
# Sources an x-doc-section may name: the two documents, and the vendor's Points Bank pages
# (restated in DECISIONS.md, not quoted).
DOC_TITLES = (*DOC_FILES, "Points Bank API")
LEVELS = ("fail", "warn", "tolerated", "spec")
HEADING = re.compile(r"### D(?P<n>[1-9][0-9]*) · (?P<level>[a-z]+) · (?P<title>\S.*)")


# Statuses each document section names for the operation (plus 401 from the vendor's
# Authentication page: every endpoint requires X-API-KEY).
DOCUMENTED_STATUSES: dict[str, set[str]] = {
    "createUser": {"201", "400", "401"},
    "listUsers": {"200", "404", "401"},
    "getUser": {"200", "404", "401"},
    "updateUser": {"200", "404", "400", "401"},
    "patchUser": {"200", "404", "400", "401"},
    "createMembership": {"201", "404", "400", "401"},
    "listMemberships": {"200", "401"},
    "getMembership": {"200", "404", "401"},
    "deleteMembership": {"204", "404", "400", "401"},
    "getBalances": {"200", "404", "401"},
    "createTransaction": {"202", "400", "401"},
    "listTransactions": {"200", "404", "401"},
    "listExchangePartnerships": {"200", "401"},
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return spec.load_spec()


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    """The vendor documents by title (outside the repository); the test is skipped without them."""
    return vendor_texts()


@pytest.fixture(scope="module")
def decisions() -> str:
    return DECISIONS.read_text(encoding="utf-8")


def _ops(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for _m, _p, op in spec.iter_operations(document)}


def _deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    root = {"components": {"schemas": spec_schemas.to_json_schema(spec_schemas.component_schemas(document))}}
    root.update(spec_schemas.to_json_schema(copy.deepcopy(schema)))
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_spec_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.0.")


def test_every_documented_operation_is_present(document: dict[str, Any]) -> None:
    found = {(m, p) for m, p, _ in spec.iter_operations(document)}
    assert found == {
        ("POST", "/users"), ("GET", "/users"),
        ("GET", "/users/{auth_id}"), ("PUT", "/users/{auth_id}"), ("PATCH", "/users/{auth_id}"),
        ("POST", "/users/{auth_id}/memberships"), ("GET", "/users/{auth_id}/memberships"),
        ("GET", "/users/{auth_id}/memberships/{implementation_name}"),
        ("DELETE", "/users/{auth_id}/memberships/{implementation_name}"),
        ("GET", "/users/{auth_id}/balances"),
        ("POST", "/transactions"), ("GET", "/transactions"),
        ("GET", "/token-exchange-whitelist"),
    }  # fmt: skip


def _doc_sections(op: dict[str, Any]) -> list[tuple[str, str]]:
    """``(document title, section heading)`` pairs of an operation's ``x-doc-section``."""
    found: list[tuple[str, str]] = []
    name = ""
    for part in str(op.get("x-doc-section", "")).split(";"):
        title_part, _, heading = part.strip().partition("§")
        name = title_part.strip() or name  # "§ Heading" continues the previous document
        found.append((name, heading.split(" (")[0].strip()))
    return found


def test_every_operation_names_a_document_section(document: dict[str, Any]) -> None:
    for method, path, op in spec.iter_operations(document):
        assert isinstance(op.get("x-doc-section"), str), f"{method} {path} names no document section"
        for name, heading in _doc_sections(op):
            assert name in DOC_TITLES, f"{method} {path}: unknown document {name!r}"
            assert heading, f"{method} {path}: {name} names no section"
        assert "§" in op["description"], f"{method} {path}: the description names no section"


def test_every_named_section_exists_in_the_documents(document: dict[str, Any], texts: dict[str, str]) -> None:
    for method, path, op in spec.iter_operations(document):
        for name, heading in _doc_sections(op):
            if name in texts:
                assert heading in texts[name], f"{method} {path}: {heading!r} is not in the {name}"


# Statuses a correct server may choose besides the documented ones (DECISIONS.md): a second
# create of a membership replaced with 200; bad list data as 400 as well as the documented 404.
TOLERATED_STATUSES: dict[str, set[str]] = {
    "createMembership": {"200"},
    "listUsers": {"400", "404"},
    "listTransactions": {"400", "404"},
}


def test_every_documented_and_tolerated_status_is_declared(document: dict[str, Any]) -> None:
    ops = _ops(document)
    assert set(ops) == set(DOCUMENTED_STATUSES)
    for op_id, statuses in DOCUMENTED_STATUSES.items():
        declared = set(ops[op_id]["responses"])
        wanted = statuses | TOLERATED_STATUSES.get(op_id, set())
        assert wanted <= declared, f"{op_id} lacks {wanted - declared}"
        # "a 4xx" for a client's mistake, bad paging data, an undocumented method (422, 415, 405 ...).
        assert "4XX" in declared, f"{op_id} has no 4XX"
        # Rate limiting is tolerated anywhere: 429, and 503 with Retry-After (the only 5xx).
        assert {"429", "503"} <= declared, f"{op_id} does not declare rate limiting"
        assert {s for s in declared if s.startswith("5")} == {"503"}, f"{op_id} declares another 5xx"
        unavailable = _deref(document, ops[op_id]["responses"]["503"])
        assert unavailable["headers"]["Retry-After"]["required"] is True


def test_error_answers_accept_any_body(document: dict[str, Any]) -> None:
    """No error response declares a body: that it is a JSON object is a warn-level reading, so
    content_type_conformance and response_schema_conformance must accept plain text and empty bodies."""
    for method, path, op in spec.iter_operations(document):
        for status, response in op["responses"].items():
            if status[0] in "45":
                declared = _deref(document, response)
                assert "content" not in declared, f"{method} {path} {status} declares a body"
    # ErrorBody is the reading ERR-01 applies; no response refers to it.
    everything = str(document["paths"]) + str(document["components"])
    assert "ErrorBody" not in re.findall(r"#/components/schemas/(\w+)", everything)


def test_api_key_security_applies_globally(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-API-KEY"}
    assert document["security"] == [{"ApiKeyAuth": []}]
    for method, path, op in spec.iter_operations(document):
        assert "security" not in op, f"{method} {path} overrides the global security"


def _examples(document: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    found: list[tuple[str, dict[str, Any], Any]] = []
    for method, path, op in spec.iter_operations(document):
        label = f"{method} {path}"
        body = _deref(document, op.get("requestBody", {}))
        for media in body.get("content", {}).values():
            for name, example in media.get("examples", {}).items():
                found.append((f"{label} request {name}", media["schema"], example["value"]))
        for status, response in op["responses"].items():
            for media in _deref(document, response).get("content", {}).values():
                if "example" in media:
                    found.append((f"{label} {status}", media["schema"], media["example"]))
        for raw_param in list(document["paths"][path].get("parameters", [])) + op.get("parameters", []):
            param = _deref(document, raw_param)
            if "example" in param:
                found.append((f"{label} parameter {param['name']}", param["schema"], param["example"]))
    return found


def test_every_example_validates_against_its_schema(document: dict[str, Any]) -> None:
    examples = _examples(document)
    assert len(examples) >= 25
    for label, schema, value in examples:
        errors = [e.message for e in _validator(document, schema).iter_errors(value)]
        assert not errors, f"{label}: {errors}"


def test_links_point_at_existing_operations_and_parameters(document: dict[str, Any]) -> None:
    ops = _ops(document)
    links = 0
    for method, path, op in spec.iter_operations(document):
        for status, response in op["responses"].items():
            for name, link in _deref(document, response).get("links", {}).items():
                links += 1
                target = ops.get(link["operationId"])
                assert target is not None, f"{method} {path} {status} {name}"
                target_path = next(p for _m, p, o in spec.iter_operations(document) if o is target)
                declared = document["paths"][target_path].get("parameters", []) + target.get("parameters", [])
                names = {_deref(document, p)["name"] for p in declared}
                assert set(link.get("parameters", {})) <= names, f"{name}: {link['parameters']} vs {names}"
    assert links >= 10


def test_request_schemas_never_forbid_unknown_fields(document: dict[str, Any]) -> None:
    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            assert node.get("additionalProperties", True) is not False, where
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(document["components"]["schemas"], "#/components/schemas")


REQUEST_CASES: list[tuple[str, Any, bool]] = [
    # Create user: wrapper object + email mandatory; everything else optional and loose.
    ("UserCreateRequest", {"user": {"email": "a@example.com"}}, True),
    ("UserCreateRequest", {"user": {"email": "a@example.com", "id": 7, "zz": 1, "auth_id": None}}, True),
    ("UserCreateRequest", {"user": {"email": "a@example.com", "auth_id": ""}}, True),  # empty: generated
    ("UserCreateRequest", {"user": {"email": "a@example.com", "auth_id": 42}}, True),  # "the primary key"
    ("UserCreateRequest", {"user": {"email": "a@example.com", "auth_id": ["x"]}}, False),
    ("UserCreateRequest", {"user": {"email": "a@example.com", "metadata": None, "language": None}}, True),
    ("UserCreateRequest", {"user": {"first_name": "x"}}, False),
    ("UserCreateRequest", {"email": "a@example.com"}, False),
    ("UserCreateRequest", {"user": {"email": "not an email"}}, False),
    ("UserCreateRequest", {"user": {"email": "a@example.com", "metadata": "x"}}, False),
    ("UserUpdateRequest", {"user": {}}, True),
    ("UserUpdateRequest", {"user": {"auth_id": 12, "id": None}}, True),
    # An invalid email on update is refused only in a warn-level reading: not negative data.
    ("UserUpdateRequest", {"user": {"email": "not an email"}}, True),
    ("UserUpdateRequest", {"user": {"email": 7}}, False),
    ("UserUpdateRequest", [], False),
    ("MembershipCreateRequest", {"membership": {"brand_id": "alaska", "membership_number": "1"}}, True),
    ("MembershipCreateRequest", {"membership": {"brand_id": "etihad"}}, False),
    ("MembershipCreateRequest", {"membership": {"brand_id": "etihad", "membership_number": ""}}, False),
    # Transactions: amount an integer or digit string > 0; never decimal, zero or negative.
    ("PointsAmount", 10, True),
    ("PointsAmount", "10", True),
    ("PointsAmount", "007", True),
    ("PointsAmount", 0, False),
    ("PointsAmount", -3, False),
    ("PointsAmount", 2.5, False),
    ("PointsAmount", "2.5", False),
    ("PointsAmount", "0", False),
    ("PointsAmount", "1/2", False),
    ("TransactionRequest", {"transaction": {"type": "credit_points", "user_auth_id": "u", "token_id": 1,
                                            "amount": 5}}, True),
    ("TransactionRequest", {"transaction": {"reward_type": "points_to_nft_exchange", "from_token_id": 1,
                                            "to_token_id": 387, "user_auth_id": "u"}}, True),
    ("TransactionRequest", {"transaction": {"reward_type": "points_to_nft_exchange", "from_token_id": 1,
                                            "user_auth_id": "u"}}, False),
    ("TransactionRequest", {"transaction": {"type": "exchange", "user_auth_id": "u", "brandA_token_id": 1,
                                            "brandB_token_id": 2, "amount": "3"}}, True),
    ("TransactionRequest", {"transaction": {"type": "exchange", "user_auth_id": "u", "brandA_token_id": 1,
                                            "brandB_token_id": 2, "amount": 0.5}}, False),
]  # fmt: skip


@pytest.mark.parametrize(("name", "instance", "valid"), REQUEST_CASES)
def test_request_schemas_encode_exactly_the_documented_constraints(
    document: dict[str, Any], name: str, instance: Any, valid: bool
) -> None:
    validator = _validator(document, {"$ref": f"#/components/schemas/{name}"})
    assert validator.is_valid(instance) is valid, list(validator.iter_errors(instance))


def test_query_parameters_constrain_only_what_is_called_invalid(document: dict[str, Any]) -> None:
    params = document["components"]["parameters"]
    # Negative or non-integer: a 4xx under every reading. limit=0 is valid input (200 with an
    # empty page, "exactly as in SQL", or a 4xx); over 100 is tolerated, so no maximum.
    assert params["Limit"]["schema"] == {"type": "integer", "minimum": 0}
    assert params["Offset"]["schema"] == {"type": "integer", "minimum": 0}
    # Times are plain strings: no `format: date-time` (which demands a zone).
    assert params["FromTime"]["schema"] == {"type": "string"}
    assert params["ToTime"]["schema"] == {"type": "string"}
    history = _ops(document)["listTransactions"]["parameters"]
    by_name = {p.get("name"): p for p in history if "name" in p}
    assert by_name["types"]["explode"] is True
    assert {"type": "string"} in by_name["types"]["schema"]["anyOf"]  # unknown values are tolerated


TOKEN = {"id": 12, "type": "erc20", "onramp": "24.2", "offramp": None}
TX = {"id": 1, "loyalty_event_type": "exchange", "status": "pending", "inserted_at": "2021-09-27T14:31:10"}
USER = {"id": "x", "email": "a@b.co", "auth_id": "y"}
MEMBERSHIP = {"membership_number": "100014486294", "brand": {"id": "etihad"}}

PAIR = {"id": 1, "from_token": TOKEN}

RESPONSE_CASES: list[tuple[str, Any, bool]] = [
    ("WhitelistEnvelope", {"data": [{**PAIR, "to_token": {**TOKEN, "id": "13"}}]}, True),
    ("WhitelistEnvelope", {"data": [{**PAIR, "to_token": {**TOKEN, "id": "x1"}}]}, False),
    ("WhitelistEnvelope", {"data": {"pairs": []}}, False),
    ("Token", {**TOKEN, "onramp": "abc"}, False),
    ("Token", {**TOKEN, "onramp": 24.2}, True),  # decimals: a string or a JSON number
    ("Token", {**TOKEN, "onramp": "0E-18", "offramp": 23}, True),
    ("Token", {**TOKEN, "onramp": True}, False),
    ("ExchangePair", {**PAIR, "to_token": TOKEN, "max_usd_exchange_limit": 100.5,
                      "min_usd_exchange_limit": "0.010000000000000000"}, True),
    ("Token", {**TOKEN, "new_field": [1]}, True),
    ("HistoryEnvelope", {"data": {"transactions": [TX], "total_tx_count": 1}}, True),
    ("HistoryEnvelope", {"data": {"transactions": [{**TX, "inserted_at": "2021-09-27T14:31:10.123456Z"}],
                                  "total_tx_count": 1}}, True),
    ("HistoryEnvelope", {"data": {"transactions": [{**TX, "inserted_at": "2021-09-27T14:31:10+02:00"}],
                                  "total_tx_count": 1}}, True),
    ("HistoryEnvelope", {"data": {"transactions": [{**TX, "inserted_at": "yesterday"}], "total_tx_count": 1}},
     False),
    ("HistoryEnvelope", {"data": {"transactions": [{**TX, "token": None, "user": None, "points_burned": "10",
                                                    "amount_received": None}], "total_tx_count": 1}}, True),
    ("HistoryEnvelope", {"data": {"transactions": []}}, False),
    ("HistoryEnvelope", {"data": {"transactions": [{**TX, "status": "in_flight", "amount_received": 1.5}],
                                  "total_tx_count": 1}}, True),  # any status name; a numeric decimal
    ("HistoryEnvelope", {"data": {"transactions": [TX] * 100, "total_tx_count": 500}}, True),
    ("HistoryEnvelope", {"data": {"transactions": [TX] * 101, "total_tx_count": 500}}, False),
    ("UserListEnvelope", {"data": {"users": [USER] * 101, "total_count": 500}}, False),
    ("UserListEnvelope", {"data": {"users": [], "total_count": 3, "limit": 0, "offset": 0}}, True),
    ("UserEnvelope", {"data": {"id": "x", "email": "a@b.co", "auth_id": "y", "metadata": None}}, True),
    ("UserEnvelope", {"data": {"id": "x", "email": "a@b.co"}}, False),
    ("UserEnvelope", {"user": {"id": "x", "email": "a@b.co", "auth_id": "y"}}, False),  # GET: under data
    # Create and update answer "with the user object": under data, under user, or bare.
    ("UserResponse", {"data": USER}, True),
    ("UserResponse", {"user": USER}, True),
    ("UserResponse", USER, True),
    ("UserResponse", {"data": {"id": "x", "email": "a@b.co"}}, False),
    ("UserResponse", {"ok": True}, False),
    # Create membership: the membership or the user, under data or bare.
    ("MembershipCreatedResponse", {"data": MEMBERSHIP}, True),
    ("MembershipCreatedResponse", {"data": USER}, True),
    ("MembershipCreatedResponse", MEMBERSHIP, True),
    ("MembershipCreatedResponse", USER, True),
    ("MembershipCreatedResponse", {"membership": MEMBERSHIP}, True),
    ("MembershipCreatedResponse", {"data": {"membership_number": "1"}}, False),
    ("MembershipListEnvelope", {"data": []}, True),
    ("BalancesEnvelope", {"data": [{"balance": 10, "token": TOKEN}]}, True),
    ("BalancesEnvelope", {"data": [{"balance": "10", "token": TOKEN}]}, True),
    ("BalancesEnvelope", {"data": [{"token": TOKEN}]}, False),
    # The warn-level reading of an error body (ERR-01's advisory; no response refers to it).
    ("ErrorBody", {"error": "invalid email"}, True),
    ("ErrorBody", {"errors": {"detail": "m"}}, True),
    ("ErrorBody", {}, False),
    ("ErrorBody", "not found", False),
]  # fmt: skip


@pytest.mark.parametrize(("name", "instance", "valid"), RESPONSE_CASES)
def test_response_validator_accepts_tolerated_variants_only(name: str, instance: Any, valid: bool) -> None:
    validator = spec_schemas.response_validator(name)
    assert validator.is_valid(instance) is valid, list(validator.iter_errors(instance))


def test_response_validator_rejects_unknown_names() -> None:
    with pytest.raises(KeyError, match="NoSuchSchema"):
        spec_schemas.response_validator("NoSuchSchema")


def test_operation_response_validator_follows_refs_and_ranges() -> None:
    assert spec_schemas.operation_response_validator("createTransaction", 202) is None
    assert spec_schemas.operation_response_validator("deleteMembership", 204) is None
    assert spec_schemas.operation_response_validator("getUser", 404) is None  # error answers: any body
    assert spec_schemas.operation_response_validator("getUser", 422) is None  # falls back to 4XX
    updated = spec_schemas.operation_response_validator("patchUser", 200)  # through components/responses
    assert updated is not None and updated.is_valid({"id": "x", "email": "a@b.co", "auth_id": "y"})
    created = spec_schemas.operation_response_validator("createMembership", 200)
    assert created is not None and created.is_valid({"membership_number": "1", "brand": {"id": "e"}})
    with pytest.raises(KeyError):
        spec_schemas.operation_response_validator("getUser", 201)


def test_nullable_becomes_a_null_alternative() -> None:
    converted = spec_schemas.to_json_schema({"type": "string", "nullable": True, "example": "x"})
    assert converted == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert spec_schemas.to_json_schema({"enum": [{"nullable": True}]}) == {"enum": [{"nullable": True}]}


def test_load_spec_returns_an_independent_copy() -> None:
    first = spec.load_spec()
    first["paths"].clear()
    assert spec.load_spec()["paths"]


def test_decisions_headings_follow_the_format(decisions: str) -> None:
    """``### D<n> · <level> · <title>``: ids D1..Dn in order, each level from the set, 1-6 lines each."""
    headings = [line for line in decisions.splitlines() if line.startswith("### ")]
    assert len(headings) >= 100
    ids: list[int] = []
    for line in headings:
        found = HEADING.fullmatch(line)
        assert found is not None, f"not a decision heading: {line!r}"
        assert found["level"] in LEVELS, f"unknown level in {line!r}"
        ids.append(int(found["n"]))
    assert ids == list(range(1, len(ids) + 1)), "decision ids must run D1..Dn in document order"
    assert "## How to read the levels" in decisions
    for block in re.split(r"^(?=#{2,3} )", decisions, flags=re.MULTILINE):
        if block.startswith("### "):
            prose = [ln for ln in block.splitlines()[1:] if ln.strip() and not ln.startswith('> "')]
            assert 1 <= len(prose) <= 6, f"{block.splitlines()[0]}: {len(prose)} lines"


# Names of what stays outside the repository: our notes, the vendor documents' files, their paths.
OUTSIDE_MARKERS = ("behaviour-notes", "behavior-notes", "api-docs", "users-api.txt",
                   "points-exchange-api.txt", "/work/", "../shared")  # fmt: skip


def test_decisions_stay_inside_the_repository(decisions: str, document: dict[str, Any]) -> None:
    """Our notes and the vendor documents stay outside the repository: neither is named by path."""
    for text, name in ((decisions, "DECISIONS.md"), (str(document), "qiibee.yaml")):
        for marker in OUTSIDE_MARKERS:
            assert marker not in text, f"{name} names {marker!r}"
    # Every blockquote is one short quote; quotes come only from the two vendor documents.
    for line in decisions.splitlines():
        if line.startswith(">"):
            assert re.fullmatch(r'> "[^"]+"', line), f"not a one-line quote: {line!r}"
            assert len(line) <= 200, f"quote too long (quote a short sentence): {line!r}"


def test_decisions_quote_the_documents(decisions: str, texts: dict[str, str]) -> None:
    """Every ``> "…"`` line is verbatim (whitespace aside) in the Users API or the Points Exchange API.

    ``…`` or ``...`` may elide: the parts must then appear in that order in one document.
    """
    quotes = re.findall(r'^> "(.+)"$', decisions, flags=re.MULTILINE)
    assert len(quotes) >= 40
    normalised = [" ".join(text.split()) for text in texts.values()]
    for quote in quotes:
        parts = [" ".join(p.split()) for p in re.split(r"…|\.\.\.", quote) if p.strip()]
        assert parts, quote
        assert any(_in_order(parts, text) for text in normalised), (
            f"DECISIONS.md quotes text that is not in the vendor documents: {quote!r}"
        )


def _in_order(parts: list[str], text: str) -> bool:
    at = 0
    for part in parts:
        at = text.find(part, at)
        if at < 0:
            return False
        at += len(part)
    return True

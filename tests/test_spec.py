"""openapi/qiibee.yaml is a valid spec that says what the documents say, and spec.py reads it right.

The spec is the product's reading of the documents: a wrong status list or an
over-strict schema fails correct servers, so these tests pin each decision that
DECISIONS.md records to the document text it rests on.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from qiibee_conformance import spec
from qiibee_conformance.paths import spec_path

# The vendor documents live beside the checkout (../shared/api-docs), as in CI;
# QIIBEE_API_DOCS points elsewhere.
DOCS = Path(
    os.environ.get("QIIBEE_API_DOCS") or Path(__file__).resolve().parents[2] / "shared" / "api-docs"
)
DOC_FILES = ("users-api.txt", "points-exchange-api.txt", "behaviour-notes.md")

# Statuses each document section names for the operation (plus 401 from the notes:
# "Every endpoint requires the header X-API-KEY").
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
    """The vendor documents the spec is read from (outside the repository)."""
    if not all((DOCS / name).is_file() for name in DOC_FILES):
        pytest.fail(f"the API documents are not at {DOCS} (set QIIBEE_API_DOCS)")
    return {name: (DOCS / name).read_text(encoding="utf-8") for name in DOC_FILES}


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
    root = {"components": {"schemas": spec.to_json_schema(spec.component_schemas(document))}}
    root.update(spec.to_json_schema(copy.deepcopy(schema)))
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


def test_every_operation_names_an_existing_document_section(
    document: dict[str, Any], texts: dict[str, str]
) -> None:
    for method, path, op in spec.iter_operations(document):
        section = op.get("x-doc-section")
        assert isinstance(section, str), f"{method} {path} names no document section"
        name = ""
        for part in section.split(";"):
            file_part, _, title = part.strip().partition("§")
            name = file_part.strip() or name  # "§ Title" continues the previous document
            assert name in texts, f"{method} {path}: unknown document {name!r}"
            heading = title.split(" (")[0].strip()
            assert heading and heading in texts[name], f"{method} {path}: {heading!r} is not in {name}"
        assert "§" in op["description"], f"{method} {path}: the description names no section"


def test_every_documented_status_is_declared(document: dict[str, Any]) -> None:
    ops = _ops(document)
    assert set(ops) == set(DOCUMENTED_STATUSES)
    for op_id, statuses in DOCUMENTED_STATUSES.items():
        declared = set(ops[op_id]["responses"])
        assert statuses <= declared, f"{op_id} lacks {statuses - declared}"
        # "a 4xx" for other invalid input (422, 415, 405 ...): a JSON error object.
        assert "4XX" in declared, f"{op_id} has no 4XX"
        assert not {s for s in declared if s.startswith("5")}, f"{op_id} declares a 5xx"


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
    ("UserCreateRequest", {"user": {"email": "a@example.com", "metadata": None, "language": None}}, True),
    ("UserCreateRequest", {"user": {"first_name": "x"}}, False),
    ("UserCreateRequest", {"email": "a@example.com"}, False),
    ("UserCreateRequest", {"user": {"email": "not an email"}}, False),
    ("UserCreateRequest", {"user": {"email": "a@example.com", "metadata": "x"}}, False),
    ("UserUpdateRequest", {"user": {}}, True),
    ("UserUpdateRequest", {"user": {"auth_id": 12, "id": None}}, True),
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
    # limit < 1 / offset < 0 / non-integer: 400; over 100 is tolerated, so no maximum.
    assert params["Limit"]["schema"] == {"type": "integer", "minimum": 1}
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

PAIR = {"id": 1, "from_token": TOKEN}

RESPONSE_CASES: list[tuple[str, Any, bool]] = [
    ("WhitelistEnvelope", {"data": [{**PAIR, "to_token": {**TOKEN, "id": "13"}}]}, True),
    ("WhitelistEnvelope", {"data": [{**PAIR, "to_token": {**TOKEN, "id": "x1"}}]}, False),
    ("WhitelistEnvelope", {"data": {"pairs": []}}, False),
    ("Token", {**TOKEN, "onramp": "abc"}, False),
    ("Token", {**TOKEN, "onramp": 24.2}, False),
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
    ("UserEnvelope", {"data": {"id": "x", "email": "a@b.co", "auth_id": "y", "metadata": None}}, True),
    ("UserEnvelope", {"data": {"id": "x", "email": "a@b.co"}}, False),
    ("UserEnvelope", {"user": {"id": "x", "email": "a@b.co", "auth_id": "y"}}, False),
    ("MembershipCreatedEnvelope", {"data": {"membership_number": "1", "brand": {"id": "etihad"}}}, True),
    ("MembershipCreatedEnvelope", {"data": {"id": "x", "email": "a@b.co", "auth_id": "y"}}, True),
    ("MembershipListEnvelope", {"data": []}, True),
    ("BalancesEnvelope", {"data": [{"balance": 10, "token": TOKEN}]}, True),
    ("BalancesEnvelope", {"data": [{"balance": "10", "token": TOKEN}]}, True),
    ("BalancesEnvelope", {"data": [{"token": TOKEN}]}, False),
    ("ErrorBody", {"error": "invalid email"}, True),
    ("ErrorBody", {"errors": {"detail": "m"}}, True),
    ("ErrorBody", {}, False),
    ("ErrorBody", "not found", False),
]  # fmt: skip


@pytest.mark.parametrize(("name", "instance", "valid"), RESPONSE_CASES)
def test_response_validator_accepts_tolerated_variants_only(name: str, instance: Any, valid: bool) -> None:
    validator = spec.response_validator(name)
    assert validator.is_valid(instance) is valid, list(validator.iter_errors(instance))


def test_response_validator_rejects_unknown_names() -> None:
    with pytest.raises(KeyError, match="NoSuchSchema"):
        spec.response_validator("NoSuchSchema")


def test_operation_response_validator_follows_refs_and_ranges() -> None:
    assert spec.operation_response_validator("createTransaction", 202) is None
    assert spec.operation_response_validator("deleteMembership", 204) is None
    not_found = spec.operation_response_validator("getUser", 404)
    assert not_found is not None and not not_found.is_valid({})
    other = spec.operation_response_validator("getUser", 422)  # falls back to 4XX
    assert other is not None and other.is_valid({"detail": "x"})
    with pytest.raises(KeyError):
        spec.operation_response_validator("getUser", 201)


def test_nullable_becomes_a_null_alternative() -> None:
    converted = spec.to_json_schema({"type": "string", "nullable": True, "example": "x"})
    assert converted == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert spec.to_json_schema({"enum": [{"nullable": True}]}) == {"enum": [{"nullable": True}]}


def test_load_spec_returns_an_independent_copy() -> None:
    first = spec.load_spec()
    first["paths"].clear()
    assert spec.load_spec()["paths"]


def test_decisions_cite_the_documents(texts: dict[str, str]) -> None:
    decisions = (spec_path().parent / "DECISIONS.md").read_text(encoding="utf-8")
    quotes = re.findall(r'^> "(.+?)"', decisions, flags=re.MULTILINE)
    assert len(quotes) >= 15
    corpus = " ".join(" ".join(text.split()) for text in texts.values())
    for quote in quotes:
        fragment = " ".join(quote.replace("…", "...").split("...")[0].split())
        assert fragment in corpus, f"DECISIONS.md quotes text that is not in the documents: {quote!r}"

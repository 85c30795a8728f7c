"""The funding and exchange links of the state machine, added at run time (DECISIONS D144)."""

from __future__ import annotations

from typing import Any

from qiibee_conformance.discovery import Catalogue


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

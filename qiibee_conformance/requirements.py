"""Every requirement the suite certifies, with the sentence of the documents it rests on.

Reports, ``certify --only`` and the contract tests all name requirements by id;
keeping the quoted source next to the id lets a reader of a failure check the
rule against the documents without trusting the suite.
"""

# Quoted sentences are kept whole on one line where wrapping them would hurt grepping for them.
# ruff: noqa: E501
from __future__ import annotations

from dataclasses import dataclass

USERS = "users-api.txt"
EXCHANGE = "points-exchange-api.txt"
NOTES = "behaviour-notes.md"

GROUPS: tuple[str, ...] = (
    "auth",
    "errors",
    "users",
    "memberships",
    "whitelist",
    "balances",
    "exchange",
    "nft",
    "settlement",
    "history",
    "concurrency",
    "schema",
    "stateful",
)


@dataclass(frozen=True)
class Requirement:
    id: str
    group: str
    title: str
    source: str  # the quoted sentence, then the file and section it comes from


def _req(rid: str, group: str, title: str, quote: str, where: str) -> Requirement:
    return Requirement(rid, group, title, f'"{quote}" ({where})')


_ALL: tuple[Requirement, ...] = (
    # auth -----------------------------------------------------------------------------------
    _req("AUTH-01", "auth", "missing X-API-KEY → 401 with an error message, on every operation",
         "Every endpoint requires the header `X-API-KEY`. A missing or invalid key gives HTTP 401 "
         "with an error message", f"{NOTES}, Facts from the vendor's other public pages: Authentication"),
    _req("AUTH-02", "auth", "invalid or empty X-API-KEY → 401 with an error message",
         "A missing or invalid key gives HTTP 401 with an error message (the vendor's wording: "
         "\"Missing x-api-key header\" / \"Invalid API Key\")",
         f"{NOTES}, Facts from the vendor's other public pages: Authentication"),
    # errors ---------------------------------------------------------------------------------
    _req("ERR-01", "errors", "400/401/404 bodies are JSON objects carrying a non-empty message",
         "Error responses (400, 401, 404) carry a JSON object with a non-empty, human readable message. "
         "... A 4xx with an empty body or a non-JSON body breaks \"with error message\".",
         f"{NOTES}, Envelopes and errors"),
    _req("ERR-02", "errors", "malformed JSON, missing wrapper object, wrong types → 4xx, never 5xx",
         "Invalid input of any kind (malformed JSON, wrong types, missing wrapper object) is a 4xx, "
         "never a 5xx.", f"{NOTES}, Envelopes and errors"),
    _req("ERR-03", "errors", "a method the documents do not list on a documented path → 4xx",
         "A method the documents do not list on a documented path (TRACE, DELETE /users, ...): any 4xx, "
         "typically 405 with `Allow` or 404; never a 2xx or 5xx.",
         f"{NOTES}, More points a correct target may choose either way"),
    # users ----------------------------------------------------------------------------------
    _req("USR-01", "users", "create with only email → 201 {\"data\": user}; GET returns it",
         "Only the email field is mandatory. ... Created: HTTP 201 with the user object",
         f"{USERS}, Create User; {NOTES}, Envelopes and errors"),
    _req("USR-02", "users", "create without auth_id → the server generates a UUID version 4",
         "If you do not send this field we will generate a UUID-v4 and return it to you.",
         f"{USERS}, Create User"),
    _req("USR-03", "users", "create with auth_id keeps it; id in the body is ignored; id != auth_id",
         "The id and auth_id are two different fields and are not interchangeable. ... `id` in a create "
         "body is ignored (the server assigns it).", f"{USERS}, Users API; {NOTES}, Users"),
    _req("USR-04", "users", "invalid email on create → 400",
         "The email will be validated, failing which, will return a 400.", f"{USERS}, Create User"),
    _req("USR-05", "users", "duplicate auth_id → 400, the first user unchanged",
         "Bad data: HTTP 400 with error message - eg. duplicate auth_id", f"{USERS}, Create User"),
    _req("USR-06", "users", "GET unknown user → 404",
         "Bad data: HTTP 404 with error message - eg. not found", f"{USERS}, Get User Details"),
    _req("USR-07", "users", "PUT and PATCH change every field sent, and only those → 200 with the user",
         "Update: PUT and PATCH both change only the fields sent.", f"{NOTES}, Users"),
    _req("USR-08", "users", "auth_id cannot change (400, or 200 with it unchanged)",
         "You can update every field besides the auth_id", f"{USERS}, Update User details"),
    _req("USR-09", "users", "update unknown user → 404, no upsert",
         "Not found: HTTP 404 with error message", f"{USERS}, Update User details"),
    _req("USR-10", "users", "invalid email on update → 400",
         "An invalid email on update: 400.", f"{NOTES}, Users"),
    _req("USR-11", "users", "list newest first; default limit 100",
         "By default, it returns the last 100 users associated with your brand", f"{USERS}, Get List of Users"),
    _req("USR-12", "users", "list limit > 100 → 400 or ≤ 100 items; limit < 1, offset < 0, non-integer → 400",
         "limit: ... Maximum: 100 ... `limit` < 1, `offset` < 0 or a non-integer: 400.",
         f"{USERS}, Get List of Users; {NOTES}, Users"),
    _req("USR-13", "users", "total_count counts every matching user; pages hold what limit/offset imply (each user once when creation times differ)",
         "`total_count` counts every user that matches the filters, not the page.",
         f"{NOTES}, Users; {USERS}, Get List of Users"),
    _req("USR-14", "users", "email_like is a case-insensitive substring filter",
         "`email_like` is a case-insensitive substring match.", f"{NOTES}, Users"),
    _req("USR-15", "users", "from_time/to_time filter creation time inclusively; unparseable → 400",
         "`from_time`/`to_time` filter on creation time, inclusive; an unparseable time: 400.",
         f"{NOTES}, Users"),
    # memberships ----------------------------------------------------------------------------
    _req("MEM-01", "memberships", "create membership → 201 {\"data\": membership or user}; GET one and list return it",
         "Created: HTTP 201 ... create membership (201) returns `{\"data\": <membership>}`",
         f"{USERS}, Create User Membership; {NOTES}, Envelopes and errors"),
    _req("MEM-02", "memberships", "membership for an unknown user → 404",
         "Not found: HTTP 404 - user not found", f"{USERS}, Create User Membership"),
    _req("MEM-03", "memberships", "malformed membership number → 400, on create and on update; documented Etihad numbers valid",
         "The membership number will be validated. ... Bad data: HTTP 400 with error message - invalid "
         "format for the membership number", f"{USERS}, Create User Membership; {EXCHANGE}, Exchange"),
    _req("MEM-04", "memberships", "unknown provider → 400",
         "Bad data: HTTP 400 with error message - invalid exchange provider", f"{USERS}, Create User Membership"),
    _req("MEM-05", "memberships", "one membership per provider: creating again replaces the number",
         "Each user can have 1 membership per exchange provider.", f"{USERS}, Create User Membership"),
    _req("MEM-06", "memberships", "brand's own id: the number must be the user's auth_id",
         "your brand's id (in this case, the membership number will be your user's auth_id)",
         f"{USERS}, Create User Membership"),
    _req("MEM-07", "memberships", "GET list with no memberships → empty array",
         "If no memberships exist for the user this will be an empty array.", f"{USERS}, Get User Memberships"),
    _req("MEM-08", "memberships", "GET one without a membership (of that provider) → 404, as is DELETE; unknown provider → 400 or 404",
         "Not found: HTTP 404 if user or membership not found", f"{USERS}, Get User Membership"),
    _req("MEM-09", "memberships", "DELETE → 204 without body; then GET → 404; second DELETE → 404",
         "Success: HTTP 204 ... Returns 404 if user or membership not found.", f"{USERS}, Delete User Membership"),
    _req("MEM-10", "memberships", "DELETE for an unknown provider → 400",
         "Bad request: HTTP 400 if the implementation does not exist", f"{USERS}, Delete User Membership"),
    # whitelist ------------------------------------------------------------------------------
    _req("WL-01", "whitelist", "whitelist → {\"data\": [pair, ...]} with from/to tokens",
         "This request returns the list of active exchange partnerships ... It contains the token IDs "
         "that you would need to pass in the request", f"{EXCHANGE}, Exchange partnerships"),
    _req("WL-02", "whitelist", "token_to_types returns exactly the pairs whose to_token.type is listed",
         "To filter the exchange option by token types, send the token_to_types list as a query param.",
         f"{EXCHANGE}, Exchange partnerships"),
    _req("WL-03", "whitelist", "unknown token_to_types value → 400 or 200 with an empty list",
         "Unknown filter values (`types=bogus`, `token_to_types=bogus`): 400, or 200 with an empty list.",
         f"{NOTES}, More points a correct target may choose either way"),
    # balances -------------------------------------------------------------------------------
    _req("BAL-01", "balances", "balances → {\"data\": [{balance, token}]}; unknown user → 404",
         "`GET /users/:auth_id/balances` returns `{\"data\": [{\"balance\": <number>, \"token\": <token "
         "object>}, ...]}`; 404 for an unknown user.", f"{NOTES}, Facts from the vendor's other public pages"),
    _req("BAL-02", "balances", "credit_points → 202 and the balance rises; debit_points lowers it",
         "`POST /transactions` with `{\"transaction\": {\"type\": \"credit_points\", ...}}` credits points "
         "... `\"type\": \"debit_points\"` debits them. ... Success: HTTP 202.",
         f"{NOTES}, Facts from the vendor's other public pages: Funding a user"),
    _req("BAL-03", "balances", "debit beyond the balance → 400, balance unchanged",
         "Insufficient balance on a debit: 400.", f"{NOTES}, Facts from the vendor's other public pages"),
    _req("BAL-04", "balances", "credit/debit amount zero, negative, decimal → 4xx",
         "`amount` is an integer or a string of digits, greater than 0.",
         f"{NOTES}, Facts from the vendor's other public pages: Funding a user"),
    _req("BAL-05", "balances", "credit_points for an unknown user or a token not the brand's own → 400 or 404",
         "**`credit_points` for an unknown user or a token that is not the brand's own**: 400 or 404.",
         f"{NOTES}, More points a correct target may choose either way"),
    # exchange -------------------------------------------------------------------------------
    _req("EXC-01", "exchange", "exchange along an active pair → 202 (empty body or a JSON object)",
         "Success: HTTP 202 ... Its body is not documented: tolerated: empty body, or any JSON object",
         f"{EXCHANGE}, Exchange; {NOTES}, Envelopes and errors"),
    _req("EXC-02", "exchange", "one-way: the reverse of a one-way pair → 400",
         "it is important that the exchange is allowed from Brand A to Brand B. This is always one way.",
         f"{EXCHANGE}, Exchange"),
    _req("EXC-03", "exchange", "received = floor(amount × A.offramp ÷ B.onramp), exact",
         "exchange rate = Brand A token offramp value ÷ Brand B token onramp value ... The points/miles to be "
         "received will be calculated as the floor of the value obtained after multiplying the points to be "
         "burned with the exchange rate.", f"{EXCHANGE}, Exchange"),
    _req("EXC-04", "exchange", "exchange_rate_override applies to that request only; never stored",
         "exchange_rate_override: number - use this field to specify a different exchange rate ... It will "
         "not overwrite the stored exchange rate", f"{EXCHANGE}, Exchange"),
    _req("EXC-05", "exchange", "insufficient balance → 400, balance unchanged; exactly the whole balance → 202",
         "If you try to exchange more points than the user currently has, you'll receive a 400.",
         f"{EXCHANGE}, Exchange"),
    _req("EXC-06", "exchange", "unknown user → 400",
         "Bad request: HTTP 400 - User/Token does not exist", f"{EXCHANGE}, Exchange"),
    _req("EXC-07", "exchange", "unknown token → 400",
         "Bad request: HTTP 400 - User/Token does not exist", f"{EXCHANGE}, Exchange"),
    _req("EXC-08", "exchange", "amount decimal, fraction, zero, negative → 400, a boolean → 4xx; a digit string is accepted",
         "amount - The amount of brand A points to be burned. Can be an integer or string but not "
         "decimal/fraction.", f"{EXCHANGE}, Exchange"),
    _req("EXC-09", "exchange", "exchange to miles with no saved membership and no override → 400",
         "No saved membership and no override for a provider that needs one: 400.", f"{NOTES}, Exchange"),
    _req("EXC-10", "exchange", "brandB_membership_number for that request only; invalid override → 400",
         "brandB_membership_number: string - use this field to override the user's saved membership number "
         "only for this action. It will not overwrite the saved number in the account.",
         f"{EXCHANGE}, Exchange"),
    _req("EXC-11", "exchange", "history row: loyalty_event_type \"exchange\", points burned = amount",
         "It appears in `GET /transactions` with `loyalty_event_type` `\"exchange\"`, `points_burned` (or an "
         "equivalent amount) equal to the amount", f"{NOTES}, Exchange"),
    # nft ------------------------------------------------------------------------------------
    _req("NFT-01", "nft", "points to NFT → 202; burned = ceil(NFT onramp ÷ point onramp)",
         "points_to_burn = ceil(NFT value (onramp) ÷ loyalty point onramp value)",
         f"{EXCHANGE}, Points to NFT"),
    _req("NFT-02", "nft", "points to NFT: missing field → 4xx; insufficient balance, unknown user or NFT token → 400, balance unchanged",
         "Body (all fields are mandatory) ... The responses will be the same.", f"{EXCHANGE}, Points to NFT"),
    # settlement -----------------------------------------------------------------------------
    _req("SET-01", "settlement", "after a 202 the transaction appears and leaves pending before the deadline",
         "After a 202 the exchange is processed asynchronously. It appears in `GET /transactions` ... and a "
         "`status` that moves from `\"pending\"` to `\"success\"` or `\"failed\"`.", f"{NOTES}, Exchange"),
    _req("SET-02", "settlement", "a failed exchange is reversed: the points come back",
         "In the event that an exchange transaction fails for any reason, qiibee will initiate a reversal "
         "for the failed exchange transaction.", f"{EXCHANGE}, Exchange: Transaction reversal"),
    _req("SET-03", "settlement", "after settlement, balance = credits − debits − burned by non-failed exchanges",
         "All money-like arithmetic is exact decimal arithmetic ... A failed exchange is reversed: the points "
         "come back.", f"{NOTES}, Identifiers, numbers and times; Exchange"),
    # history --------------------------------------------------------------------------------
    _req("HIS-01", "history", "history newest first (ties within one second in any order)",
         "The most recent transactions are returned first.", f"{EXCHANGE}, Transaction History"),
    _req("HIS-02", "history", "limit default 100, > 100 → 400 or ≤ 100 items; limit < 1, offset < 0 → 400",
         "limit: (optional) ... Defaults: 100 - Maximum: 100", f"{EXCHANGE}, Transaction History"),
    _req("HIS-03", "history", "total_tx_count counts every matching row; past the end → empty, same count",
         "total_tx_count is the total number of transactions available for the given params.",
         f"{EXCHANGE}, Transaction History"),
    _req("HIS-04", "history", "walking the pages yields every matching row exactly once",
         "Walking the pages of an unchanging history yields every matching transaction exactly once.",
         f"{NOTES}, Transaction history"),
    _req("HIS-05", "history", "user_auth_id filter lets through only that user's rows; no transactions → 200 with an empty list",
         "user_auth_id: (optional) Use this parameter to query transactions for a particular user of your brand.",
         f"{EXCHANGE}, Transaction History"),
    _req("HIS-06", "history", "types filter (a list) returns exactly the rows of those types",
         "types: (optional) Use this parameter to query transactions for specific loyalty event types. The "
         "events must be sent in a list.", f"{EXCHANGE}, Transaction History"),
    _req("HIS-07", "history", "token_id filter: every row involves the token",
         "token_id: (optional) This will let you query the transactions for a specific token ID.",
         f"{EXCHANGE}, Transaction History"),
    _req("HIS-08", "history", "from_time/to_time inclusive on inserted_at",
         "`from_time`/`to_time` (inclusive, on `inserted_at`). A filter never lets through a transaction "
         "that does not match it.", f"{NOTES}, Transaction history"),
    # concurrency ----------------------------------------------------------------------------
    _req("CON-01", "concurrency", "parallel burst of exchanges: no overdraw, at most cover of them succeed, each 202 once",
         "Under concurrent requests no balance ever goes below zero, and every accepted (202) exchange appears "
         "exactly once in the history.", f"{NOTES}, Exchange"),
    _req("CON-02", "concurrency", "parallel credits: none lost, none duplicated",
         "`credit_points` credits points of one of the brand's own tokens ... Under concurrent requests no "
         "balance ever goes below zero", f"{NOTES}, Facts from the vendor's other public pages; Exchange"),
    # schemathesis ---------------------------------------------------------------------------
    _req("SCH-01", "schema", "positive: status codes, content types and bodies match the spec",
         "Success bodies are JSON objects with the payload under `\"data\"`.", f"{NOTES}, Envelopes and errors"),
    _req("SCH-02", "schema", "negative: invalid input → 4xx, never 5xx",
         "Invalid input of any kind (malformed JSON, wrong types, missing wrapper object) is a 4xx, never a 5xx.",
         f"{NOTES}, Envelopes and errors"),
    _req("SCH-03", "stateful", "stateful sequences through the spec's links behave as documented",
         "Please save the auth_id and use it for all actions on a user's account.", f"{USERS}, Create User"),
)

REQUIREMENTS: dict[str, Requirement] = {r.id: r for r in _ALL}


def in_group(group: str) -> list[Requirement]:
    """The requirements of one group, in catalogue order."""
    return [r for r in _ALL if r.group == group]

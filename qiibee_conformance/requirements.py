"""Every requirement the suite certifies: its level and the basis a reader can check it against.

Reports, ``certify --only`` and the contract tests all name requirements by id. Each
carries its **level** (``fail``: the documents say it, or breaking it loses money or
data; ``warn``: the project's reading where they are silent) and its **basis**: the
sentence of the vendor document it rests on (by title and section) and the
``openapi/DECISIONS.md`` decisions that read it. An assertion inside a check may sit at
another level than its requirement; it then names its own decision
(:func:`qiibee_conformance.checks.base.advise`).
"""

# Quoted sentences are kept whole on one line where wrapping them would hurt grepping for them.
# ruff: noqa: E501
from __future__ import annotations

from dataclasses import dataclass

from qiibee_conformance.findings import Level

USERS = "Users API"
EXCHANGE = "Points Exchange API"

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
class Citation:
    """A sentence of a vendor document, verbatim (whitespace aside), with where it stands."""

    document: str
    section: str
    quote: str

    def __str__(self) -> str:
        return f'{self.document} § {self.section}: "{self.quote}"'


@dataclass(frozen=True)
class Requirement:
    id: str
    group: str
    title: str
    level: Level
    citations: tuple[Citation, ...] = ()
    decisions: tuple[str, ...] = ()

    @property
    def decision(self) -> str | None:
        """The first decision: what a warn-level finding of this requirement rests on."""
        return self.decisions[0] if self.decisions else None

    @property
    def source(self) -> str:
        """The basis as one line for reports: the cited sentences, then the decisions."""
        parts = [str(c) for c in self.citations]
        if self.decisions:
            parts.append("DECISIONS " + ", ".join(self.decisions))
        return "; ".join(parts)

    def to_dict(self) -> dict[str, object]:
        return {
            "level": str(self.level),
            "citations": [{"document": c.document, "section": c.section, "quote": c.quote} for c in self.citations],
            "decisions": list(self.decisions),
        }


FAIL, WARN = Level.FAIL, Level.WARN


def _req(
    rid: str,
    group: str,
    title: str,
    level: Level,
    *citations: tuple[str, str, str],
    decisions: tuple[str, ...] = (),
) -> Requirement:
    return Requirement(rid, group, title, level, tuple(Citation(*c) for c in citations), decisions)


_ALL: tuple[Requirement, ...] = (
    # auth: the vendor's public Authentication page (restated in DECISIONS) -------------------
    _req("AUTH-01", "auth", "missing X-API-KEY → 401 with an error message, on every operation", FAIL,
         decisions=("D1",)),
    _req("AUTH-02", "auth", "invalid or empty X-API-KEY → 401 with an error message", FAIL,
         decisions=("D1",)),
    # errors ---------------------------------------------------------------------------------
    _req("ERR-01", "errors", "where the documents promise an error message, the body carries a non-empty one", FAIL,
         (USERS, "Create User", "Bad data: HTTP 400 with error message"),
         decisions=("D13", "D14", "D15")),
    _req("ERR-02", "errors", "a client's mistake (malformed JSON, missing wrapper, wrong types) → 4xx, never 5xx", FAIL,
         decisions=("D16", "D17")),
    _req("ERR-03", "errors", "a method the documents do not list on a documented path → 4xx, never 5xx (a 2xx is an advisory)", FAIL,
         decisions=("D16", "D98", "D99")),
    # users ----------------------------------------------------------------------------------
    _req("USR-01", "users", "create with only email → 201 with the user object; GET returns it", FAIL,
         (USERS, "Create User", "Only the email field is mandatory."),
         (USERS, "Create User", "Created: HTTP 201 with the user object"),
         decisions=("D28", "D8")),
    _req("USR-02", "users", "auth_id omitted or sent empty → the server generates a UUID version 4", FAIL,
         (USERS, "Users API", "simply leave the auth_id field empty and we will generate a UUID-v4 and return it to you"),
         decisions=("D20",)),
    _req("USR-03", "users", "create with auth_id keeps it; id and auth_id are different fields (an id sent is ignored: advisory)", FAIL,
         (USERS, "Users API", "The id and auth_id are two different fields and are not interchangeable."),
         decisions=("D19", "D31")),
    _req("USR-04", "users", "invalid email on create → 400; missing email → 4xx", FAIL,
         (USERS, "Create User", "The email will be validated, failing which, will return a 400."),
         decisions=("D28", "D160")),
    _req("USR-05", "users", "duplicate auth_id → 400, the first user unchanged", FAIL,
         (USERS, "Create User", "eg. duplicate auth_id"),
         decisions=("D29",)),
    _req("USR-06", "users", "GET unknown user → 404", FAIL,
         (USERS, "Get User Details", "Bad data: HTTP 404 with error message"),
         decisions=("D7",)),
    _req("USR-07", "users", "PATCH changes the fields sent and only those; PUT stores the fields sent", FAIL,
         (USERS, "Update User details", "You can update every field besides the auth_id"),
         decisions=("D32", "D33", "D175")),
    _req("USR-08", "users", "auth_id never changes (400, or 200 with it unchanged)", FAIL,
         (USERS, "Update User details", "You can update every field besides the auth_id"),
         decisions=("D34",)),
    _req("USR-09", "users", "update unknown user → 404, no upsert", FAIL,
         (USERS, "Update User details", "Not found: HTTP 404 with error message"),
         decisions=("D35",)),
    _req("USR-10", "users", "invalid email on update → a 4xx", WARN,
         decisions=("D36",)),
    _req("USR-11", "users", "the default page holds the most recent users (newest first within it: advisory)", FAIL,
         (USERS, "Get List of Users", "By default, it returns the last 100 users associated with your brand"),
         decisions=("D41", "D42", "D176")),
    _req("USR-12", "users", "never more than 100 users a page; bad paging data → a 4xx (limit=0 may be an empty page)", FAIL,
         (USERS, "Get List of Users", "Maximum: 100"),
         (USERS, "Get List of Users", "Bad data: HTTP 404 with error message"),
         decisions=("D37", "D38", "D39", "D40")),
    _req("USR-13", "users", "total_count is never the page length (counts every match: advisory); paging yields each user once", FAIL,
         (USERS, "Get List of Users", "along with the total count of the users"),
         decisions=("D45", "D44", "D43", "D159")),
    _req("USR-14", "users", "email_like finds a contained fragment; every user listed contains it (case tolerated)", FAIL,
         (USERS, "Get List of Users", "a partial or complete email address of registered users"),
         decisions=("D46", "D47")),
    _req("USR-15", "users", "from_time is inclusive (to_time inclusive: advisory); an unparseable time → a 4xx", FAIL,
         (USERS, "Get List of Users", "queries for transactions that begin from the specified datetime"),
         decisions=("D48", "D49", "D39")),
    # memberships ----------------------------------------------------------------------------
    _req("MEM-01", "memberships", "create membership → 201 with the membership or user; GET one and list return it", FAIL,
         (USERS, "Create User Membership", "Created: HTTP 201 with the user object"),
         decisions=("D9",)),
    _req("MEM-02", "memberships", "unknown user → 404 on create, GET list, GET one and DELETE", FAIL,
         (USERS, "Get User Membership", "Not found: HTTP 404 if user or membership not found"),
         decisions=("D54",)),
    _req("MEM-03", "memberships", "malformed membership number → 400, on create and on update; the documented Etihad numbers are valid", FAIL,
         (USERS, "Create User Membership", "The membership number will be validated."),
         (EXCHANGE, "Exchange", "use one of these FFP numbers when exchanging to Etihad Sandbox Points"),
         decisions=("D55", "D6", "D174")),
    _req("MEM-04", "memberships", "unknown provider → 400", FAIL,
         (USERS, "Create User Membership", "invalid exchange provider"),
         decisions=("D50",)),
    _req("MEM-05", "memberships", "one membership per provider (again: replaced, or refused keeping the first)", FAIL,
         (USERS, "Create User Membership", "Each user can have 1 membership per exchange provider."),
         decisions=("D51", "D52")),
    _req("MEM-06", "memberships", "brand's own id: no number other than the user's auth_id is stored", FAIL,
         (USERS, "Create User Membership", "your brand's id (in this case, the membership number will be your user's auth_id)"),
         decisions=("D53",)),
    _req("MEM-07", "memberships", "GET list with no memberships → empty array", FAIL,
         (USERS, "Get User Memberships", "If no memberships exist for the user this will be an empty array."),
         decisions=("D56",)),
    _req("MEM-08", "memberships", "GET one without that membership → 404, as is DELETE; unknown provider → 400 or 404", FAIL,
         (USERS, "Get User Membership", "if found, 404 and empty object otherwise"),
         decisions=("D57", "D58")),
    _req("MEM-09", "memberships", "DELETE → 204 (a body: advisory); then GET → 404; second DELETE → 404", FAIL,
         (USERS, "Delete User Membership", "Success: HTTP 204"),
         (USERS, "Delete User Membership", "Returns 404 if user or membership not found."),
         decisions=("D59", "D11", "D12")),
    _req("MEM-10", "memberships", "DELETE for an unknown provider → 400", FAIL,
         (USERS, "Delete User Membership", "Bad request: HTTP 400 if the implementation does not exist"),
         decisions=("D59",)),
    # whitelist ------------------------------------------------------------------------------
    _req("WL-01", "whitelist", "whitelist → {\"data\": [pair, ...]}, active partnerships only", FAIL,
         (EXCHANGE, "Exchange partnerships", "This request returns the list of active exchange partnerships"),
         decisions=("D83",)),
    _req("WL-02", "whitelist", "token_to_types returns exactly the pairs whose to_token.type is listed", FAIL,
         (EXCHANGE, "Exchange partnerships", "To filter the exchange option by token types, send the token_to_types list as a query param."),
         decisions=("D84", "D85")),
    _req("WL-03", "whitelist", "unknown token_to_types value → a 4xx or 200 with an empty list", FAIL,
         (EXCHANGE, "Exchange partnerships", "To filter the exchange option by token types, send the token_to_types list as a query param."),
         decisions=("D86",)),
    # balances: the vendor's Points Bank pages (restated in DECISIONS) -------------------------
    _req("BAL-01", "balances", "balances → {\"data\": [{balance, token}]} (a digit-string balance: advisory); unknown user → 404", FAIL,
         decisions=("D4", "D5")),
    _req("BAL-02", "balances", "credit_points → 202 and the balance rises by the amount; debit_points lowers it", FAIL,
         decisions=("D2", "D27")),
    _req("BAL-03", "balances", "debit beyond the balance → 400, balance unchanged", FAIL,
         decisions=("D2",)),
    _req("BAL-04", "balances", "credit/debit amount zero, negative, decimal → 4xx", FAIL,
         decisions=("D2", "D151")),
    _req("BAL-05", "balances", "credit_points for an unknown user or a token not the brand's own → 400 or 404", FAIL,
         decisions=("D2", "D3", "D172")),
    # exchange -------------------------------------------------------------------------------
    _req("EXC-01", "exchange", "exchange along an active pair → 202 (empty body or any JSON object)", FAIL,
         (EXCHANGE, "Exchange", "Success: HTTP 202"),
         decisions=("D60", "D10")),
    _req("EXC-02", "exchange", "one-way: the reverse of a whitelisted pair is refused, in every direction the suite can fund", FAIL,
         (EXCHANGE, "Exchange", "This is always one way."),
         decisions=("D60",)),
    _req("EXC-03", "exchange", "received = floor(amount × A.offramp ÷ B.onramp), exact (fiat, donation, external: advisory)", FAIL,
         (EXCHANGE, "Exchange", "exchange rate = Brand A token offramp value ÷ Brand B token onramp value"),
         (EXCHANGE, "Exchange", "The points/miles to be received will be calculated as the floor of the value obtained after multiplying the points to be burned with the exchange rate."),
         decisions=("D63", "D64", "D65")),
    _req("EXC-04", "exchange", "exchange_rate_override applies to that request only; never stored", FAIL,
         (EXCHANGE, "Exchange", "It will not overwrite the stored exchange rate"),
         decisions=("D66",)),
    _req("EXC-05", "exchange", "more than the balance → 400, balance unchanged; exactly the whole balance is accepted", FAIL,
         (EXCHANGE, "Exchange", "If you try to exchange more points than the user currently has, you'll receive a 400."),
         decisions=("D71", "D166")),
    _req("EXC-06", "exchange", "unknown user → 400", FAIL,
         (EXCHANGE, "Exchange", "User/Token does not exist"),
         decisions=("D71",)),
    _req("EXC-07", "exchange", "unknown token → 400", FAIL,
         (EXCHANGE, "Exchange", "User/Token does not exist"),
         decisions=("D71",)),
    _req("EXC-08", "exchange", "amount decimal or fraction → 400; zero, negative, boolean → 4xx; a digit string is accepted", FAIL,
         (EXCHANGE, "Exchange", "Can be an integer or string but not decimal/fraction."),
         decisions=("D61", "D62", "D167")),
    _req("EXC-09", "exchange", "exchange to miles with no saved membership and no override → 400 (never settled as a success)", WARN,
         (EXCHANGE, "Exchange", "Invalid membership number"),
         decisions=("D69", "D70")),
    _req("EXC-10", "exchange", "brandB_membership_number for that request only; saved one unchanged; invalid override → 400", FAIL,
         (EXCHANGE, "Exchange", "It will not overwrite the saved number in the account."),
         decisions=("D67",)),
    _req("EXC-11", "exchange", "an accepted exchange appears in the history burning the amount (type \"exchange\": advisory)", FAIL,
         (EXCHANGE, "Transaction History", "This request returns paginated transaction history."),
         decisions=("D72", "D73")),
    _req("EXC-12", "exchange", "exchange to miles with only brandB_membership_number, no saved membership → accepted, not failed", FAIL,
         (EXCHANGE, "Exchange", "If you do not wish to persist membership info for users you can send it with every request"),
         decisions=("D68",)),
    # nft ------------------------------------------------------------------------------------
    _req("NFT-01", "nft", "points to NFT → 202; burned = ceil(NFT onramp ÷ point onramp)", FAIL,
         (EXCHANGE, "Points to NFT", "points_to_burn = ceil(NFT value (onramp) ÷ loyalty point onramp value)"),
         decisions=("D81", "D82")),
    _req("NFT-02", "nft", "points to NFT: missing field → 4xx; insufficient balance, unknown user or NFT token → 400, balance unchanged", FAIL,
         (EXCHANGE, "Points to NFT", "Body (all fields are mandatory):"),
         (EXCHANGE, "Points to NFT", "The responses will be the same."),
         decisions=("D81", "D165", "D177")),
    # settlement -----------------------------------------------------------------------------
    _req("SET-01", "settlement", "an accepted exchange appears and reaches a final status (past the default deadline: advisory)", FAIL,
         (EXCHANGE, "Exchange", "Success: HTTP 202"),
         decisions=("D72", "D78", "D79", "D74")),
    _req("SET-02", "settlement", "a failed exchange is reversed: the balance is as before the exchange", FAIL,
         (EXCHANGE, "Exchange", "In the event that an exchange transaction fails for any reason, qiibee will initiate a reversal for the failed exchange transaction."),
         decisions=("D75", "D76")),
    _req("SET-03", "settlement", "after settlement the balance moved by exactly what the history shows", FAIL,
         decisions=("D77", "D26")),
    # history --------------------------------------------------------------------------------
    _req("HIS-01", "history", "history newest first (rows sharing one inserted_at in any order)", FAIL,
         (EXCHANGE, "Transaction History", "The most recent transactions are returned first."),
         decisions=("D88",)),
    _req("HIS-02", "history", "limit default 100, never more than 100 rows; bad paging data → a 4xx (limit=0 may be an empty page)", FAIL,
         (EXCHANGE, "Transaction History", "Maximum: 100"),
         (EXCHANGE, "Transaction History", "Bad data: HTTP 404 with error message"),
         decisions=("D89", "D153", "D40")),
    _req("HIS-03", "history", "total_tx_count counts every matching row; past the end → empty, same count", FAIL,
         (EXCHANGE, "Transaction History", "total_tx_count is the total number of transactions available for the given params."),
         decisions=("D90",)),
    _req("HIS-04", "history", "walking the pages yields every row exactly once (ties in inserted_at: advisory)", FAIL,
         (EXCHANGE, "Transaction History", "The params, limit and offset, work exactly as they’re used in SQL."),
         decisions=("D91", "D92")),
    _req("HIS-05", "history", "user_auth_id lets through only that user's rows; no transactions → 200 with an empty list", FAIL,
         (EXCHANGE, "Transaction History", "Use this parameter to query transactions for a particular user of your brand."),
         decisions=("D93", "D95", "D96", "D157", "D173")),
    _req("HIS-06", "history", "types filter (a list) returns exactly the rows of those types", FAIL,
         (EXCHANGE, "Transaction History", "The events must be sent in a list."),
         decisions=("D93", "D158", "D85")),
    _req("HIS-07", "history", "token_id filter: every row involves the token", FAIL,
         (EXCHANGE, "Transaction History", "This will let you query the transactions for a specific token ID."),
         decisions=("D93", "D94")),
    _req("HIS-08", "history", "from_time inclusive on inserted_at (to_time inclusive: advisory)", FAIL,
         (EXCHANGE, "Transaction History", "queries for transactions that begin from the specified datetime"),
         decisions=("D93", "D48", "D49")),
    _req("HIS-09", "history", "a filtered walk over several pages: every page but the last full, total_tx_count rows in all", FAIL,
         (EXCHANGE, "Transaction History", "total_tx_count is the total number of transactions available for the given params."),
         (EXCHANGE, "Transaction History", "The params, limit and offset, work exactly as they’re used in SQL."),
         decisions=("D90", "D91", "D178")),
    # concurrency ----------------------------------------------------------------------------
    _req("CON-01", "concurrency", "a parallel burst of exchanges on one balance: no overdraw, every 202 once in the history", FAIL,
         decisions=("D80", "D161")),
    _req("CON-02", "concurrency", "parallel credits: none lost, none duplicated", FAIL,
         decisions=("D80", "D162")),
    _req("CON-03", "concurrency", "after a burst the balance reconciles with the history; distinct 202s are distinct transactions", FAIL,
         decisions=("D77",)),
    # schemathesis ---------------------------------------------------------------------------
    _req("SCH-01", "schema", "positive: statuses, content types and bodies match the spec", FAIL,
         decisions=("D145", "D146")),
    _req("SCH-02", "schema", "negative: input every reading calls invalid → 4xx, never 5xx", FAIL,
         decisions=("D16", "D145")),
    _req("SCH-03", "stateful", "stateful sequences through the spec's links behave as documented", FAIL,
         (USERS, "Create User", "Please save the auth_id and use it for all actions on a user's account."),
         decisions=("D150",)),
)

REQUIREMENTS: dict[str, Requirement] = {r.id: r for r in _ALL}


def in_group(group: str) -> list[Requirement]:
    """The requirements of one group, in catalogue order."""
    return [r for r in _ALL if r.group == group]

"""Catalogue of ``--fault`` names: each breaks exactly one documented rule.

The suite's own tests start the mock with one fault and assert that certification
fails naming the requirement id listed here.
"""

from __future__ import annotations

from collections.abc import Iterable

from qiibee_conformance.mock.errors import MockUsageError

# name -> (requirement id it breaks, one-line description)
FAULTS: dict[str, tuple[str, str]] = {
    "auth-missing-key-accepted": ("AUTH-01", "requests without X-API-KEY are served"),
    "auth-invalid-key-403": ("AUTH-02", "a wrong X-API-KEY gives 403 instead of 401"),
    "auth-empty-key-accepted": ("AUTH-02", "an empty X-API-KEY value is accepted"),
    "error-empty-body": ("ERR-01", "404 responses have an empty body"),
    "malformed-json-500": ("ERR-02", "malformed JSON bodies give 500"),
    "user-email-unvalidated": ("USR-04", "any email string is accepted on create"),
    "user-duplicate-auth-id": ("USR-05", "a duplicate auth_id creates a second user"),
    "user-auth-id-not-uuid4": ("USR-02", "generated auth_ids are UUID version 1"),
    "user-update-replaces": ("USR-07", "PUT/PATCH clear the fields not sent"),
    "user-update-ignores-email": ("USR-07", "PUT/PATCH keep the old email (validated, then ignored)"),
    "user-auth-id-mutable": ("USR-08", "PUT/PATCH change auth_id"),
    "user-update-upserts": ("USR-09", "updating an unknown user creates it"),
    "user-update-email-unvalidated": ("USR-10", "an invalid email on update is stored (still 400 on create)"),
    "users-oldest-first": ("USR-11", "the user list is oldest first"),
    "users-email-order": ("USR-11", "the user list is sorted by email, descending"),
    "users-unsorted-page": ("USR-11", "the most recent users, but each page sorted by email"),
    "users-limit-unbounded": ("USR-12", "the user list honours limit > 100"),
    "users-total-count-page": ("USR-13", "total_count is the page length"),
    "users-email-like-prefix-only": ("USR-14", "email_like matches only emails that start with it"),
    "membership-number-unvalidated": ("MEM-03", "any membership number is accepted"),
    "membership-update-unvalidated": ("MEM-03", "a membership is validated only when first created"),
    "membership-unknown-provider-accepted": ("MEM-04", "unknown providers are accepted on create"),
    "membership-keeps-first": ("MEM-05", "creating again keeps the old number"),
    "membership-provider-ignored": ("MEM-08", "GET one finds the user's membership of any provider"),
    "membership-delete-200": ("MEM-09", "DELETE returns 200 with a body"),
    "whitelist-filter-ignored": ("WL-02", "token_to_types is ignored"),
    "whitelist-unknown-type-all": ("WL-03", "an unknown token_to_types value is dropped: every pair listed"),
    "balances-unknown-user-200": ("BAL-01", "balances of an unknown user give 200"),
    "balances-digit-strings": ("BAL-01", 'balances are shown as digit strings ("120"), not numbers'),
    "debit-overdraw": ("BAL-03", "debit_points may take the balance below zero"),
    "credit-any-token": ("BAL-05", "credit/debit take any token id, even an unknown one"),
    "exchange-two-way": ("EXC-02", "the reverse of a one-way pair is allowed"),
    "exchange-rate-inverted": ("EXC-03", "rate = B.onramp / A.offramp"),
    "exchange-round-nearest": ("EXC-03", "received amount rounded to nearest, not floored"),
    "exchange-float-math": ("EXC-03", "received amount computed with binary floats"),
    "exchange-override-stored": ("EXC-04", "exchange_rate_override is stored for the pair"),
    "exchange-overdraw": ("EXC-05", "exchanges skip the balance check"),
    "exchange-exact-balance-refused": ("EXC-05", "an exchange of exactly the whole balance gives 400"),
    "exchange-decimal-amount": ("EXC-08", "decimal amounts are truncated (2.5 -> 2)"),
    "exchange-bool-amount": ("EXC-08", "amount true is read as 1"),
    "exchange-membership-override-stored": ("EXC-10", "brandB_membership_number replaces the saved one"),
    "nft-floor": ("NFT-01", "points burned for an NFT use floor, not ceil"),
    "nft-unknown-token-accepted": ("NFT-02", "an unknown to_token_id is redeemed as a whitelisted NFT"),
    "settlement-stuck": ("SET-01", "transactions never leave pending"),
    "settlement-no-reversal": ("SET-02", "failed exchanges do not return the points"),
    "history-oldest-first": ("HIS-01", "history is oldest first"),
    "history-limit-unbounded": ("HIS-02", "history honours limit > 100"),
    "history-total-page": ("HIS-03", "total_tx_count is the page length"),
    "history-offset-skip": ("HIS-04", "offset n > 0 skips n+1 rows"),
    "history-user-filter-ignored": ("HIS-05", "user_auth_id filter is ignored"),
    "history-empty-user-404": ("HIS-05", "a user with no transactions gives 404, not an empty list"),
    "history-types-ignored": ("HIS-06", "types filter is ignored"),
    "history-types-first-only": ("HIS-06", "only the first types value is applied"),
    "history-to-time-ignored": ("HIS-08", "to_time is ignored"),
    "history-token-filter-ignored": ("HIS-07", "token_id filter is ignored"),
    "history-from-time-exclusive": ("HIS-08", "from_time is exclusive"),
    "history-to-time-exclusive": ("HIS-08", "to_time excludes rows at exactly that time"),
    "race-overdraw": ("CON-01", "exchange check-then-debit without the lock"),
    "race-lost-credit": ("CON-02", "credits read-modify-write without the lock"),
    "exchange-override-needs-saved-membership": (
        "EXC-12", "brandB_membership_number is refused unless a membership is saved too"),
    "user-empty-auth-id-kept": ("USR-02", 'auth_id "" gets a sequential id (user-17), not a UUID v4'),
    "membership-list-unknown-user-200": ("MEM-02", "memberships of an unknown user give 200 []"),
    "user-update-ignores-second-name": ("USR-07", "PUT/PATCH keep the old second_name"),
    "whitelist-lists-inactive": ("WL-01", "the whitelist also lists a paused partnership"),
    "exchange-reverse-of-inbound-allowed": (
        "EXC-02", "brand -> X is allowed where only X -> brand is whitelisted"),
    "settlement-refund-row-only": (
        "SET-02", "a failed exchange is shown reversed but its points are not given back"),
    "race-merged-exchanges": (
        "CON-03", "exchanges of one user within 50 ms: both debited, one history row"),
    "history-filtered-short-pages": (
        "HIS-09", "with a filter, limit/offset apply before it: short pages, rows missed"),
    "stateful-deleted-membership-served": (
        "MEM-09", "GET of a membership still answers 200 after its DELETE gave 204"),
    "user-custom-auth-id-unreadable": (
        "SCH-03", "GET /users/:auth_id finds only UUID auth_ids: a user created with its own is not found"),
    "exchange-row-type-renamed": (
        "EXC-11", 'exchange history rows are typed "points_exchange" (and filtered by that name)'),
    "exchange-miles-without-membership-settles": (
        "EXC-09", "an exchange to miles with no membership and no override is accepted and succeeds"),
}


def validate_faults(names: Iterable[str]) -> frozenset[str]:
    """Return the names as a set, or raise MockUsageError naming the first unknown one."""
    chosen = frozenset(names)
    unknown = sorted(chosen - FAULTS.keys())
    if unknown:
        raise MockUsageError(f"unknown fault {unknown[0]!r} (see --list-faults)")
    return chosen


def describe_faults() -> str:
    """One line per fault, for ``--list-faults``."""
    width = max(len(n) for n in FAULTS)
    return "\n".join(f"{n:<{width}}  {rid:<7}  {d}" for n, (rid, d) in FAULTS.items())

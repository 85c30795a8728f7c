"""Catalogue of ``--variant`` names: each picks the other tolerated choice.

A conforming suite must pass against every variant; ``all-alternatives`` turns
them all on at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from qiibee_conformance.mock.errors import MockUsageError

ALL_ALTERNATIVES = "all-alternatives"

VARIANTS: dict[str, str] = {
    "string-token-ids": "token ids in responses are digit strings",
    "message-errors": '4xx bodies are {"message": m}; 400 bodies {"errors": {"detail": m}}',
    "empty-202": "POST /transactions answers 202 with an empty body",
    "zoned-times": "times carry microseconds and Z",
    "limit-400": "limit > 100 gives 400 instead of clamping",
    "auth-id-change-400": "a different auth_id on update gives 400 instead of being ignored",
    "unknown-history-user-404": "history for an unknown user_auth_id gives 404",
    "unknown-filter-400": "unknown types / token_to_types values give 400",
    "debit-at-settlement": "exchanges debit the balance when they settle",
    "no-pending-hold": "with debit-at-settlement, pending exchanges hold nothing back: "
    "a burst is accepted whole and its excess fails when it settles",
    "unknown-provider-404": "GET membership of an unknown provider gives 404",
    "credit-unknown-404": "credit/debit for an unknown user gives 404",
    "duplicate-email-400": "a duplicate email on create gives 400",
    "extra-fields": "undocumented fields on every object",
    "token-filter-both": "history token_id matches token or token_to",
    "lists-repeat-only": "list filters only as types=a&types=b (types[]=a is ignored)",
    "literal-reading": "the documents word for word: bad paging/time 404, limit=0 an empty page, "
    "case-sensitive email_like, PUT replaces (email required), membership re-create 200, "
    '{"user": u} on create/update, statuses processing/reversed '
    "(limit > 100 and unknown filter values stay with limit-400 / unknown-filter-400)",
    "busy-service": "a shared sandbox: 429 per API key (token bucket) and 1 request in 200 gets 503, "
    "both with Retry-After: 1; 50 brand points sign-up bonus (a credit_points row); "
    "an exchange receiving 0 gives 400",
}


def validate_variants(names: Iterable[str]) -> frozenset[str]:
    """Return the names as a set (expanding all-alternatives), or raise MockUsageError."""
    chosen = set(names)
    if ALL_ALTERNATIVES in chosen:
        chosen.discard(ALL_ALTERNATIVES)
        chosen |= VARIANTS.keys()
    unknown = sorted(chosen - VARIANTS.keys())
    if unknown:
        raise MockUsageError(f"unknown variant {unknown[0]!r} (see --list-faults)")
    return frozenset(chosen)


def describe_variants() -> str:
    """One line per variant, for ``--list-faults``."""
    width = max(len(n) for n in [*VARIANTS, ALL_ALTERNATIVES])
    lines = [f"{n:<{width}}  {d}" for n, d in VARIANTS.items()]
    lines.append(f"{ALL_ALTERNATIVES:<{width}}  every variant above")
    return "\n".join(lines)

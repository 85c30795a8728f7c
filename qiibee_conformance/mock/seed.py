"""Optional seed data: faker users (``--seed-users``) and a bulk history (``--seed-history``).

Seeding only runs on a fresh database. The history is internally consistent:
every user's stored balances equal what its seeded rows add up to.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from qiibee_conformance.mock.catalogue import BRAND_TOKEN_ID, PAIR_INDEX, TOKENS
from qiibee_conformance.mock.rates import exact, received
from qiibee_conformance.mock.store import Store, now_us
from qiibee_conformance.mock.users import new_user_id

HISTORY_USERS = 50
SECOND = 1_000_000


def _fake_users(count: int, rng: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    from faker import Faker

    fake = Faker()
    fake.seed_instance(rng.randrange(2**32))
    out = []
    for i in range(count):
        first, last = fake.first_name(), fake.last_name()
        fields = {
            "email": f"{first}.{last}.{i}@example.com".lower(),
            "first_name": first,
            "second_name": last,
            "language": rng.choice(["en", "it", "de", "fr"]),
            "country_iso": rng.choice(["usa", "ita", "deu", "fra", "che"]),
            "metadata": '{"opts_newsletter":true}' if rng.random() < 0.5 else None,
        }
        out.append((new_user_id(), str(uuid.UUID(int=rng.getrandbits(128), version=4)), fields))
    return out


def seed_users(store: Store, count: int, seed: int = 7) -> list[int]:
    """Create ``count`` faker users; returns their pks."""
    if count <= 0:
        return []
    return store.insert_users_bulk(_fake_users(count, random.Random(seed)))


def seed_history(store: Store, count: int, user_pks: list[int], seed: int = 11) -> None:
    """Insert ``count`` settled rows (credits, debits, exchanges), one second apart, ending now."""
    if count <= 0:
        return
    rng = random.Random(seed)
    if not user_pks:
        user_pks = seed_users(store, HISTORY_USERS, seed)
    rate_202 = exact(TOKENS[BRAND_TOKEN_ID].offramp or "0") / exact(TOKENS[202].onramp or "1")
    assert (BRAND_TOKEN_ID, 202) in PAIR_INDEX
    balances: dict[tuple[int, int], int] = {}
    start = now_us() - (count + 1) * SECOND
    rows: list[tuple[Any, ...]] = []
    for i in range(count):
        pk = user_pks[i % len(user_pks)]
        at = start + i * SECOND
        own = balances.get((pk, BRAND_TOKEN_ID), 0)
        roll = rng.random()
        if own < 100 or roll < 0.3:
            amt = rng.randrange(100, 1000)
            balances[(pk, BRAND_TOKEN_ID)] = own + amt
            rows.append(("credit_points", "success", pk, BRAND_TOKEN_ID, None, amt, str(amt), None, at))
        elif roll < 0.45:
            amt = rng.randrange(1, 50)
            balances[(pk, BRAND_TOKEN_ID)] = own - amt
            rows.append(("debit_points", "success", pk, BRAND_TOKEN_ID, None, amt, None, None, at))
        else:
            amt = rng.randrange(1, 60)
            got = received(amt, rate_202)
            balances[(pk, BRAND_TOKEN_ID)] = own - amt
            balances[(pk, 202)] = balances.get((pk, 202), 0) + got
            rows.append(("exchange", "success", pk, BRAND_TOKEN_ID, 202, amt, str(got), None, at))
    store.insert_tx_bulk(rows)
    with store.transaction():
        for (pk, tid), value in balances.items():
            store.add_balance(pk, tid, value)
